"""SQLite backend (aiosqlite, WAL): the embedded default store.

Writes go through one writer task that commits whole batches in a single transaction (group
commit): a burst of webhooks costs one fsync, not one each, and every caller is answered only
after the commit that holds its write. Reads use a second connection, which WAL lets run
beside the writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import structlog

from service.domain.alerts import Notification
from service.domain.evidence import EvidenceBundle
from service.domain.incidents import (
    AlertPlan,
    AlertRecord,
    Counters,
    IdentityRules,
    Incident,
    IncidentSummary,
    OpenIncidentView,
    State,
    TimelineEntry,
    key_of,
    plan_alert,
    record_of,
    transition,
)
from service.domain.messages import Delivery, Message
from service.store import sqlite_outbox
from service.store.base import IngestResult, StoreUnavailable

T = TypeVar("T")
Job = Callable[[aiosqlite.Connection], Awaitable[Any]]
log = structlog.get_logger(__name__)


def _iso(value: datetime) -> str:
    return value.isoformat()


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("service.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


def _new_future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


@dataclass
class _Pending:
    job: Job
    future: asyncio.Future[Any] = field(default_factory=_new_future)


class SqliteStore:
    """Incidents in one SQLite file; see the module docstring for the write path."""

    def __init__(
        self,
        path: Path,
        *,
        rules: IdentityRules,
        related_issue: str | None = None,
        batch_max: int = 256,
        timeout_s: float = 5.0,
    ) -> None:
        self._path = path
        self._rules = rules
        self._related_issue = related_issue
        self._batch_max = batch_max
        self._timeout = timeout_s
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=batch_max * 8)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await aiosqlite.connect(self._path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
                       "busy_timeout=5000"):
            await self._writer.execute(f"PRAGMA {pragma}")
        await self._migrate(self._writer)
        self._reader = await aiosqlite.connect(self._path, isolation_level=None)
        await self._reader.execute("PRAGMA busy_timeout=5000")
        self._reader.row_factory = aiosqlite.Row
        self._task = asyncio.create_task(self._write_loop(), name="sqlite-writer")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(StoreUnavailable("store is closing"))
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        async with conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        for number, script in _migrations():
            if number <= version:
                continue
            # executescript commits on its own; the version bump rides in the same script.
            await conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
            log.info("store_migrated", version=number, path=str(self._path))

    # -- the write path --------------------------------------------------------------------

    async def _submit(self, job: Job) -> Any:
        if self._task is None or self._task.done():
            raise StoreUnavailable("store is not open")
        pending = _Pending(job)
        try:
            async with asyncio.timeout(self._timeout):
                await self._queue.put(pending)
                return await asyncio.shield(pending.future)
        except TimeoutError as exc:
            raise StoreUnavailable(f"store did not commit within {self._timeout}s") from exc

    async def _write_loop(self) -> None:
        assert self._writer is not None
        conn = self._writer
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            results: list[tuple[bool, Any]] = []
            try:
                await conn.execute("BEGIN IMMEDIATE")
                for pending in batch:
                    results.append(await self._run_one(conn, pending.job))
                await conn.commit()
            except sqlite3.Error as exc:
                log.error("store_commit_failed", error=str(exc), batch=len(batch))
                with contextlib.suppress(sqlite3.Error):
                    await conn.rollback()
                failure = StoreUnavailable(f"commit failed: {exc}")
                results = [(False, failure)] * len(batch)
            for pending, (ok, value) in zip(batch, results, strict=True):
                if pending.future.done():
                    continue
                if ok:
                    pending.future.set_result(value)
                else:
                    pending.future.set_exception(value)

    @staticmethod
    async def _run_one(conn: aiosqlite.Connection, job: Job) -> tuple[bool, Any]:
        # A savepoint per job: one failing job does not undo its batch-mates.
        await conn.execute("SAVEPOINT job")
        try:
            value = await job(conn)
        except sqlite3.Error as exc:
            await conn.execute("ROLLBACK TO job")
            await conn.execute("RELEASE job")
            return False, StoreUnavailable(f"write failed: {exc}")
        except Exception as exc:
            await conn.execute("ROLLBACK TO job")
            await conn.execute("RELEASE job")
            return False, exc
        await conn.execute("RELEASE job")
        return True, value

    # -- ingest ----------------------------------------------------------------------------

    async def ingest(
        self, notification: Notification, raw: bytes, received_at: datetime
    ) -> IngestResult:
        async def job(conn: aiosqlite.Connection) -> IngestResult:
            return await self._ingest(conn, notification, raw, received_at)

        result: IngestResult = await self._submit(job)
        return result

    async def _ingest(
        self, conn: aiosqlite.Connection, notification: Notification, raw: bytes,
        received_at: datetime,
    ) -> IngestResult:
        digest = hashlib.sha256(raw).hexdigest()
        cur = await conn.execute(
            "INSERT INTO notifications (digest, received_at, group_key, status, receiver,"
            " truncated_alerts, body) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (digest) DO UPDATE SET deliveries = deliveries + 1 RETURNING id,"
            " deliveries",
            (digest, _iso(received_at), notification.groupKey, notification.status,
             notification.receiver, notification.truncatedAlerts, raw.decode("utf-8")),
        )
        row = await cur.fetchone()
        await cur.close()
        assert row is not None
        notification_id, deliveries = int(row[0]), int(row[1])
        if deliveries > 1:
            return IngestResult(notification_id, redelivery=True)
        plans = [
            await self._ingest_alert(conn, notification, alert_index, notification_id,
                                     received_at)
            for alert_index in range(len(notification.alerts))
        ]
        return IngestResult(notification_id, redelivery=False, plans=plans)

    async def _ingest_alert(
        self, conn: aiosqlite.Connection, notification: Notification, index: int,
        notification_id: int, now: datetime,
    ) -> AlertPlan:
        alert = notification.alerts[index]
        delivery = alert.delivery_key(notification.groupKey)
        seen = await _one(conn, "SELECT 1 FROM alerts WHERE delivery_key = ?", (delivery,))
        key = key_of(alert.labels, self._rules)
        open_row = await _one(
            conn,
            "SELECT id, first_failure_at, job_kinds FROM incidents"
            " WHERE namespace = ? AND signature = ? AND state <> 'resolved'",
            (key.namespace, key.signature),
        )
        open_view = (
            OpenIncidentView(open_row[0], datetime.fromisoformat(open_row[1]),
                             tuple(json.loads(open_row[2])))
            if open_row else None
        )
        by_fp = None
        if alert.status == "resolved" and not seen:
            fp_row = await _one(
                conn,
                "SELECT incident_id FROM alerts WHERE fingerprint = ? AND incident_id IS NOT NULL"
                " ORDER BY received_at DESC LIMIT 1",
                (alert.fingerprint,),
            )
            by_fp = fp_row[0] if fp_row else None
        plan = plan_alert(alert, rules=self._rules, seen_before=seen is not None,
                          open_incident=open_view, incident_of_fingerprint=by_fp, now=now)
        if plan.action == "duplicate":
            return plan
        if plan.action == "open":
            assert plan.first_failure_at is not None
            kinds = [plan.job_kind] if plan.job_kind else []
            await conn.execute(
                "INSERT INTO incidents (id, namespace, signature, state, opened_at, updated_at,"
                " first_failure_at, related_issue, job_kinds, alerts_firing)"
                " VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?, 1)",
                (plan.incident_id, key.namespace, key.signature, _iso(now), _iso(now),
                 _iso(plan.first_failure_at), self._related_issue, json.dumps(kinds)),
            )
        elif plan.action == "attach":
            assert open_view is not None and plan.first_failure_at is not None
            kinds = list(open_view.job_kinds)
            if plan.job_kind and plan.job_kind not in kinds:
                kinds.append(plan.job_kind)
            await conn.execute(
                "UPDATE incidents SET alerts_firing = alerts_firing + 1, updated_at = ?,"
                " first_failure_at = ?, job_kinds = ? WHERE id = ?",
                (_iso(now), _iso(plan.first_failure_at), json.dumps(kinds), plan.incident_id),
            )
        elif plan.action == "resolve":
            await conn.execute(
                "UPDATE incidents SET alerts_resolved = alerts_resolved + 1, updated_at = ?"
                " WHERE id = ?",
                (_iso(now), plan.incident_id),
            )
        record = record_of(alert, notification.groupKey, now)
        await conn.execute(
            "INSERT INTO alerts (delivery_key, incident_id, notification_id, fingerprint, status,"
            " received_at, record) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (delivery, plan.incident_id, notification_id, alert.fingerprint, alert.status,
             _iso(now), record.model_dump_json()),
        )
        if plan.entry is not None and plan.incident_id is not None:
            await _append(conn, plan.incident_id, plan.entry)
        return plan

    # -- lifecycle moves -------------------------------------------------------------------

    async def move(self, incident_id: str, target: State, entry: TimelineEntry) -> Incident:
        """Change an incident's state through ``transition()`` and record why."""

        async def job(conn: aiosqlite.Connection) -> None:
            row = await _one(conn, "SELECT state FROM incidents WHERE id = ?", (incident_id,))
            if row is None:
                raise KeyError(incident_id)
            state = transition(State(row[0]), target)
            resolved_at = _iso(entry.at) if state is State.RESOLVED else None
            await conn.execute(
                "UPDATE incidents SET state = ?, updated_at = ?,"
                " resolved_at = COALESCE(?, resolved_at) WHERE id = ?",
                (state.value, _iso(entry.at), resolved_at, incident_id),
            )
            await _append(conn, incident_id, entry)

        await self._submit(job)
        incident = await self.get_incident(incident_id)
        assert incident is not None
        return incident

    # -- outbox and evidence ---------------------------------------------------------------

    async def enqueue(self, message: Message, sinks: list[str], now: datetime) -> list[int]:
        async def job(conn: aiosqlite.Connection) -> list[int]:
            ids = await sqlite_outbox.enqueue(conn, message, sinks, now)
            if ids:
                entry = TimelineEntry(at=now, kind="notification_queued",
                                      message=f"{message.event} message queued for "
                                              f"{', '.join(sinks)}",
                                      data={"key": message.key, "sinks": sinks})
                await _append(conn, message.incident_id, entry)
            return ids

        ids: list[int] = await self._submit(job)
        return ids

    async def claim_due(self, now: datetime, limit: int) -> list[Delivery]:
        async def job(conn: aiosqlite.Connection) -> list[Delivery]:
            return await sqlite_outbox.claim_due(conn, now, limit)

        claimed: list[Delivery] = await self._submit(job)
        return claimed

    async def finish_delivery(self, delivery_id: int, *, delivered: bool, now: datetime,
                              error: str | None = None, retry_at: datetime | None = None) -> None:
        async def job(conn: aiosqlite.Connection) -> None:
            await sqlite_outbox.finish(conn, delivery_id, delivered=delivered, now=now,
                                       error=error, retry_at=retry_at)

        await self._submit(job)

    async def save_evidence(self, bundle: EvidenceBundle, entry: TimelineEntry) -> int:
        async def job(conn: aiosqlite.Connection) -> int:
            evidence_id = await sqlite_outbox.save_evidence(conn, bundle)
            await _append(conn, bundle.incident_id, entry)
            return evidence_id

        evidence_id: int = await self._submit(job)
        return evidence_id

    async def deliveries(self, incident_id: str) -> list[Delivery]:
        return await sqlite_outbox.deliveries_of(self._read_conn(), incident_id)

    async def evidence(self, incident_id: str) -> list[EvidenceBundle]:
        return await sqlite_outbox.evidence_of(self._read_conn(), incident_id)

    async def count_deliveries(self) -> dict[str, int]:
        return await sqlite_outbox.count_deliveries(self._read_conn())

    # -- reads -----------------------------------------------------------------------------

    def _read_conn(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StoreUnavailable("store is not open")
        return self._reader

    async def ping(self) -> None:
        try:
            await _one(self._read_conn(), "SELECT 1", ())
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc)) from exc
        if self._task is None or self._task.done():
            raise StoreUnavailable("store writer is not running")

    async def get_incident(self, incident_id: str) -> Incident | None:
        conn = self._read_conn()
        async with conn.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        async with conn.execute(
            "SELECT record FROM alerts WHERE incident_id = ? ORDER BY received_at, rowid",
            (incident_id,),
        ) as cur:
            alerts = [AlertRecord.model_validate_json(r[0]) for r in await cur.fetchall()]
        async with conn.execute(
            "SELECT entry FROM timeline WHERE incident_id = ? ORDER BY id", (incident_id,)
        ) as cur:
            timeline = [TimelineEntry.model_validate_json(r[0]) for r in await cur.fetchall()]
        return Incident(
            id=row["id"], namespace=row["namespace"], signature=row["signature"],
            job_kinds=json.loads(row["job_kinds"]), state=State(row["state"]),
            escalated=bool(row["escalated"]), opened_at=row["opened_at"],
            updated_at=row["updated_at"], resolved_at=row["resolved_at"],
            first_failure_at=row["first_failure_at"], related_issue=row["related_issue"],
            counters=Counters(alerts_firing=row["alerts_firing"],
                              alerts_resolved=row["alerts_resolved"]),
            alerts=alerts, timeline=timeline,
            evidence=await sqlite_outbox.evidence_of(conn, incident_id),
            deliveries=await sqlite_outbox.deliveries_of(conn, incident_id),
        )

    async def list_incidents(self, state: State | None, limit: int) -> list[IncidentSummary]:
        sql = ("SELECT id, namespace, signature, state, escalated, opened_at, updated_at,"
               " first_failure_at FROM incidents")
        args: tuple[Any, ...] = ()
        if state is not None:
            sql += " WHERE state = ?"
            args = (state.value,)
        sql += " ORDER BY opened_at DESC, rowid DESC LIMIT ?"
        async with self._read_conn().execute(sql, (*args, limit)) as cur:
            rows = await cur.fetchall()
        return [
            IncidentSummary(id=r[0], namespace=r[1], signature=r[2], state=State(r[3]),
                            escalated=bool(r[4]), opened_at=r[5], updated_at=r[6],
                            first_failure_at=r[7])
            for r in rows
        ]

    async def count_by_state(self) -> dict[str, int]:
        async with self._read_conn().execute(
            "SELECT state, COUNT(*) FROM incidents GROUP BY state"
        ) as cur:
            return {str(r[0]): int(r[1]) for r in await cur.fetchall()}


async def _one(conn: aiosqlite.Connection, sql: str, args: tuple[Any, ...]) -> Any:
    async with conn.execute(sql, args) as cur:
        return await cur.fetchone()


async def _append(conn: aiosqlite.Connection, incident_id: str, entry: TimelineEntry) -> None:
    await conn.execute(
        "INSERT INTO timeline (incident_id, at, kind, entry) VALUES (?, ?, ?, ?)",
        (incident_id, _iso(entry.at), entry.kind, entry.model_dump_json()),
    )
