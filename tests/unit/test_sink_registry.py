"""Sinks from settings, routing by event and audience, the backoff, and payload details."""

from __future__ import annotations

import random

import aiohttp
import pytest

from service.domain.envelope import compose_event
from service.notify.outbox import OutboxPolicy, backoff_s
from service.notify.routing import SinkRegistry, hears
from service.notify.sinks.console import ConsoleSink
from service.notify.sinks.github import GithubSink
from service.notify.sinks.pagerduty import PagerDutySink, payload_of
from service.notify.sinks.slack import SlackSink
from service.notify.sinks.telegram import TelegramSink
from service.notify.sinks.telegram import payload_of as telegram_payload
from service.notify.sinks.webhook import WebhookSink
from tests.adapters.fakes import bundles
from tests.adapters.fakes.harness import http_of
from tests.adapters.fakes.harness import sink_settings as _s

SETTINGS = {
    "hook": _s(type="webhook", url="http://h/hook"),
    "chat": _s(type="slack", url="https://hooks.slack.com/services/T/B/X",
               events=["evidence", "escalated"], audience="oncall"),
    "tg": _s(type="telegram", token="1:AA", chat_id="-1", events=["escalated"],
             audience="owner"),
    "gh": _s(type="github", token="ghp_x", repo="o/r", events=["evidence", "resolved"]),
    "pd": _s(type="pagerduty", token="rk", events=["opened", "escalated", "resolved"]),
    "out": _s(type="console", events=["opened"]),
}


async def test_builds_every_type_from_settings() -> None:
    async with aiohttp.ClientSession() as session:
        registry = SinkRegistry.from_settings(SETTINGS, http_of(session))
    kinds = {name: type(registry.get(name)) for name in registry.names}
    assert kinds == {"hook": WebhookSink, "chat": SlackSink, "tg": TelegramSink,
                     "gh": GithubSink, "pd": PagerDutySink, "out": ConsoleSink}
    assert {registry.get(n).type for n in registry.names} == {  # type: ignore[union-attr]
        "webhook", "slack", "telegram", "github", "pagerduty", "console"}
    assert set(registry.secrets()) == {"1:AA", "ghp_x", "rk",
                                       "https://hooks.slack.com/services/T/B/X"}


async def test_routes_by_event_and_audience() -> None:
    async with aiohttp.ClientSession() as session:
        registry = SinkRegistry.from_settings(SETTINGS, http_of(session))
    assert registry.sinks_for("opened") == ["hook", "pd", "out"]
    assert registry.sinks_for("evidence", "oncall") == ["hook", "chat", "gh"]
    assert registry.sinks_for("escalated", "owner") == ["hook", "tg", "pd"]
    assert registry.sinks_for("escalated", "all") == ["hook", "chat", "tg", "pd"]
    assert registry.sinks_for("mitigated") == ["hook"]


def test_audience_rule() -> None:
    owner = _s(type="console", audience="owner")
    assert hears(owner, "opened", "owner") and hears(owner, "opened", "all")
    assert not hears(owner, "opened", "oncall")


@pytest.mark.parametrize("attempt", range(1, 12))
def test_backoff_grows_with_jitter_and_a_cap(attempt: int) -> None:
    policy = OutboxPolicy(backoff_initial_s=10, backoff_max_s=300)
    base = min(300, 10 * 2 ** (attempt - 1))
    rng = random.Random(attempt)
    waits = [backoff_s(attempt, policy, rng) for _ in range(50)]
    assert all(base / 2 <= w <= base for w in waits)
    assert len(set(waits)) > 1


def test_pagerduty_severity_and_actions() -> None:
    incident = bundles.incident()
    def event(name: str, severity: str) -> dict[str, object]:
        return payload_of(compose_event(incident, event=name, key=name,  # type: ignore[arg-type]
                                        title="t", summary="s", severity=severity,  # type: ignore[arg-type]
                                        public_url="http://r"), "rk")
    assert event("opened", "warning")["payload"]["severity"] == "warning"  # type: ignore[index]
    assert event("escalated", "warning")["payload"]["severity"] == "critical"  # type: ignore[index]
    assert event("mitigated", "info")["payload"]["severity"] == "info"  # type: ignore[index]
    assert event("resolved", "info")["event_action"] == "resolve"


def test_telegram_plain_mode_has_no_parse_mode() -> None:
    message = compose_event(bundles.incident(), event="opened", key="o", title="<t>",
                            summary="s", public_url="http://r")
    body = telegram_payload(message, "-1", None)
    assert "parse_mode" not in body and body["text"].startswith("<t>")
    assert telegram_payload(message, "-1")["text"].startswith("<b>&lt;t&gt;</b>")


async def test_console_prints_the_rendered_message() -> None:
    import io

    from tests.adapters.fakes.harness import delivery_of, evidence_message

    stream = io.StringIO()
    message = evidence_message(bundles.incident())
    await ConsoleSink("out", stream).send(delivery_of(message, "out"))
    text = stream.getvalue()
    assert f"[out] evidence {message.incident_id}" in text
    assert message.title in text and message.incident_url in text
