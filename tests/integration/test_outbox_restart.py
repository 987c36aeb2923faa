"""The outbox across a restart of the service: nothing lost in a sink outage, nothing twice.

The "service" is the real SqliteStore on a file plus an ``OutboxWorker``; a restart closes
both and opens new ones on the same file. Time is a ``ManualClock``.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp

from service.config.settings import SinkSettings
from service.domain.envelope import compose_event
from service.notify.routing import build_sink
from service.notify.sinks.github import marker
from service.runtime.clock import ManualClock
from tests.adapters.fakes.github import FakeGithub
from tests.adapters.fakes.harness import (
    PUBLIC_URL,
    deliveries,
    evidence_message,
    http_of,
    open_incident,
    open_store,
    outbox,
    serving,
    sink_settings,
)
from tests.adapters.fakes.slack import FakeSlack
from tests.adapters.fakes.webhook import FakeWebhook

GH_TOKEN = "ghp_" + "R" * 36
REPO = "codex-k8s/platform"


def _sinks(slack: FakeSlack, gh: FakeGithub, hook: FakeWebhook) -> dict[str, SinkSettings]:
    return {"chat": sink_settings(type="slack", url=slack.hook_url),
            "gh": sink_settings(type="github", url=gh.url, token=GH_TOKEN, repo=REPO),
            "hook": sink_settings(type="webhook", url=hook.hook_url)}


async def test_restart_in_the_middle_of_an_outage_delivers_each_message_once(
        tmp_path: Path, clock: ManualClock) -> None:
    slack, gh, hook = FakeSlack(), FakeGithub(GH_TOKEN, REPO, {205}), FakeWebhook()
    db = tmp_path / "responder.db"
    async with serving(slack, gh, hook):
        sinks = _sinks(slack, gh, hook)
        for fake in (slack, gh, hook):
            await fake.down()
        async with outbox(db, sinks, clock) as box:
            incident = await open_incident(box.store, clock.now())
            messages = [
                compose_event(incident, event="opened", key="opened", title="opened",
                              summary="incident opened", public_url=PUBLIC_URL),
                evidence_message(incident, key="evidence-1"),
                compose_event(incident, event="mitigated", key="mitigated", title="cache off",
                              summary="kill switch set", public_url=PUBLIC_URL),
            ]
            for message in messages:
                await box.queue(message, clock.now())
            await box.worker.drain_once()
            clock.advance(120)
            await box.worker.drain_once()  # still down: a second attempt each
            assert set(await box.statuses(incident.id)) == {"pending"}
        # -- restart: a new store and worker on the same file; the sinks come back --------
        for fake in (slack, gh, hook):
            await fake.up()
        clock.advance(600)
        async with outbox(db, sinks, clock) as box:
            await box.settle(clock)
            stored = await deliveries(box.store, incident.id)
    assert len(stored) == 9 and {d.status for d in stored} == {"delivered"}
    assert all(d.attempts == 3 for d in stored)
    assert [m["text"].splitlines()[0] for m in slack.messages] == [
        f"*{m.title}*" for m in messages]
    assert len(gh.comments[205]) == 3
    assert sorted(hook.keys) == sorted(f"{incident.id}:{m.key}" for m in messages)


async def test_a_crash_between_send_and_record_does_not_duplicate(
        tmp_path: Path, clock: ManualClock) -> None:
    gh, hook = FakeGithub(GH_TOKEN, REPO, {205}), FakeWebhook()
    db = tmp_path / "responder.db"
    async with serving(gh, hook):
        sinks = {"gh": sink_settings(type="github", url=gh.url, token=GH_TOKEN, repo=REPO),
                 "hook": sink_settings(type="webhook", url=hook.hook_url)}
        # The first life: claim, send, and die before finish_delivery.
        store = await open_store(db)
        incident = await open_incident(store, clock.now())
        message = evidence_message(incident)
        await store.enqueue(message, ["gh", "hook"], clock.now())
        claimed = await store.claim_due(clock.now(), 10)
        async with aiohttp.ClientSession() as session:
            for delivery in claimed:
                sink = build_sink(delivery.sink, sinks[delivery.sink], http_of(session, clock))
                await sink.send(delivery)
        await store.close()
        assert {d.status for d in claimed} == {"sending"}
        # The second life resumes the deliveries left "sending".
        clock.advance(30)
        async with outbox(db, sinks, clock) as box:
            assert await box.worker.drain_once() == 2
            stored = await deliveries(box.store, incident.id)
    assert {(d.sink, d.status, d.attempts) for d in stored} == {("gh", "delivered", 2),
                                                                 ("hook", "delivered", 2)}
    tag = marker(incident.id, message.key)
    assert [tag in c["body"] for c in gh.comments[205]] == [True]  # posted once
    assert [r.method for r in gh.received] == ["POST", "GET"]  # the retry looked, not posted
    assert hook.keys == [f"{incident.id}:{message.key}"] * 2  # same key: the receiver dedups
    assert len(hook.unique) == 1
