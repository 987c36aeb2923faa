"""Rendering a ``Message`` as text within a size budget.

Purpose: every sink shows the same message on a medium with its own limit (Telegram 4096
characters, a Slack section 3000, a GitHub comment 65536, a PagerDuty summary 1024). The title,
the summary and the incident link are always kept; facts come next; sections follow by
priority (lower number first) and the least important are cut, then dropped, first. Long lines
lose words from their middle, never part of a value. A note says what was left out, since the
full evidence is behind the link.
Boundary: pure string work, no I/O. Styles: ``plain``, ``markdown`` (GitHub), ``html``
(Telegram's HTML parse mode) and ``slack`` (Slack mrkdwn, which Mattermost also reads).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator, Sequence
from typing import Literal

from service.domain.brevity import ELLIPSIS, abridge
from service.domain.messages import Fact, Message, MessageSection

Style = Literal["plain", "markdown", "html", "slack"]
Measure = Callable[[str], int]

LINE_CHARS = 300
TITLE_CHARS = 200
SUMMARY_CHARS = 1000


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram (and JavaScript) count characters."""
    return len(text.encode("utf-16-le")) // 2


def shorten(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, words dropped from its middle at whitespace:
    a run id, a digest or a URL is shown whole or not at all (``brevity.abridge``)."""
    return abridge(text, limit)


def escape(text: str, style: Style) -> str:
    """Text made literal for ``style`` (HTML entities; Slack's &, <, >)."""
    if style == "html":
        return html.escape(text, quote=False)
    if style == "slack":
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if style == "markdown":
        return text.replace("<!--", "&lt;!--")
    return text


def bold(text: str, style: Style) -> str:
    body = escape(text, style)
    return {"plain": body, "markdown": f"**{body}**", "html": f"<b>{body}</b>",
            "slack": f"*{body}*"}[style]


def link(url: str, label: str, style: Style) -> str:
    if style == "html":
        return f'<a href="{html.escape(url, quote=True)}">{escape(label, style)}</a>'
    if style == "markdown":
        return f"[{escape(label, style)}]({url})"
    if style == "slack":
        return f"<{url}|{escape(label, style)}>"
    return f"{label}: {url}"


def render_facts(facts: Sequence[Fact], style: Style, line_chars: int = LINE_CHARS) -> list[str]:
    """One line per fact: ``Name: value``."""
    prefix = "- " if style == "markdown" else ""
    return [f"{prefix}{bold(f.name + ':', style)} {escape(shorten(f.value, line_chars), style)}"
            for f in facts]


def _prepare(section: MessageSection, style: Style, line_chars: int) -> Iterator[str]:
    """The section's lines shortened and escaped for ``style``, each as it will appear."""
    fence = section.code and style in ("markdown", "slack")
    for line in section.lines:
        short = shorten(line, line_chars)
        yield escape(short.replace("```", "'''") if fence else short, style)


def _frame(section: MessageSection, style: Style, more: int) -> tuple[str, str]:
    """What comes before the section's lines and after them."""
    head = (f"#### {escape(section.title, style)}" if style == "markdown"
            else bold(section.title, style))
    tail = f"\n{escape(f'{ELLIPSIS} {more} more line(s) left out', style)}" if more else ""
    if section.code and section.lines and style == "html":
        return f"{head}\n<pre>", f"</pre>{tail}"
    if section.code and section.lines and style in ("markdown", "slack"):
        return f"{head}\n```\n", f"\n```{tail}"
    return f"{head}\n" if section.lines else head, tail


def render_section(section: MessageSection, style: Style, *, limit: int,
                   line_chars: int = LINE_CHARS, measure: Measure = len) -> str | None:
    """The section within ``limit``: whole, or its first lines with a note; None if not even
    its title and one line fit. Work is bounded by ``limit``, not by the section's size."""
    fitted = fit_section(section, style, limit=limit, line_chars=line_chars, measure=measure)
    return fitted[0] if fitted else None


def fit_section(section: MessageSection, style: Style, *, limit: int,
                line_chars: int = LINE_CHARS,
                measure: Measure = len) -> tuple[str, bool] | None:
    """``render_section`` and whether lines were left out."""
    total = len(section.lines)
    head, tail = _frame(section, style, 0)
    kept: list[str] = []
    size = measure(head) + measure(tail)
    if size > limit:
        return None
    for line in _prepare(section, style, line_chars):
        size += measure(line) + (1 if kept else 0)
        if size > limit:
            break
        kept.append(line)
    if len(kept) == total:
        return head + "\n".join(kept) + tail, False
    # Cut: drop lines until the "N more left out" note fits too.
    while kept:
        head, tail = _frame(section, style, total - len(kept))
        text = head + "\n".join(kept) + tail
        if measure(text) <= limit:
            return text, True
        kept.pop()
    return None


def by_priority(sections: Sequence[MessageSection]) -> list[MessageSection]:
    """Most important first; equal priorities keep their order."""
    return sorted(sections, key=lambda s: s.priority)


def render(message: Message, *, limit: int, style: Style = "plain",
           line_chars: int = LINE_CHARS, measure: Measure = len,
           link_label: str = "Open the incident") -> str:
    """The whole message as one text of at most ``limit`` (by ``measure``)."""
    title = bold(shorten(message.title, TITLE_CHARS), style)
    if style == "markdown":
        title = f"### {escape(shorten(message.title, TITLE_CHARS), style)}"
    footer = link(message.incident_url, link_label, style)
    summary = shorten(message.summary, SUMMARY_CHARS)
    head = f"{title}\n{escape(summary, style)}"
    room = limit - measure(head) - measure(footer) - 2
    if room < 0:  # a tiny budget: cut the summary, then the title, never the link
        head = f"{title}\n{escape(shorten(summary, max(0, len(summary) + room)), style)}"
        room = limit - measure(head) - measure(footer) - 2
        if room < 0:
            return shorten(footer, limit) if measure(footer) >= limit else footer
    note_room = 100  # for the "left out" note
    parts = [head]
    fact_lines = []
    for line in render_facts(message.facts, style, line_chars):
        if measure(line) + 1 <= room - note_room:
            fact_lines.append(line)
            room -= measure(line) + 1
    if fact_lines:
        parts.append("\n".join(fact_lines))
        room -= 1
    dropped = 0
    cut = 0
    for section in by_priority(message.sections):
        fitted = fit_section(section, style, limit=room - note_room - 2,
                             line_chars=line_chars, measure=measure)
        if fitted is None:
            dropped += 1
            continue
        text, was_cut = fitted
        cut += was_cut
        parts.append(text)
        room -= measure(text) + 2
    body = "\n\n".join(parts)
    if dropped or cut:
        note = escape(f"({cut} section(s) shortened, {dropped} left out: "
                      "the full evidence is on the incident page)", style)
        if measure(body) + measure(note) + measure(footer) + 4 <= limit:
            body = f"{body}\n\n{note}"
    return f"{body}\n\n{footer}"
