"""SQLite backend (WAL): the embedded default store.

Writes go through a ``GroupCommit`` writer (sqlite_writer.py): batches of jobs in one
transaction, one fsync per batch, each caller answered after the commit that holds its write.
Reads use a second connection on its own thread, which WAL lets run beside the writer. The
operations are ``SqlStore``'s; a job is a coroutine over ``SqliteTx``, run to its end on the
writer's batch by ``drive`` (it never suspends).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import structlog

from service.domain.incidents import IdentityRules
from service.store import outbox
from service.store.base import StoreUnavailable
from service.store.dialect import SqliteTx, drive
from service.store.schema import migrate_sqlite
from service.store.sql_store import Job, SqlStore, T
from service.store.sqlite_writer import Connection, GroupCommit

log = structlog.get_logger(__name__)

# What ``pragmas()`` reports of each connection: the settings ``open()`` gives them.
_REPORTED = ("journal_mode", "synchronous", "foreign_keys", "busy_timeout", "query_only")


class SqliteStore(SqlStore):
    """Incidents in one SQLite file; see the module docstring for the write path."""

    def __init__(self, path: Path, *, rules: IdentityRules, related_issue: str | None = None,
                 batch_max: int = 256, timeout_s: float = 5.0, busy_timeout_ms: int = 5000,
                 claim_lease_s: float = 120.0) -> None:
        super().__init__(rules=rules, related_issue=related_issue, claim_lease_s=claim_lease_s)
        self._path = path
        self._busy_timeout = f"busy_timeout={int(busy_timeout_ms)}"
        self._writer = Connection(path, "sqlite-writer")
        self._reader = Connection(path, "sqlite-reader")
        self._commits = GroupCommit(self._writer, batch_max=batch_max, timeout_s=timeout_s)

    async def open(self) -> None:
        """Open and migrate; a file that cannot be opened is ``StoreUnavailable`` saying so.

        Claims left by an earlier process are given back: only one process uses the file."""
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            await self._writer.open("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
                                    self._busy_timeout)
        except (OSError, sqlite3.Error) as exc:
            await self._writer.close()
            raise StoreUnavailable(f"sqlite: cannot open {self._path}: {exc}") from exc
        for number in await self._writer.run(migrate_sqlite):
            log.info("store_migrated", version=number, path=str(self._path))
        released = await self._writer.run(self._job(lambda tx: outbox.release_claims(tx, None)))
        if released:
            log.info("outbox_claims_released", deliveries=released)
        await self._reader.open(self._busy_timeout, "query_only=ON")
        self._commits.start()
        # What SQLite granted, not what was asked: WAL is refused on some network filesystems.
        log.info("store_opened", path=str(self._path), **await self.pragmas())

    async def close(self) -> None:
        await self._commits.stop()
        await self._reader.close()
        await self._writer.close()

    @staticmethod
    def _job(job: Job[T]) -> Callable[[sqlite3.Connection], T]:
        return lambda conn: drive(job(SqliteTx(conn)))

    async def _write(self, job: Job[T]) -> T:
        return await self._commits.submit(self._job(job))

    async def _read(self, job: Job[T]) -> T:
        return await self._reader.run(self._job(job))

    async def lead(self) -> bool:
        """One process owns an SQLite file: it always runs the runbook loops."""
        return True

    async def follow_changes(self, on_change: Callable[[list[str]], None]) -> None:
        """Nothing to follow: no other process writes this file."""

    async def pragmas(self) -> dict[str, dict[str, int | str]]:
        """Each connection's settings as SQLite reports them (``writer``, ``reader``): what
        the file is really opened with, for a diagnosis, not what was asked for."""

        def read(conn: sqlite3.Connection) -> dict[str, int | str]:
            return {name: conn.execute(f"PRAGMA {name}").fetchone()[0] for name in _REPORTED}

        return {"writer": await self._writer.run(read), "reader": await self._reader.run(read)}

    async def ping(self) -> None:
        await self._reader.run(lambda conn: conn.execute("SELECT 1").fetchone())
        if not self._commits.running:
            raise StoreUnavailable("store writer is not running")
