"""PostgreSQL backend (asyncpg): the store for several replicas sharing one database.

Purpose: the ``Store`` protocol with the same results as ``SqliteStore`` for the same calls;
the statements live in ``postgres_incidents`` and ``postgres_outbox`` and carry out the same
pure decisions (``plan_alert``, ``transition``) as the SQLite store.
Boundary: this module owns the pool, transactions, deadlines, retries, migrations and the
mapping of driver errors; callers see domain models, ``StoreUnavailable`` (retry later: the
webhook answers 503), ``KeyError`` and ``IllegalTransition``, never asyncpg.

- Every write is one transaction; every await runs under the store's deadline (``timeout_s``).
- A transaction that loses a race to another replica (unique violation, serialization failure,
  deadlock) or its connection (server restart, failover) is run again from the start on a
  fresh connection, a few times, within the same deadline. A broken connection is terminated,
  never returned to the pool.
- Migrations (``migrations_pg/NNNN_*.sql``, run by ``postgres_schema``) are applied in one
  transaction under an advisory lock: replicas starting together migrate once.
- Nothing this store says quotes its DSN's password: a DSN it cannot read is reported by what
  is wrong with it (``dsn``), and driver messages are scrubbed of the DSN's secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
import structlog
from tenacity import RetryCallState

from service.domain.alerts import Notification
from service.domain.evidence import EvidenceBundle
from service.domain.incidents import IdentityRules, Incident, IncidentSummary, TimelineEntry
from service.domain.lifecycle import State
from service.domain.messages import Delivery, Message
from service.retry import retrying
from service.store import postgres_incidents as incidents_sql
from service.store import postgres_outbox as outbox_sql
from service.store.base import IncidentUpdate, IngestResult, StoreUnavailable
from service.store.dsn import dsn_problem, scrub
from service.store.postgres_schema import migrate

T = TypeVar("T")
Conn = Any  # asyncpg.Connection (the driver ships no type hints)
log = structlog.get_logger(__name__)

_ATTEMPTS = 4
_BROKEN = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
           asyncpg.exceptions.InternalClientError, OSError)
_RETRY = (asyncpg.UniqueViolationError, asyncpg.SerializationError,
          asyncpg.DeadlockDetectedError, asyncpg.AdminShutdownError,
          asyncpg.CannotConnectNowError, *_BROKEN)
_DRIVER_ERRORS = (asyncpg.PostgresError, *_BROKEN)


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    log.info("store_retry", error=type(error).__name__, attempt=state.attempt_number)


# The advisory lock whose holder runs the runbook loops ("leader" in ASCII); not the
# migration lock, which a leader holding it for life would keep every other replica out of.
_LEADER_LOCK = 0x6C6561646572


class PostgresStore:
    """Incidents in a PostgreSQL database shared by every replica; see the module docstring."""

    def __init__(self, dsn: str, *, rules: IdentityRules, related_issue: str | None = None,
                 timeout_s: float = 5.0, pool_size: int = 10, claim_lease_s: float = 120.0,
                 migrate_timeout_s: float = 60.0) -> None:
        self._dsn = dsn
        self._rules = rules
        self._related_issue = related_issue
        self._timeout = timeout_s
        self._pool_size = pool_size
        self._lease = claim_lease_s
        self._migrate_timeout = max(migrate_timeout_s, timeout_s)
        self._pool: Any = None
        self._owner = f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"
        self._leader: Any = None

    async def open(self) -> None:
        """Connect and migrate. A DSN the driver cannot read becomes ``StoreUnavailable``
        saying what is wrong with it, never quoting it (it holds the password)."""
        if (problem := dsn_problem(self._dsn)) is not None:
            raise StoreUnavailable(f"postgres: invalid DSN ({problem})")
        try:
            async with asyncio.timeout(self._migrate_timeout):
                pool = await asyncpg.create_pool(
                    self._dsn, min_size=1, max_size=self._pool_size,
                    command_timeout=self._timeout, timeout=self._timeout,
                    server_settings={"application_name": "aislot-responder"})
                try:
                    async with pool.acquire() as conn:
                        applied = await migrate(conn, self._migrate_timeout)
                except BaseException:
                    pool.terminate()
                    raise
        except TimeoutError as exc:
            raise StoreUnavailable(f"postgres: not ready within {self._migrate_timeout}s"
                                   ) from exc
        except (ValueError, LookupError) as exc:  # ClientConfigurationError is a ValueError
            detail = (scrub(str(exc), self._dsn) if isinstance(
                exc, asyncpg.ClientConfigurationError) else f"unreadable: {type(exc).__name__}")
            raise StoreUnavailable(f"postgres: invalid DSN ({detail})") from None
        except _DRIVER_ERRORS as exc:
            raise self._unavailable(exc) from exc
        for number in applied:
            log.info("store_migrated", version=number, backend="postgres")
        self._pool = pool

    async def lead(self) -> bool:
        """Try to become the replica that runs the runbook loops: a session advisory lock,
        held on a connection of its own for as long as this store is open."""
        if self._leader is not None:
            return True
        try:
            async with asyncio.timeout(self._timeout):
                conn = await asyncpg.connect(self._dsn, server_settings={
                    "application_name": "aislot-responder-leader"})
                if await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LEADER_LOCK):
                    self._leader = conn
                    log.info("store_leadership_acquired", owner=self._owner)
                    return True
                await conn.close()
        except (TimeoutError, *_DRIVER_ERRORS) as exc:
            log.warning("store_leadership_unavailable", error=type(exc).__name__)
        return False

    async def follow_changes(self, on_change: Callable[[list[str]], None]) -> None:
        """While leading, hear which incidents other replicas' webhooks changed (LISTEN on the
        leader's own connection), so their investigation starts at once, not at the next
        watch pass."""
        if self._leader is None:
            raise StoreUnavailable("follow_changes needs leadership")

        def heard(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            on_change([incident_id for incident_id in payload.split(",") if incident_id])

        try:
            async with asyncio.timeout(self._timeout):
                await self._leader.add_listener(incidents_sql.CHANGES_CHANNEL, heard)
        except (TimeoutError, *_DRIVER_ERRORS) as exc:
            raise StoreUnavailable(f"postgres: cannot listen: {type(exc).__name__}") from exc

    async def close(self) -> None:
        """Give this store's outbox claims back (due again at once elsewhere), then close."""
        if self._leader is not None:
            leader, self._leader = self._leader, None
            with contextlib.suppress(Exception):
                await leader.close()
        if self._pool is None:
            return
        with contextlib.suppress(StoreUnavailable):
            released = await self._write(lambda conn: outbox_sql.release_claims(conn,
                                                                                self._owner))
            if released:
                log.info("outbox_claims_released", deliveries=released)
        pool, self._pool = self._pool, None
        try:
            async with asyncio.timeout(self._timeout):
                await pool.close()
        except (TimeoutError, *_DRIVER_ERRORS):
            pool.terminate()

    # -- transactions ----------------------------------------------------------------------

    def _require_pool(self) -> Any:
        if self._pool is None:
            raise StoreUnavailable("store is not open")
        return self._pool

    async def _write(self, job: Callable[[Conn], Awaitable[T]]) -> T:
        """Run ``job`` in one read-write transaction."""
        return await self._run(job, write=True)

    async def _read(self, job: Callable[[Conn], Awaitable[T]]) -> T:
        """Run ``job`` in a read-only snapshot (one consistent view of several tables)."""
        return await self._run(job, write=False)

    async def _run(self, job: Callable[[Conn], Awaitable[T]], *, write: bool) -> T:
        """One transaction, again from the start when it lost a race or its connection,
        all within the deadline; driver failures become ``StoreUnavailable``."""
        pool = self._require_pool()
        try:
            async with asyncio.timeout(self._timeout):
                async for attempt in retrying(
                        deadline_s=self._timeout, max_attempts=_ATTEMPTS, initial_s=0.01,
                        max_wait_s=0.2, retry_on=_RETRY, on_retry=_log_retry):
                    with attempt:
                        return await self._attempt(pool, job, write)
                raise AssertionError("unreachable: the last failure is re-raised")
        except TimeoutError as exc:
            what = "commit" if write else "answer"
            raise StoreUnavailable(f"store did not {what} within {self._timeout}s") from exc
        except _DRIVER_ERRORS as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        """A driver failure, in words without the DSN's secrets."""
        return StoreUnavailable(f"postgres: {type(exc).__name__}: {scrub(str(exc), self._dsn)}")

    @staticmethod
    async def _attempt(pool: Any, job: Callable[[Conn], Awaitable[T]], write: bool) -> T:
        async with pool.acquire() as conn:
            try:
                transaction = (conn.transaction() if write else
                               conn.transaction(isolation="repeatable_read", readonly=True))
                async with transaction:
                    return await job(conn)
            except (*_BROKEN, asyncio.CancelledError):
                # A connection cut off mid-operation may be left in a state asyncpg cannot
                # reset (MagicStack/asyncpg#784): never hand it back to the pool.
                conn.terminate()
                raise

    async def ping(self) -> None:
        async def one(conn: Conn) -> None:
            await conn.fetchval("SELECT 1")

        await self._read(one)

    # -- incidents -------------------------------------------------------------------------

    async def ingest(self, notification: Notification, raw: bytes,
                     received_at: datetime) -> IngestResult:
        return await self._write(lambda conn: incidents_sql.ingest(
            conn, notification, raw, received_at, self._rules, self._related_issue))

    async def move(self, incident_id: str, target: State, entry: TimelineEntry) -> Incident:
        """Change an incident's state through ``transition()`` and record why."""
        await self._write(lambda conn: incidents_sql.move(conn, incident_id, target, entry))
        incident = await self.get_incident(incident_id)
        assert incident is not None
        return incident

    async def update(self, incident_id: str, update: IncidentUpdate, now: datetime) -> None:
        await self._write(lambda conn: incidents_sql.update(conn, incident_id, update, now))

    async def active_incidents(self) -> list[str]:
        return await self._read(incidents_sql.active_incidents)

    async def get_incident(self, incident_id: str) -> Incident | None:
        return await self._read(lambda conn: incidents_sql.get_incident(conn, incident_id))

    async def list_incidents(self, state: State | None, limit: int,
                             before: str | None = None) -> list[IncidentSummary]:
        return await self._read(
            lambda conn: incidents_sql.list_incidents(conn, state, limit, before))

    async def count_by_state(self) -> dict[str, int]:
        return await self._read(incidents_sql.count_by_state)

    # -- outbox and evidence ---------------------------------------------------------------

    async def enqueue(self, message: Message, sinks: list[str], now: datetime) -> list[int]:
        async def job(conn: Conn) -> list[int]:
            ids = await outbox_sql.enqueue(conn, message, sinks, now)
            if ids:
                await incidents_sql.append(conn, message.incident_id,
                                           outbox_sql.queued_entry(message, sinks, now))
            return ids

        return await self._write(job)

    async def claim_due(self, now: datetime, limit: int) -> list[Delivery]:
        return await self._write(lambda conn: outbox_sql.claim_due(conn, now, limit,
                                                                   self._lease, self._owner))

    async def finish_delivery(self, delivery_id: int, *, delivered: bool, now: datetime,
                              error: str | None = None, retry_at: datetime | None = None) -> None:
        await self._write(lambda conn: outbox_sql.finish(
            conn, delivery_id, delivered=delivered, now=now, error=error, retry_at=retry_at))

    async def save_evidence(self, bundle: EvidenceBundle, entry: TimelineEntry) -> int:
        async def job(conn: Conn) -> int:
            evidence_id = await outbox_sql.save_evidence(conn, bundle)
            await incidents_sql.append(conn, bundle.incident_id, entry)
            return evidence_id

        return await self._write(job)

    async def deliveries(self, incident_id: str) -> list[Delivery]:
        return await self._read(lambda conn: outbox_sql.deliveries_of(conn, incident_id))

    async def evidence(self, incident_id: str) -> list[EvidenceBundle]:
        return await self._read(lambda conn: outbox_sql.evidence_of(conn, incident_id))

    async def count_deliveries(self) -> dict[str, int]:
        return await self._read(outbox_sql.count_deliveries)
