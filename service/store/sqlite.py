"""SQLite backend (WAL): the embedded default store.

Writes go through one writer task that commits whole batches in a single transaction (group
commit): a burst of webhooks costs one fsync, not one each, and every caller is answered only
after the commit that holds its write.

Where each part runs is measured, not guessed. A batch's statements run on the event loop
itself: they take microseconds each, whereas a hop to another thread costs a GIL hand-over per
statement (sqlite3 releases the GIL around every step), which under load made the hand-overs,
not the SQL, the cost of intake (about 1 ms of CPU per webhook). Only ``COMMIT``, whose fsync
takes most of a millisecond here, goes to the writer connection's thread, so the loop keeps
serving while the disk flushes and the next batch gathers. Reads use a second connection on its
own thread, which WAL lets run beside the writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import structlog

from service.domain.alerts import Notification
from service.domain.evidence import EvidenceBundle
from service.domain.incidents import IdentityRules, Incident, IncidentSummary, TimelineEntry
from service.domain.lifecycle import State
from service.domain.messages import Delivery, Message
from service.store import sqlite_incidents as incidents_sql
from service.store import sqlite_outbox as outbox_sql
from service.store.base import IncidentUpdate, IngestResult, StoreUnavailable

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]
log = structlog.get_logger(__name__)


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("service.store") / "migrations"
    found = [(int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8"))
             for entry in folder.iterdir() if entry.name.endswith(".sql")]
    return sorted(found)


class _Connection:
    """One sqlite3 connection owned by one thread; callers hop to it with ``run``."""

    def __init__(self, path: Path, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._path = path
        self._conn: sqlite3.Connection | None = None

    async def open(self, *pragmas: str) -> None:
        def connect() -> None:
            self._conn = sqlite3.connect(self._path, isolation_level=None,
                                         check_same_thread=False)
            for pragma in pragmas:
                self._conn.execute(f"PRAGMA {pragma}")

        await self.run_raw(connect)

    def connection(self) -> sqlite3.Connection:
        """The connection itself, for a caller that knows no other thread is using it."""
        if self._conn is None:
            raise StoreUnavailable("store is not open")
        return self._conn

    async def run_raw(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if self._conn is None:
                raise StoreUnavailable("store is not open")
            return fn(self._conn)

        try:
            return await self.run_raw(call)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"sqlite: {exc}") from exc

    async def close(self) -> None:
        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await self.run_raw(close)
        self._executor.shutdown(wait=True)


def _new_future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


@dataclass
class _Pending:
    job: Job
    future: asyncio.Future[Any] = field(default_factory=_new_future)


def _run_batch(conn: sqlite3.Connection, jobs: list[Job]) -> list[tuple[bool, Any]]:
    """Open the batch's transaction and run its jobs; the caller commits.

    The common case runs the jobs back to back; if one fails, the batch is rolled back and
    run again with a savepoint per job, so one bad job does not undo its batch-mates.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
        return [(True, job(conn)) for job in jobs]
    except Exception as exc:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        if len(jobs) == 1:
            return [(False, exc)]
    return _run_isolated(conn, jobs)


def _run_isolated(conn: sqlite3.Connection, jobs: list[Job]) -> list[tuple[bool, Any]]:
    results: list[tuple[bool, Any]] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for job in jobs:
            conn.execute("SAVEPOINT job")
            try:
                value = job(conn)
            except Exception as exc:  # handed to that job's caller, not swallowed
                conn.execute("ROLLBACK TO job")
                results.append((False, exc))
            else:
                results.append((True, value))
            conn.execute("RELEASE job")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    return results


def _commit(conn: sqlite3.Connection) -> None:
    if not conn.in_transaction:  # a lone job failed and was rolled back already
        return
    try:
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


class SqliteStore:
    """Incidents in one SQLite file; see the module docstring for the write path."""

    def __init__(self, path: Path, *, rules: IdentityRules, related_issue: str | None = None,
                 batch_max: int = 256, timeout_s: float = 5.0,
                 busy_timeout_ms: int = 5000) -> None:
        self._path = path
        self._rules = rules
        self._related_issue = related_issue
        self._batch_max = batch_max
        self._timeout = timeout_s
        self._busy_timeout = f"busy_timeout={int(busy_timeout_ms)}"
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=batch_max * 8)
        self._writer = _Connection(path, "sqlite-writer")
        self._reader = _Connection(path, "sqlite-reader")
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        await self._writer.open("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
                                self._busy_timeout)
        await self._writer.run(self._migrate)
        released = await self._writer.run(outbox_sql.release_claims)
        if released:
            log.info("outbox_claims_released", deliveries=released)
        await self._reader.open(self._busy_timeout, "query_only=ON")
        self._task = asyncio.create_task(self._write_loop(), name="sqlite-writer")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            self._fail([self._queue.get_nowait()], StoreUnavailable("store is closing"))
        await self._reader.close()
        await self._writer.close()

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        for number, script in _migrations():
            if number > version:
                conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
                log.info("store_migrated", version=number, path=str(self._path))

    # -- the write path --------------------------------------------------------------------

    async def _submit(self, job: Callable[[sqlite3.Connection], T]) -> T:
        if self._task is None or self._task.done():
            raise StoreUnavailable("store is not open")
        pending = _Pending(job)
        try:
            async with asyncio.timeout(self._timeout):
                if self._queue.full():
                    await self._queue.put(pending)
                else:
                    self._queue.put_nowait(pending)
                # A caller that gives up cancels only its future: the writer skips done
                # futures, and the job itself commits or not with its batch.
                result: T = await pending.future
                return result
        except TimeoutError as exc:
            raise StoreUnavailable(f"store did not commit within {self._timeout}s") from exc

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                results = await self._commit_batch([p.job for p in batch])
            except asyncio.CancelledError:
                self._fail(batch, StoreUnavailable("store is closing"))
                raise
            for pending, (ok, value) in zip(batch, results, strict=True):
                if pending.future.done():
                    continue
                if ok:
                    pending.future.set_result(value)
                elif isinstance(value, sqlite3.Error):
                    pending.future.set_exception(StoreUnavailable(f"write failed: {value}"))
                else:
                    pending.future.set_exception(value)

    async def _commit_batch(self, jobs: list[Job]) -> list[tuple[bool, Any]]:
        """Statements here on the loop, the COMMIT (fsync) on the writer's thread."""
        try:
            results = _run_batch(self._writer.connection(), jobs)
            await self._writer.run(_commit)
        except (StoreUnavailable, sqlite3.Error) as exc:
            failure = exc if isinstance(exc, StoreUnavailable) else StoreUnavailable(
                f"sqlite: {exc}")
            log.error("store_commit_failed", error=str(failure), batch=len(jobs))
            return [(False, failure)] * len(jobs)
        return results

    @staticmethod
    def _fail(batch: list[_Pending], exc: Exception) -> None:
        for pending in batch:
            if not pending.future.done():
                pending.future.set_exception(exc)

    # -- incidents -------------------------------------------------------------------------

    async def ingest(self, notification: Notification, raw: bytes,
                     received_at: datetime) -> IngestResult:
        return await self._submit(lambda conn: incidents_sql.ingest(
            conn, notification, raw, received_at, self._rules, self._related_issue))

    async def move(self, incident_id: str, target: State, entry: TimelineEntry) -> Incident:
        """Change an incident's state through ``transition()`` and record why."""
        await self._submit(lambda conn: incidents_sql.move(conn, incident_id, target, entry))
        incident = await self.get_incident(incident_id)
        assert incident is not None
        return incident

    async def lead(self) -> bool:
        """One process owns an SQLite file: it always runs the runbook loops."""
        return True

    async def follow_changes(self, on_change: Callable[[list[str]], None]) -> None:
        """Nothing to follow: no other process writes this file."""

    async def update(self, incident_id: str, update: IncidentUpdate, now: datetime) -> None:
        await self._submit(lambda conn: incidents_sql.update(conn, incident_id, update, now))

    async def active_incidents(self) -> list[str]:
        return await self._reader.run(incidents_sql.active_incidents)

    async def ping(self) -> None:
        await self._reader.run(lambda conn: conn.execute("SELECT 1").fetchone())
        if self._task is None or self._task.done():
            raise StoreUnavailable("store writer is not running")

    async def get_incident(self, incident_id: str) -> Incident | None:
        return await self._reader.run(lambda c: incidents_sql.get_incident(c, incident_id))

    async def list_incidents(self, state: State | None, limit: int) -> list[IncidentSummary]:
        return await self._reader.run(lambda c: incidents_sql.list_incidents(c, state, limit))

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

        return await self._submit(job)

    async def claim_due(self, now: datetime, limit: int) -> list[Delivery]:
        return await self._submit(lambda conn: outbox_sql.claim_due(conn, now, limit))

    async def finish_delivery(self, delivery_id: int, *, delivered: bool, now: datetime,
                              error: str | None = None, retry_at: datetime | None = None) -> None:
        await self._submit(lambda conn: outbox_sql.finish(
            conn, delivery_id, delivered=delivered, now=now, error=error, retry_at=retry_at))

    async def save_evidence(self, bundle: EvidenceBundle, entry: TimelineEntry) -> int:
        def job(conn: sqlite3.Connection) -> int:
            evidence_id = outbox_sql.save_evidence(conn, bundle)
            incidents_sql.append(conn, bundle.incident_id, entry)
            return evidence_id

        return await self._submit(job)

    async def deliveries(self, incident_id: str) -> list[Delivery]:
        return await self._reader.run(lambda c: outbox_sql.deliveries_of(c, incident_id))

    async def evidence(self, incident_id: str) -> list[EvidenceBundle]:
        return await self._reader.run(lambda c: outbox_sql.evidence_of(c, incident_id))

    async def count_deliveries(self) -> dict[str, int]:
        return await self._reader.run(outbox_sql.count_deliveries)
