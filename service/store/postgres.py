"""PostgreSQL backend (asyncpg): the store for several replicas sharing one database.

Purpose: the ``Store`` protocol with the same results as ``SqliteStore`` for the same calls:
the operations are ``SqlStore``'s, the statements ``incidents``' and ``outbox``' (one logic
for both dialects); this backend runs each job in a transaction on a ``PostgresTx``.
Boundary: this module owns the pool, transactions, deadlines, retries, migrations and the
mapping of driver errors; callers see domain models, ``StoreUnavailable`` (retry later: the
webhook answers 503), ``KeyError`` and ``IllegalTransition``, never asyncpg.

- Every write is one transaction; every await runs under the store's deadline (``timeout_s``).
- A transaction that loses a race to another replica (unique violation, serialization failure,
  deadlock) or its connection (server restart, failover) is run again from the start on a
  fresh connection, a few times, within the same deadline. A broken connection is terminated,
  never returned to the pool.
- Migrations (``migrations/NNNN_*.sql``, run by ``schema.migrate_postgres``) are applied in one
  transaction under an advisory lock: replicas starting together migrate once.
- Nothing this store says quotes its DSN's password: a DSN it cannot read is reported by what
  is wrong with it (``dsn``), and driver messages are scrubbed of the DSN's secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import asyncpg
import structlog
from tenacity import RetryCallState

from service.config.dsn import dsn_problem, without_dsn_secrets
from service.domain.incidents import IdentityRules
from service.runtime.clock import NETWORK_TIME
from service.runtime.retry import retrying
from service.store import outbox
from service.store.base import StoreUnavailable
from service.store.dialect import CHANGES_CHANNEL, PostgresTx, Tx
from service.store.schema import migrate_postgres
from service.store.sql_store import Job, SqlStore, T

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


class PostgresStore(SqlStore):
    """Incidents in a PostgreSQL database shared by every replica; see the module docstring."""

    def __init__(self, dsn: str, *, rules: IdentityRules, related_issue: str | None = None,
                 timeout_s: float = 5.0, pool_size: int = 10, claim_lease_s: float = 120.0,
                 migrate_timeout_s: float = 60.0) -> None:
        super().__init__(rules=rules, related_issue=related_issue, claim_lease_s=claim_lease_s)
        self._dsn = dsn
        self._timeout = timeout_s
        self._pool_size = pool_size
        self._migrate_timeout = max(migrate_timeout_s, timeout_s)
        self._pool: Any = None
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
                        applied = await migrate_postgres(conn, self._migrate_timeout)
                except BaseException:
                    pool.terminate()
                    raise
        except TimeoutError as exc:
            raise StoreUnavailable(f"postgres: not ready within {self._migrate_timeout}s"
                                   ) from exc
        except (ValueError, LookupError) as exc:  # ClientConfigurationError is a ValueError
            detail = (without_dsn_secrets(str(exc), self._dsn) if isinstance(
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
                await self._leader.add_listener(CHANGES_CHANNEL, heard)
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
            released = await self._write(lambda tx: outbox.release_claims(tx, self._owner))
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

    async def _write(self, job: Job[T]) -> T:
        """Run ``job`` in one read-write transaction."""
        return await self._run(job, write=True)

    async def _read(self, job: Job[T]) -> T:
        """Run ``job`` in a read-only snapshot (one consistent view of several tables)."""
        return await self._run(job, write=False)

    async def _run(self, job: Job[T], *, write: bool) -> T:
        """One transaction, again from the start when it lost a race or its connection,
        all within the deadline; driver failures become ``StoreUnavailable``."""
        pool = self._require_pool()
        try:
            async with asyncio.timeout(self._timeout):
                async for attempt in retrying(
                        clock=NETWORK_TIME, deadline_s=self._timeout, max_attempts=_ATTEMPTS,
                        initial_s=0.01, max_wait_s=0.2, retry_on=_RETRY, on_retry=_log_retry):
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
        detail = without_dsn_secrets(str(exc), self._dsn)
        return StoreUnavailable(f"postgres: {type(exc).__name__}: {detail}")

    @staticmethod
    async def _attempt(pool: Any, job: Job[T], write: bool) -> T:
        async with pool.acquire() as conn:
            try:
                transaction = (conn.transaction() if write else
                               conn.transaction(isolation="repeatable_read", readonly=True))
                async with transaction:
                    return await job(PostgresTx(conn))
            except (*_BROKEN, asyncio.CancelledError):
                # A connection cut off mid-operation may be left in a state asyncpg cannot
                # reset (MagicStack/asyncpg#784): never hand it back to the pool.
                conn.terminate()
                raise

    async def ping(self) -> None:
        async def one(tx: Tx) -> None:
            await tx.fetchval("SELECT 1")

        await self._read(one)
