"""The outbox worker on a real SqliteStore against the fake APIs: routing, retries on the
injected clock, Retry-After, permanent failures made visible, and no token in any payload."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from structlog.testing import capture_logs

from service.domain.envelope import compose_event
from service.domain.messages import MessageSection
from service.notify.outbox import OutboxPolicy
from service.runtime.clock import ManualClock
from tests.adapters.fakes import bundles
from tests.adapters.fakes.github import FakeGithub
from tests.adapters.fakes.harness import (
    FAST,
    PUBLIC_URL,
    deliveries,
    evidence_message,
    open_incident,
    outbox,
    serving,
    sink_settings,
)
from tests.adapters.fakes.pagerduty import FakePagerDuty
from tests.adapters.fakes.slack import FakeSlack
from tests.adapters.fakes.telegram import FakeTelegram
from tests.adapters.fakes.webhook import FakeWebhook

TG_TOKEN = "123456789:AAH-outbox-token-for-tests_0123456789"
GH_TOKEN = "ghp_" + "O" * 36
PD_KEY = "PDROUTINGKEY0123456789abcdefXYZ"


async def test_messages_are_routed_by_event_and_delivered(tmp_path: Path,
                                                          clock: ManualClock) -> None:
    slack, pd, hook = FakeSlack(), FakePagerDuty({PD_KEY}), FakeWebhook()
    async with serving(slack, pd, hook):
        sinks = {"chat": sink_settings(type="slack", url=slack.hook_url, events=["evidence"]),
                 "pager": sink_settings(type="pagerduty", url=pd.url, token=PD_KEY,
                                        events=["opened", "resolved"]),
                 "hook": sink_settings(type="webhook", url=hook.hook_url)}
        async with outbox(tmp_path / "o.db", sinks, clock) as box:
            incident = await open_incident(box.store, clock.now())
            routed = await box.queue(evidence_message(incident), clock.now())
            assert sorted(routed) == ["chat", "hook"]
            assert await box.worker.drain_once() == 2
            assert await box.statuses(incident.id) == ["delivered", "delivered"]
            assert sorted(box.outcomes) == [("chat", "delivered"), ("hook", "delivered")]
            # The same key again is a no-op: nothing new is queued or sent.
            await box.queue(evidence_message(incident), clock.now())
            assert len(await deliveries(box.store, incident.id)) == 2
            assert await box.worker.drain_once() == 0
    assert len(slack.messages) == 1 and len(hook.deliveries) == 1 and pd.events == []


async def test_a_brief_5xx_is_ridden_out_inline(tmp_path: Path, clock: ManualClock) -> None:
    slack = FakeSlack()
    slack.fail_next(2, 503)
    policy = OutboxPolicy(inline_attempts=3, inline_initial_s=0.01, inline_max_wait_s=0.02)
    async with serving(slack):
        sinks = {"chat": sink_settings(type="slack", url=slack.hook_url)}
        async with outbox(tmp_path / "o.db", sinks, clock, policy=policy) as box:
            incident = await open_incident(box.store, clock.now())
            await box.queue(evidence_message(incident), clock.now())
            drain = asyncio.create_task(box.worker.drain_once())
            for _ in range(2):  # each inline retry waits on the clock: move it on then
                clock.advance_to(await clock.sleeping())
            await drain
            assert await box.statuses(incident.id) == ["delivered"]
    assert len(slack.received) == 3 and len(slack.messages) == 1


async def test_retry_after_sets_the_next_attempt(tmp_path: Path, clock: ManualClock) -> None:
    slack, tg = FakeSlack(), FakeTelegram(TG_TOKEN, {"-1001"})
    slack.fail_next(1, 429, retry_after="30")
    tg.fail_next(1, 429)  # parameters.retry_after = 1 in the body
    async with serving(slack, tg):
        sinks = {"chat": sink_settings(type="slack", url=slack.hook_url),
                 "tg": sink_settings(type="telegram", url=tg.url, token=TG_TOKEN,
                                     chat_id="-1001")}
        async with outbox(tmp_path / "o.db", sinks, clock) as box:
            incident = await open_incident(box.store, clock.now())
            start = clock.now()
            await box.queue(evidence_message(incident), clock.now())
            await box.worker.drain_once()
            chat, telegram = await deliveries(box.store, incident.id)
            assert (chat.status, telegram.status) == ("pending", "pending")
            assert chat.next_attempt_at == start + timedelta(seconds=30)
            assert telegram.next_attempt_at == start + timedelta(seconds=1)
            assert chat.last_error is not None and "429" in chat.last_error
            clock.advance(1)
            assert await box.worker.drain_once() == 1  # telegram only
            clock.advance(28)
            assert await box.worker.drain_once() == 0  # slack still waits
            clock.advance(1)
            assert await box.worker.drain_once() == 1
            assert await box.statuses(incident.id) == ["delivered", "delivered"]
    assert len(slack.messages) == 1 and len(tg.messages) == 1


async def test_a_400_fails_for_good_and_is_visible(tmp_path: Path, clock: ManualClock) -> None:
    slack = FakeSlack()
    slack.fail_next(1, 400)
    async with serving(slack):
        sinks = {"chat": sink_settings(type="slack", url=slack.hook_url)}
        async with outbox(tmp_path / "o.db", sinks, clock) as box:
            incident = await open_incident(box.store, clock.now())
            await box.queue(evidence_message(incident), clock.now())
            await box.worker.drain_once()
            clock.advance(3600)
            assert await box.worker.drain_once() == 0  # never retried
            stored = await box.store.get_incident(incident.id)
            assert stored is not None
            (delivery,) = stored.deliveries
            assert delivery.status == "failed"
            assert delivery.last_error is not None and "invalid_payload" in delivery.last_error
            assert slack.hook_url not in delivery.last_error
            assert box.outcomes == [("chat", "failed")]
            assert [d.status for d in await deliveries(box.store)] == ["failed"]


async def test_an_outage_longer_than_max_attempts_gives_up(tmp_path: Path,
                                                           clock: ManualClock) -> None:
    hook = FakeWebhook()
    async with serving(hook):
        await hook.down()
        sinks = {"hook": sink_settings(type="webhook", url=hook.hook_url, max_attempts=3)}
        async with outbox(tmp_path / "o.db", sinks, clock) as box:
            incident = await open_incident(box.store, clock.now())
            await box.queue(evidence_message(incident), clock.now())
            await box.settle(clock, step_s=FAST.backoff_max_s)
            (delivery,) = await deliveries(box.store, incident.id)
    assert delivery.status == "failed" and delivery.attempts == 3
    assert delivery.last_error is not None
    assert delivery.last_error.startswith("gave up after 3 attempts")
    assert box.outcomes == [("hook", "retry"), ("hook", "retry"), ("hook", "failed")]


async def test_a_delivery_for_a_sink_no_longer_configured_fails(tmp_path: Path,
                                                                clock: ManualClock) -> None:
    async with outbox(tmp_path / "o.db", {}, clock) as box:
        incident = await open_incident(box.store, clock.now())
        await box.store.enqueue(evidence_message(incident), ["gone"], clock.now())
        await box.worker.drain_once()
        (delivery,) = await deliveries(box.store, incident.id)
    assert delivery.status == "failed" and delivery.last_error == "sink gone is not configured"


async def test_run_wakes_when_a_message_is_queued(tmp_path: Path, clock: ManualClock) -> None:
    hook = FakeWebhook()
    async with serving(hook):
        sinks = {"hook": sink_settings(type="webhook", url=hook.hook_url)}
        async with outbox(tmp_path / "o.db", sinks, clock) as box:
            incident = await open_incident(box.store, clock.now())
            task = asyncio.create_task(box.worker.run())
            try:
                await clock.sleeping()  # idle: nothing was due
                await box.queue(evidence_message(incident), clock.now())
                # The clock never moves: only the wake-up can send it.
                assert await box.recorded.get() == ("hook", "delivered")
                assert await box.statuses(incident.id) == ["delivered"]
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    assert len(hook.deliveries) == 1


async def test_no_token_reaches_any_sink_the_store_or_the_logs(tmp_path: Path,
                                                               clock: ManualClock) -> None:
    slack, tg = FakeSlack(), FakeTelegram(TG_TOKEN, {"-1001"})
    gh, pd, hook = FakeGithub(GH_TOKEN, "codex-k8s/platform", {205}), FakePagerDuty({PD_KEY}), \
        FakeWebhook()
    tg.fail_next(1, 502)
    async with serving(slack, tg, gh, pd, hook):
        sinks = {"chat": sink_settings(type="slack", url=slack.hook_url),
                 "tg": sink_settings(type="telegram", url=tg.url, token=TG_TOKEN,
                                     chat_id="-1001"),
                 "gh": sink_settings(type="github", url=gh.url, token=GH_TOKEN,
                                     repo="codex-k8s/platform"),
                 "pager": sink_settings(type="pagerduty", url=pd.url, token=PD_KEY),
                 "hook": sink_settings(type="webhook", url=hook.hook_url)}
        with capture_logs() as logs:
            async with outbox(tmp_path / "o.db", sinks, clock) as box:
                incident = await open_incident(box.store, clock.now())
                # Straight from a leaky source: a title, a fact and a section carry tokens.
                leaky = compose_event(
                    incident, event="escalated", key="esc-1",
                    title=f"escalated {bundles.GHP}", summary=bundles.SECRET_LINES[1],
                    sections=[MessageSection(title="raw", lines=bundles.SECRET_LINES,
                                             code=True)],
                    public_url=PUBLIC_URL)
                await box.queue(leaky, clock.now())
                await box.queue(evidence_message(incident, secrets=True), clock.now())
                await box.settle(clock)
                stored = await deliveries(box.store, incident.id)
    assert {d.status for d in stored} == {"delivered"} and len(stored) == 10
    payloads = [r.text for fake in (slack, tg, gh, pd, hook) for r in fake.received]
    assert len(payloads) == 11  # one telegram retry
    for secret in bundles.TOKENS:
        for text in payloads:
            assert secret not in text
        assert all(secret not in d.model_dump_json() for d in stored)
    logged = repr(logs)
    for secret in (*bundles.TOKENS, TG_TOKEN, GH_TOKEN, PD_KEY, slack.hook_url):
        assert secret not in logged
    assert any(e["event"] == "delivery_retry_scheduled" and e["sink"] == "tg" for e in logs)


async def test_a_newer_message_does_not_overtake_one_waiting_for_the_sink(
        tmp_path: Path, clock: ManualClock) -> None:
    slack = FakeSlack()
    slack.fail_next(1, 503)
    async with serving(slack):
        sinks = {"chat": sink_settings(type="slack", url=slack.hook_url)}
        async with outbox(tmp_path / "o.db", sinks, clock) as box:
            incident = await open_incident(box.store, clock.now())
            first = compose_event(incident, event="opened", key="opened", title="first",
                                  summary="s", public_url=PUBLIC_URL)
            second = compose_event(incident, event="mitigated", key="mitigated",
                                   title="second", summary="s", public_url=PUBLIC_URL)
            await box.queue(first, clock.now())
            await box.worker.drain_once()  # 503: waits for the backoff
            await box.queue(second, clock.now())
            await box.worker.drain_once()  # the sink is healthy again, but backing off
            assert slack.messages == []
            await box.settle(clock)
    assert [m["text"].splitlines()[0] for m in slack.messages] == ["*first*", "*second*"]


class _BrokenSink:
    """A sink with a bug that quotes its secret URL in the exception."""

    name = "broken"
    type = "webhook"

    async def send(self, delivery: object) -> None:
        raise RuntimeError(f"boom at https://api.telegram.org/bot{TG_TOKEN}/sendMessage")


async def test_a_sink_bug_is_retried_and_logged_without_secrets(tmp_path: Path,
                                                                clock: ManualClock) -> None:
    from service.notify.outbox import OutboxWorker
    from service.notify.routing import SinkRegistry
    from tests.adapters.fakes.harness import open_store

    store = await open_store(tmp_path / "o.db")
    try:
        registry = SinkRegistry({"broken": _BrokenSink()},
                                {"broken": sink_settings(type="console")})
        worker = OutboxWorker(store, registry, clock, policy=FAST)
        incident = await open_incident(store, clock.now())
        await store.enqueue(evidence_message(incident), ["broken"], clock.now())
        with capture_logs() as logs:
            assert await worker.drain_once() == 1
        (delivery,) = await deliveries(store, incident.id)
    finally:
        await store.close()
    assert delivery.status == "pending" and delivery.last_error == "RuntimeError in sink"
    (crash,) = [e for e in logs if e["event"] == "delivery_crashed"]
    assert "RuntimeError: boom" in crash["traceback"] and TG_TOKEN not in crash["traceback"]
