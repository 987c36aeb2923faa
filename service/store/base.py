"""The store interface the rest of the service programs against.

Backends (SQLite by default, PostgreSQL for several replicas) implement ``Store``; callers see
domain models and two error classes, never SQL or driver exceptions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from service.domain.alerts import Notification
from service.domain.evidence import EvidenceBundle
from service.domain.incidents import AlertPlan, Incident, IncidentSummary, TimelineEntry
from service.domain.lifecycle import State
from service.domain.messages import Delivery, Message
from service.domain.policy_record import PolicyRecord


class StoreError(Exception):
    """Base class of store failures."""


class StaleUpdate(StoreError):
    """The incident's policy record changed since it was read (another writer won); read it
    again and decide anew. Not retried by the store."""


class StoreUnavailable(StoreError):
    """The store could not commit or answer now; the caller may retry (webhook: 503)."""


@dataclass(frozen=True)
class IngestResult:
    """What storing one notification did."""

    notification_id: int
    redelivery: bool
    plans: list[AlertPlan] = field(default_factory=list)

    @property
    def incidents(self) -> list[str]:
        seen: dict[str, None] = {}
        for plan in self.plans:
            if plan.incident_id:
                seen[plan.incident_id] = None
        return list(seen)

    @property
    def opened(self) -> list[str]:
        return [p.incident_id for p in self.plans if p.action == "open" and p.incident_id]


@dataclass(frozen=True)
class IncidentUpdate:
    """One atomic change of an incident: its policy record, state, timeline and messages.

    Applied in a single transaction, so a decision, what it queued for the sinks and its
    timeline lines are either all stored or none: a restart never repeats half of one.
    """

    policy: PolicyRecord | None = None
    evidence: EvidenceBundle | None = None
    state: State | None = None
    escalated: bool = False
    entries: list[TimelineEntry] = field(default_factory=list)
    messages: list[tuple[Message, list[str]]] = field(default_factory=list)


class Store(Protocol):
    """Durable incidents. Every method commits before it returns."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None: ...

    async def lead(self) -> bool:
        """True when this process is the one to run the runbook loops (replicas sharing a
        database elect one, so a decision is never carried out twice)."""
        ...

    async def follow_changes(self, on_change: Callable[[list[str]], None]) -> None:
        """Once leading: call ``on_change`` with the ids of incidents that other processes'
        webhooks opened or changed (this process's own webhook hands its ids over itself)."""
        ...

    async def ingest(
        self, notification: Notification, raw: bytes, received_at: datetime
    ) -> IngestResult: ...

    async def update(self, incident_id: str, update: IncidentUpdate, now: datetime) -> None:
        """Apply ``update`` atomically (state through ``transition()``); raises
        ``IllegalTransition``, ``StaleUpdate`` or ``KeyError``."""
        ...

    async def active_incidents(self) -> list[str]:
        """Ids of incidents that are not resolved, oldest first."""
        ...

    async def get_incident(self, incident_id: str) -> Incident | None: ...

    async def list_incidents(self, state: State | None, limit: int,
                             before: str | None = None) -> list[IncidentSummary]:
        """Newest first (opened_at, then insertion order); with ``before`` (an incident id),
        the ones listed after it. An unknown ``before`` raises KeyError."""
        ...

    async def count_by_state(self) -> dict[str, int]: ...

    # The outbox: every message is stored before it is sent, and its outcome after.

    async def enqueue(self, message: Message, sinks: list[str], now: datetime) -> list[int]:
        """Queue ``message`` for each sink; a key already queued for a sink is skipped."""
        ...

    async def claim_due(self, now: datetime, limit: int) -> list[Delivery]:
        """Due deliveries, marked ``sending`` with the attempt counted (before the send) and
        leased for a while, so another worker does not claim them while they are in flight."""
        ...

    async def finish_delivery(self, delivery_id: int, *, delivered: bool, now: datetime,
                              error: str | None = None, retry_at: datetime | None = None
                              ) -> None:
        """Record a send's outcome; neither delivered nor ``retry_at`` means failed for good."""
        ...
