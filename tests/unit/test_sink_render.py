"""Rendering within a budget: title, summary and link always kept; sections by priority."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.messages import Fact, Message, MessageSection
from service.notify.sinks.render import LINE_CHARS, Style, render, render_section, utf16_len

STYLES: tuple[Style, ...] = get_args(Style)
URL = "http://responder.test/incidents/inc-1"


def _message(sections: list[MessageSection], *, facts: int = 3,
             summary: str = "summary") -> Message:
    return Message(incident_id="inc-1", event="evidence", key="k", title="Title <&>",
                   summary=summary, incident_url=URL,
                   facts=[Fact(name=f"fact{i}", value=f"value {i}") for i in range(facts)],
                   sections=sections, created_at=datetime(2026, 2, 26, tzinfo=UTC))


def _sections(count: int, lines: int, width: int = 80) -> list[MessageSection]:
    return [MessageSection(title=f"section-{p}", priority=p, code=p % 2 == 1,
                           lines=[f"p{p} line {n} " + "y" * width for n in range(lines)])
            for p in range(count)]


@settings(max_examples=60, deadline=None)
@given(limit=st.integers(min_value=150, max_value=70000), count=st.integers(0, 12),
       lines=st.integers(0, 300), style=st.sampled_from(STYLES))
def test_never_over_the_limit_and_always_title_summary_link(limit: int, count: int, lines: int,
                                                             style: Style) -> None:
    text = render(_message(_sections(count, lines)), limit=limit, style=style, measure=utf16_len)
    assert utf16_len(text) <= limit
    assert "Title" in text and "summary" in text and URL in text


def test_lowest_priority_sections_go_first() -> None:
    text = render(_message(_sections(6, 10)), limit=3000)
    assert "section-0" in text and "section-1" in text
    assert "section-5" not in text
    assert "left out: the full evidence is on the incident page" in text
    assert text.index("section-0") < text.index("section-1")


def test_a_section_too_big_is_cut_with_a_note() -> None:
    text = render(_message(_sections(1, 500)), limit=4000)
    assert "p0 line 0 " in text and "more line(s) left out" in text
    assert "(1 section(s) shortened, 0 left out" in text


def test_everything_fits_with_room_to_spare() -> None:
    text = render(_message(_sections(3, 2)), limit=10000)
    assert "left out" not in text and text.endswith(f"Open the incident: {URL}")


def test_long_lines_are_shortened() -> None:
    section = MessageSection(title="t", lines=["z" * 5000])
    text = render_section(section, "plain", limit=10000)
    assert text is not None
    assert max(len(line) for line in text.splitlines()) == LINE_CHARS
    assert text.endswith("…")


@pytest.mark.parametrize("style", STYLES)
def test_markup_is_escaped_per_style(style: Style) -> None:
    section = MessageSection(title="log", lines=["<b>&</b> ``` fence"], code=True)
    text = render(_message([section]), limit=4000, style=style)
    if style == "html":
        assert "&lt;b&gt;&amp;&lt;/b&gt;" in text and "<pre>" in text and "</pre>" in text
        assert f'<a href="{URL}">' in text
    elif style == "slack":
        assert "&lt;b&gt;&amp;" in text and f"<{URL}|Open the incident>" in text
        assert text.count("```") == 2  # the one in the log cannot close the block
    elif style == "markdown":
        assert text.startswith("### Title") and f"]({URL})" in text
        assert text.count("```") == 2
    else:
        assert "<b>&</b>" in text


def test_a_tiny_budget_still_keeps_the_link() -> None:
    text = render(_message(_sections(3, 3), summary="s" * 500), limit=120)
    assert URL in text and len(text) <= 120


def test_telegram_counts_utf16_units() -> None:
    section = MessageSection(title="emoji", lines=["🔥" * 100] * 100)
    text = render(_message([section]), limit=1000, style="html", measure=utf16_len)
    assert utf16_len(text) <= 1000 < utf16_len(text) + text.count("🔥")
