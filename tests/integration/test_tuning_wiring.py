"""The tuning settings reach what they tune: ``create_app`` builds the outbox policy, the
supervisor and the store from them; the runbook and the job-log tails run that many at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import asyncpg
import pytest

from service.api.keys import STORE, SUPERVISOR
from service.app import build_store
from service.cluster.client import KubeClient
from service.config.wording import runbook_text
from service.domain.evidence import JobInfo
from service.domain.incidents import Incident
from service.notify.notifier import Notifier
from service.runbook.diagnostics import failed_jobs
from service.runbook.observer import BlindObserver
from service.runbook.pipeline import Runbook
from service.runtime.clock import ManualClock, SystemClock
from service.runtime.metrics import Metrics
from service.runtime.workqueue import WorkQueue
from service.store.base import Store, StoreUnavailable
from service.store.sqlite import SqliteStore
from tests.adapters.fakes.webhook import FakeWebhook
from tests.adapters.pg_server import shared
from tests.adapters.test_store_contract import T0, message, open_incident
from tests.conftest import AppStarter, make_settings
from tests.waiting import until


class _Peak:
    """Counts how many calls run at the same time: each call is held until ``limit`` run at
    once, so an unbounded caller shows more than ``limit`` (no sleep: the calls themselves
    are the clock)."""

    def __init__(self, limit: int, total: int) -> None:
        self.limit, self.total = limit, total
        self.now = self.peak = self.done = 0
        self._full, self.finished = asyncio.Event(), asyncio.Event()

    async def hold(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)
        if self.now >= self.limit:
            self._full.set()
        await self._full.wait()
        self.now -= 1
        self.done += 1
        if self.done == self.total:
            self.finished.set()


async def test_env_outbox_settings_reach_the_worker_create_app_starts(
        tmp_path: Path, start_app: AppStarter, clock: ManualClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen from a webhook sink: the worker looks every 5 s (the default), claims 3 at a
    time (``outbox.batch``) and caps a Retry-After of 1000 s at 120 s
    (``outbox.retry_after_max_s``)."""
    monkeypatch.setenv("AISLOT_OUTBOX__BATCH", "3")
    monkeypatch.setenv("AISLOT_OUTBOX__RETRY_AFTER_MAX_S", "120")
    sink = FakeWebhook()
    await sink.start()
    try:
        # The runbook's own messages (opened, ...) are not routed to this sink.
        client = await start_app(make_settings(tmp_path, sinks={"chat": {
            "type": "webhook", "url": sink.hook_url, "audience": "oncall",
            "events": ["resolved"]}}))
        store = client.app[STORE]  # type: ignore[attr-defined]
        start = clock.now()
        incident_id = await open_incident(store)
        for n in range(5):
            await store.enqueue(message(incident_id, key=f"opened-{n}"), ["chat"], start)
        release = sink.hold_next(429, retry_after="1000")
        async with asyncio.timeout(30):  # only a hung test fails on it
            await clock.slept_until(start + timedelta(seconds=5))  # the outbox's next look
            clock.advance(5)
            await until(lambda: len(sink.received) == 1, "the first message sent")
            statuses = [d.status for d in (await incident_of(store, incident_id)).deliveries]
            assert sorted(statuses) == ["pending", "pending", "sending", "sending", "sending"]
            release.set()
            await until(lambda: all_waiting(store, incident_id), "every delivery rescheduled")
        retry_at = {d.next_attempt_at for d in (await incident_of(store, incident_id)).deliveries}
        assert retry_at == {clock.now() + timedelta(seconds=120)}
        assert len(sink.received) == 1  # the others wait with the first: no second request
    finally:
        await sink.close()


async def incident_of(store: Store, incident_id: str) -> Incident:
    found = await store.get_incident(incident_id)
    assert found is not None
    return found


async def all_waiting(store: Store, incident_id: str) -> bool:
    """Every delivery of the incident tried once and pending again."""
    deliveries = (await incident_of(store, incident_id)).deliveries
    return all(d.status == "pending" and d.attempts == 1 for d in deliveries)


async def test_supervisor_restarts_with_the_configured_delays(
        tmp_path: Path, start_app: AppStarter, clock: ManualClock) -> None:
    client = await start_app(make_settings(
        tmp_path, server={"task_restart_delay_s": 7, "task_restart_delay_max_s": 11}))
    runs = 0
    settled = asyncio.Event()

    async def crashy() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise RuntimeError("crash")
        settled.set()
        await asyncio.Event().wait()

    start = clock.now()
    client.app[SUPERVISOR].spawn("crashy", crashy)  # type: ignore[attr-defined]
    # The restarts wait on the app's clock: 7 s, then doubled but capped at 11 s (no other
    # loop of the app sleeps until these instants).
    await clock.slept_until(start + timedelta(seconds=7))
    clock.advance(7)
    await clock.slept_until(start + timedelta(seconds=18))
    assert runs == 2
    clock.advance(11)
    await settled.wait()
    assert runs == 3


async def test_sqlite_busy_timeout_is_the_configured_one(
        tmp_path: Path, start_app: AppStarter) -> None:
    client = await start_app(make_settings(tmp_path, store={"sqlite_busy_timeout_ms": 1234}))
    store = client.app[STORE]  # type: ignore[attr-defined]
    assert isinstance(store, SqliteStore)
    pragmas = await store.pragmas()
    assert {name: p["busy_timeout"] for name, p in pragmas.items()} == {
        "writer": 1234, "reader": 1234}


async def claimed_again_after(store: Store, incident_id: str, *, lease_s: int) -> None:
    """A delivery claimed at T0 is not due a second before ``lease_s``, and is at it."""
    await store.enqueue(message(incident_id), ["chat"], T0)
    (claimed,) = await store.claim_due(T0, 10)
    assert await store.claim_due(T0 + timedelta(seconds=lease_s - 1), 10) == []
    (again,) = await store.claim_due(T0 + timedelta(seconds=lease_s), 10)
    assert (again.id, again.attempts) == (claimed.id, 2)


async def test_sqlite_claim_lease_is_the_configured_one(tmp_path: Path) -> None:
    """A claimed delivery is another worker's again after ``store.claim_lease_s``, in SQLite
    as in PostgreSQL (it was a constant)."""
    store = build_store(make_settings(tmp_path, store={"claim_lease_s": 30}))
    await store.open()
    try:
        await claimed_again_after(store, await open_incident(store), lease_s=30)
    finally:
        await store.close()


async def test_postgres_store_runs_with_the_store_settings(tmp_path: Path) -> None:
    """Seen from the server: at most ``postgres_pool_size`` connections, a claim leased for
    ``claim_lease_s``."""
    dsn = await shared().acreate_database()
    store = build_store(make_settings(tmp_path, store={
        "backend": "postgres", "postgres_dsn": dsn, "timeout_s": 10, "postgres_pool_size": 4,
        "claim_lease_s": 45}))
    await store.open()
    # The lock is taken on a connection of its own: in a transaction, pg_stat_activity
    # stands still.
    admin = await asyncpg.connect(dsn, timeout=10)
    locker = await asyncpg.connect(dsn, timeout=10)
    try:
        incident_id = await open_incident(store)
        # Ten reads at once, each held by a lock on the table until the pool is full.
        lock = locker.transaction()
        await lock.start()
        await locker.execute("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE")
        reads = asyncio.gather(*(store.get_incident(incident_id) for _ in range(10)))

        async def waiting() -> bool:
            return await responder_backends(admin, "Lock") >= 4

        await until(waiting, "the pool's connections waiting on the lock")
        await lock.rollback()
        assert all(found is not None for found in await reads)
        assert await responder_backends(admin) == 4  # as many as were ever opened

        await claimed_again_after(store, incident_id, lease_s=45)
    finally:
        await admin.close()
        await locker.close()
        await store.close()


async def test_postgres_store_gives_up_after_the_configured_deadlines(tmp_path: Path) -> None:
    """``timeout_s`` bounds an operation, ``postgres_migrate_timeout_s`` the start; each
    failure names the deadline it ran into."""
    dsn = await shared().acreate_database()
    store = build_store(make_settings(tmp_path, store={
        "backend": "postgres", "postgres_dsn": dsn, "timeout_s": 0.3}))
    await store.open()
    admin = await asyncpg.connect(dsn, timeout=10)
    try:
        async with admin.transaction():
            await admin.execute("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(StoreUnavailable, match=r"did not answer within 0\.3s"):
                await store.get_incident("inc-none")
    finally:
        await admin.close()
        await store.close()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts, never answers: a server that is not ready

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        starting = build_store(make_settings(tmp_path, store={
            "backend": "postgres", "postgres_dsn": f"postgresql://u@127.0.0.1:{port}/x",
            "timeout_s": 0.2, "postgres_migrate_timeout_s": 0.4}))
        with pytest.raises(StoreUnavailable, match=r"not ready within 0\.4s"):
            await starting.open()
    finally:
        server.close()
        await server.wait_closed()


async def responder_backends(admin: asyncpg.Connection, waiting_on: str | None = None) -> int:
    """The responder's connections to this database, as the server lists them (those
    waiting on ``waiting_on`` only, when given)."""
    count: int = await admin.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = 'aislot-responder' "
        "AND ($1::text IS NULL OR wait_event_type = $1)", waiting_on)
    return count


async def test_runbook_investigates_as_many_at_once_as_configured(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, diagnostics={"investigations_at_once": 2})
    work = WorkQueue()
    notifier = Notifier(route=lambda _m: [], wake_outbox=lambda: None,
                        text=runbook_text(settings), public_url="http://x",
                        rollback_plan="plan")
    runbook = Runbook(settings=settings, store=build_store(settings),
                      observer=BlindObserver("none here", settings, SystemClock()), mitigator=None,
                      clock=SystemClock(), work=work, notifier=notifier, metrics=Metrics())
    peak = _Peak(limit=2, total=6)

    async def investigate(incident_id: str) -> None:
        await peak.hold()

    runbook.investigate = investigate  # type: ignore[method-assign]
    loop = asyncio.create_task(runbook.run_investigations())
    work.incidents_changed([f"inc-{n}" for n in range(6)])
    try:
        await peak.finished.wait()
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
    assert peak.peak == 2


async def test_job_log_tails_are_read_as_many_at_once_as_configured(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings(tmp_path, diagnostics={"job_log_tails_at_once": 3})
    peak = _Peak(limit=3, total=10)

    async def read_tail(*args: Any, **kwargs: Any) -> failed_jobs.JobTail:
        await peak.hold()
        return failed_jobs.JobTail()

    monkeypatch.setattr(failed_jobs, "read_tail", read_tail)
    names = [f"build-{n}" for n in range(10)]
    pods = {"items": [{"metadata": {"name": f"{name}-pod", "ownerReferences": [
        {"kind": "Job", "name": name}]}} for name in names]}
    wanted = [({}, JobInfo(name=name, kind="build", status="Failed")) for name in names]
    tails, problem = await failed_jobs.tails_of(cast(KubeClient, object()),
                                                settings.diagnostics, wanted, pods)
    assert problem is None and set(tails) == set(names)
    assert peak.peak == 3
