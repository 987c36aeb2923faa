"""Helpers shared by the sink and outbox tests: a real SqliteStore with an open incident, the
fakes started and stopped, sink settings pointing at them."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import TypeAdapter

from service.config.settings import Settings, SinkSettings
from service.config.wording import runbook_text
from service.domain.alerts import Notification
from service.domain.evidence_message import compose_evidence
from service.domain.incidents import IdentityRules, Incident
from service.domain.messages import Delivery, Message, MessageSection
from service.notify.outbox import OutboxPolicy, OutboxWorker
from service.notify.routing import SinkRegistry
from service.notify.sinks.transport import Http
from service.runtime.clock import Clock, ManualClock, SystemClock
from service.store.base import IncidentUpdate
from service.store.sqlite import SqliteStore
from tests.adapters.fakes import bundles
from tests.adapters.fakes.server import FakeServer
from tests.conftest import alert, notification

PUBLIC_URL = "http://responder.test:8080"


_SINK = TypeAdapter[SinkSettings](SinkSettings)


def sink_settings(**values: Any) -> SinkSettings:
    """One sink's settings, validated as ``load_settings`` does (the model ``type`` names)."""
    return _SINK.validate_python(values)


def http_of(session: aiohttp.ClientSession, clock: Clock | None = None) -> Http:
    """What a sink sends with; the answers dated by ``clock`` (default the wall clock)."""
    return Http(session, clock or SystemClock())


async def open_store(path: Path) -> SqliteStore:
    store = SqliteStore(path, rules=IdentityRules(default_namespace="codex-k8s-prod"),
                        related_issue="205")
    await store.open()
    return store


async def open_incident(store: SqliteStore, now: datetime, fingerprint: str = "fp1") -> Incident:
    body = notification(alert(fingerprint))
    result = await store.ingest(Notification.model_validate(body), json.dumps(body).encode(), now)
    (incident_id,) = result.opened
    found = await store.get_incident(incident_id)
    assert found is not None
    return found


async def deliveries(store: SqliteStore, incident_id: str | None = None) -> list[Delivery]:
    """The outbox's rows of one incident, or of every incident, as the store shows them."""
    ids = [incident_id] if incident_id else [s.id for s in await store.list_incidents(None, 1000)]
    found: list[Delivery] = []
    for one in ids:
        incident = await store.get_incident(one)
        assert incident is not None
        found += incident.deliveries
    return found


def evidence_message(incident: Incident, key: str = "evidence-1", **bundle_args: Any) -> Message:
    return compose_evidence(incident, bundles.bundle(incident.id, **bundle_args),
                            text=runbook_text(Settings()), public_url=PUBLIC_URL, key=key)


def delivery_of(message: Message, sink: str, *, attempts: int = 1) -> Delivery:
    """A delivery as the outbox would hand it to a sink (for sink-only tests)."""
    return Delivery(id=1, incident_id=message.incident_id, sink=sink, key=message.key,
                    event=message.event, status="sending", attempts=attempts,
                    next_attempt_at=message.created_at, created_at=message.created_at,
                    message=message)


@asynccontextmanager
async def serving(*fakes: FakeServer) -> AsyncIterator[None]:
    for fake in fakes:
        await fake.start()
    try:
        yield
    finally:
        for fake in fakes:
            await fake.close()


def huge_message(incident: Incident, *, sections: int = 12, lines: int = 2000) -> Message:
    """A message far over every medium's limit: many sections of many long lines."""
    message = evidence_message(incident, scale=50)
    extra = [MessageSection(title=f"Log excerpt {i}", priority=3 + i % 4, code=i % 2 == 0,
                            lines=[f"{i}:{n} <b>&" + "MANIFEST_UNKNOWN " * 30
                                   for n in range(lines)])
             for i in range(sections)]
    return message.model_copy(update={"sections": [*message.sections, *extra],
                                      "summary": message.summary + " " + "long " * 400})


FAST = OutboxPolicy(poll_interval_s=5.0, inline_attempts=1, backoff_initial_s=10.0,
                    backoff_max_s=60.0)


@dataclass
class Outbox:
    """A worker on a real store, with the outcomes it recorded."""

    store: SqliteStore
    registry: SinkRegistry
    session: aiohttp.ClientSession
    worker: OutboxWorker = field(init=False)
    outcomes: list[tuple[str, str]] = field(default_factory=list)
    # Each outcome as the worker records it, for a test to await instead of polling.
    recorded: asyncio.Queue[tuple[str, str]] = field(default_factory=asyncio.Queue)

    def record(self, sink: str, outcome: str) -> None:
        self.outcomes.append((sink, outcome))
        self.recorded.put_nowait((sink, outcome))

    async def queue(self, message: Message, now: datetime) -> list[str]:
        """Store ``message`` for the sinks routed for it and wake the worker, as the runbook
        does: with an update of its incident (``Notifier.queue``), then ``Notifier.wake``."""
        sinks = self.registry.sinks_for(message.event, message.audience)
        await self.store.update(message.incident_id,
                                IncidentUpdate(messages=[(message, sinks)]), now)
        self.worker.wake()
        return sinks

    async def statuses(self, incident_id: str) -> list[str]:
        return [d.status for d in await deliveries(self.store, incident_id)]

    async def settle(self, clock: ManualClock, *, step_s: float = 60.0, rounds: int = 20) -> None:
        """Drain and move time on until nothing is due any more (or ``rounds`` ran out)."""
        for _ in range(rounds):
            statuses = {d.status for d in await deliveries(self.store)}
            if not statuses & {"pending", "sending"}:
                return
            await self.worker.drain_once()
            clock.advance(step_s)


@asynccontextmanager
async def outbox(path: Path, sinks: dict[str, SinkSettings], clock: ManualClock, *,
                 policy: OutboxPolicy = FAST) -> AsyncIterator[Outbox]:
    """Open a store at ``path`` and a worker for ``sinks``; close both after (a "restart")."""
    store = await open_store(path)
    session = aiohttp.ClientSession()
    registry = SinkRegistry.from_settings(sinks, Http(session, clock))
    box = Outbox(store, registry, session)
    box.worker = OutboxWorker(store, registry, clock, policy=policy, record=box.record,
                              rng=random.Random(7))
    try:
        yield box
    finally:
        await session.close()
        await store.close()
