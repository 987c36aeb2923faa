"""The ``Store`` operations, written once over ``Tx`` for both backends.

Purpose: what each operation does (``incidents``, ``outbox``) in one place; a backend
(``SqliteStore``, ``PostgresStore``) supplies only how a job runs in a transaction
(``_write``, ``_read``), opening, closing and leadership.
Boundary: callers see domain models, ``StoreUnavailable``, ``StaleUpdate``, ``KeyError`` and
``IllegalTransition``; the backends map their drivers' errors.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, TypeVar

from service.domain.alerts import Notification
from service.domain.incidents import IdentityRules, Incident, IncidentSummary
from service.domain.lifecycle import State
from service.domain.messages import Delivery, Message
from service.store import incidents, outbox
from service.store.base import IncidentUpdate, IngestResult
from service.store.dialect import Tx

T = TypeVar("T")
Job = Callable[[Tx], Coroutine[Any, Any, T]]


class SqlStore:
    """The operations of ``Store``; subclasses provide the transactions."""

    def __init__(self, *, rules: IdentityRules, related_issue: str | None,
                 claim_lease_s: float) -> None:
        self._rules = rules
        self._related_issue = related_issue
        self._lease = claim_lease_s
        # Names this store's outbox claims, which it gives back when it closes.
        self._owner = f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"

    async def _write(self, job: Job[T]) -> T:
        """Run ``job`` in one read-write transaction, committed before this returns."""
        raise NotImplementedError

    async def _read(self, job: Job[T]) -> T:
        """Run ``job`` on one consistent view of the tables."""
        raise NotImplementedError

    # -- incidents -------------------------------------------------------------------------

    async def ingest(self, notification: Notification, raw: bytes,
                     received_at: datetime) -> IngestResult:
        return await self._write(lambda tx: incidents.ingest(
            tx, notification, raw, received_at, self._rules, self._related_issue))

    async def update(self, incident_id: str, update: IncidentUpdate, now: datetime) -> None:
        await self._write(lambda tx: incidents.update(tx, incident_id, update, now))

    async def active_incidents(self) -> list[str]:
        return await self._read(incidents.active_incidents)

    async def get_incident(self, incident_id: str) -> Incident | None:
        return await self._read(lambda tx: incidents.get_incident(tx, incident_id))

    async def list_incidents(self, state: State | None, limit: int,
                             before: str | None = None) -> list[IncidentSummary]:
        return await self._read(
            lambda tx: incidents.list_incidents(tx, state, limit, before))

    async def count_by_state(self) -> dict[str, int]:
        return await self._read(incidents.count_by_state)

    # -- outbox ----------------------------------------------------------------------------

    async def enqueue(self, message: Message, sinks: list[str], now: datetime) -> list[int]:
        return await self._write(lambda tx: incidents.enqueue(tx, message, sinks, now))

    async def claim_due(self, now: datetime, limit: int) -> list[Delivery]:
        return await self._write(
            lambda tx: outbox.claim_due(tx, now, limit, self._lease, self._owner))

    async def finish_delivery(self, delivery_id: int, *, delivered: bool, now: datetime,
                              error: str | None = None, retry_at: datetime | None = None) -> None:
        await self._write(lambda tx: outbox.finish(
            tx, delivery_id, delivered=delivered, now=now, error=error, retry_at=retry_at))
