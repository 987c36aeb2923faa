"""SQLite backend (WAL): the embedded default store.

Writes go through a ``GroupCommit`` writer (sqlite_writer.py): batches of jobs in one
transaction, one fsync per batch, each caller answered after the commit that holds its write.
Reads use a second connection on its own thread, which WAL lets run beside the writer. The SQL
itself is in sqlite_incidents.py and sqlite_outbox.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from pathlib import Path

import structlog

from service.domain.alerts import Notification
from service.domain.evidence import EvidenceBundle
from service.domain.incidents import IdentityRules, Incident, IncidentSummary, TimelineEntry
from service.domain.lifecycle import State
from service.domain.messages import Delivery, Message
from service.store import sqlite_incidents as incidents_sql
from service.store import sqlite_outbox as outbox_sql
from service.store.base import IncidentUpdate, IngestResult, StoreUnavailable
from service.store.sqlite_writer import Connection, GroupCommit

log = structlog.get_logger(__name__)


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("service.store") / "migrations"
    found = [(int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8"))
             for entry in folder.iterdir() if entry.name.endswith(".sql")]
    return sorted(found)


class SqliteStore:
    """Incidents in one SQLite file; see the module docstring for the write path."""

    def __init__(self, path: Path, *, rules: IdentityRules, related_issue: str | None = None,
                 batch_max: int = 256, timeout_s: float = 5.0,
                 busy_timeout_ms: int = 5000) -> None:
        self._path = path
        self._rules = rules
        self._related_issue = related_issue
        self._busy_timeout = f"busy_timeout={int(busy_timeout_ms)}"
        self._writer = Connection(path, "sqlite-writer")
        self._reader = Connection(path, "sqlite-reader")
        self._commits = GroupCommit(self._writer, batch_max=batch_max, timeout_s=timeout_s)

    async def open(self) -> None:
        """Open and migrate; a file that cannot be opened is ``StoreUnavailable`` saying so."""
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            await self._writer.open("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
                                    self._busy_timeout)
        except (OSError, sqlite3.Error) as exc:
            await self._writer.close()
            raise StoreUnavailable(f"sqlite: cannot open {self._path}: {exc}") from exc
        await self._writer.run(self._migrate)
        released = await self._writer.run(outbox_sql.release_claims)
        if released:
            log.info("outbox_claims_released", deliveries=released)
        await self._reader.open(self._busy_timeout, "query_only=ON")
        self._commits.start()

    async def close(self) -> None:
        await self._commits.stop()
        await self._reader.close()
        await self._writer.close()

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        for number, script in _migrations():
            if number > version:
                conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
                log.info("store_migrated", version=number, path=str(self._path))

    # -- incidents -------------------------------------------------------------------------

    async def ingest(self, notification: Notification, raw: bytes,
                     received_at: datetime) -> IngestResult:
        return await self._commits.submit(lambda conn: incidents_sql.ingest(
            conn, notification, raw, received_at, self._rules, self._related_issue))

    async def move(self, incident_id: str, target: State, entry: TimelineEntry) -> Incident:
        """Change an incident's state through ``transition()`` and record why."""
        await self._commits.submit(
            lambda conn: incidents_sql.move(conn, incident_id, target, entry))
        incident = await self.get_incident(incident_id)
        assert incident is not None
        return incident

    async def lead(self) -> bool:
        """One process owns an SQLite file: it always runs the runbook loops."""
        return True

    async def follow_changes(self, on_change: Callable[[list[str]], None]) -> None:
        """Nothing to follow: no other process writes this file."""

    async def update(self, incident_id: str, update: IncidentUpdate, now: datetime) -> None:
        await self._commits.submit(
            lambda conn: incidents_sql.update(conn, incident_id, update, now))

    async def active_incidents(self) -> list[str]:
        return await self._reader.run(incidents_sql.active_incidents)

    async def ping(self) -> None:
        await self._reader.run(lambda conn: conn.execute("SELECT 1").fetchone())
        if not self._commits.running:
            raise StoreUnavailable("store writer is not running")

    async def get_incident(self, incident_id: str) -> Incident | None:
        return await self._reader.run(lambda c: incidents_sql.get_incident(c, incident_id))

    async def list_incidents(self, state: State | None, limit: int,
                             before: str | None = None) -> list[IncidentSummary]:
        return await self._reader.run(
            lambda c: incidents_sql.list_incidents(c, state, limit, before))

    async def count_by_state(self) -> dict[str, int]:
        return await self._reader.run(incidents_sql.count_by_state)

    # -- outbox and evidence ---------------------------------------------------------------

    async def enqueue(self, message: Message, sinks: list[str], now: datetime) -> list[int]:
        def job(conn: sqlite3.Connection) -> list[int]:
            ids = outbox_sql.enqueue(conn, message, sinks, now)
            if ids:
                incidents_sql.append(conn, message.incident_id, TimelineEntry(
                    at=now, kind="notification_queued",
                    message=f"{message.event} message queued for {', '.join(sinks)}",
                    data={"key": message.key, "sinks": sinks}))
            return ids

        return await self._commits.submit(job)

    async def claim_due(self, now: datetime, limit: int) -> list[Delivery]:
        return await self._commits.submit(lambda conn: outbox_sql.claim_due(conn, now, limit))

    async def finish_delivery(self, delivery_id: int, *, delivered: bool, now: datetime,
                              error: str | None = None, retry_at: datetime | None = None) -> None:
        await self._commits.submit(lambda conn: outbox_sql.finish(
            conn, delivery_id, delivered=delivered, now=now, error=error, retry_at=retry_at))

    async def save_evidence(self, bundle: EvidenceBundle, entry: TimelineEntry) -> int:
        def job(conn: sqlite3.Connection) -> int:
            evidence_id = outbox_sql.save_evidence(conn, bundle)
            incidents_sql.append(conn, bundle.incident_id, entry)
            return evidence_id

        return await self._commits.submit(job)

    async def deliveries(self, incident_id: str) -> list[Delivery]:
        return await self._reader.run(lambda c: outbox_sql.deliveries_of(c, incident_id))

    async def evidence(self, incident_id: str) -> list[EvidenceBundle]:
        return await self._reader.run(lambda c: outbox_sql.evidence_of(c, incident_id))

    async def count_deliveries(self) -> dict[str, int]:
        return await self._reader.run(outbox_sql.count_deliveries)
