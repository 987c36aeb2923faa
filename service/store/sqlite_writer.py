"""Group commit for the SQLite store: one writer task, whole batches in one transaction.

A burst of webhooks costs one fsync, not one each, and every caller is answered only after the
commit that holds its write. If one job of a batch fails, the batch is run again with a
savepoint per job, so one bad job does not undo its batch-mates.

Where each part runs is measured, not guessed. A batch's statements run on the event loop
itself: they take microseconds each, whereas a hop to another thread costs a GIL hand-over per
statement (sqlite3 releases the GIL around every step), which under load made the hand-overs,
not the SQL, the cost of intake (about 1 ms of CPU per webhook). Only ``COMMIT``, whose fsync
takes most of a millisecond here, goes to the writer connection's thread, so the loop keeps
serving while the disk flushes and the next batch gathers.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import structlog

from service.store.base import StoreUnavailable

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]
log = structlog.get_logger(__name__)


class Connection:
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


class GroupCommit:
    """The store's only writer: ``submit`` a job, get its result once its batch committed."""

    def __init__(self, conn: Connection, *, batch_max: int, timeout_s: float) -> None:
        self._writer = conn
        self._batch_max = batch_max
        self._timeout = timeout_s
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=batch_max * 8)
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.create_task(self._write_loop(), name="sqlite-writer")

    async def stop(self) -> None:
        """Stop writing; jobs still queued fail with ``StoreUnavailable``."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            self._fail([self._queue.get_nowait()], StoreUnavailable("store is closing"))

    async def submit(self, job: Callable[[sqlite3.Connection], T]) -> T:
        if not self.running:
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
