"""The tuning settings reach what they tune: ``create_app`` builds the outbox policy, the
supervisor and the store from them; the runbook and the job-log tails run that many at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from service import app as app_module
from service.api.keys import STORE, SUPERVISOR
from service.app import build_store
from service.cluster.client import KubeClient
from service.config.wording import runbook_text
from service.domain.evidence import JobInfo
from service.notify.notifier import Notifier
from service.notify.outbox import OutboxPolicy, OutboxWorker
from service.runbook.diagnostics import failed_jobs
from service.runbook.observer import BlindObserver
from service.runbook.pipeline import Runbook
from service.runtime.clock import ManualClock, SystemClock
from service.runtime.metrics import Metrics
from service.runtime.workqueue import WorkQueue
from service.store import postgres
from service.store.sqlite import SqliteStore
from tests.adapters.test_store_contract import T0, message, open_incident
from tests.conftest import AppStarter, make_settings


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


async def test_env_outbox_settings_reach_the_policy_create_app_builds(
        tmp_path: Path, start_app: AppStarter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AISLOT_OUTBOX__BATCH", "3")
    monkeypatch.setenv("AISLOT_OUTBOX__RETRY_AFTER_MAX_S", "120")
    built: list[OutboxPolicy] = []

    class Recording(OutboxWorker):
        def __init__(self, *args: Any, policy: OutboxPolicy | None = None,
                     **kwargs: Any) -> None:
            assert policy is not None
            built.append(policy)
            super().__init__(*args, policy=policy, **kwargs)

    monkeypatch.setattr(app_module, "OutboxWorker", Recording)
    await start_app(make_settings(tmp_path))
    (policy,) = built
    assert (policy.batch, policy.retry_after_max_s) == (3, 120.0)
    assert policy.poll_interval_s == 5.0  # the rest keep their defaults


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
    for conn in (store._writer, store._reader):
        value = await conn.run(lambda c: c.execute("PRAGMA busy_timeout").fetchone()[0])
        assert value == 1234


async def test_sqlite_claim_lease_is_the_configured_one(tmp_path: Path) -> None:
    """A claimed delivery is another worker's again after ``store.claim_lease_s``, in SQLite
    as in PostgreSQL (it was a constant)."""
    store = build_store(make_settings(tmp_path, store={"claim_lease_s": 30}))
    await store.open()
    try:
        incident_id = await open_incident(store)
        await store.enqueue(message(incident_id), ["chat"], T0)
        (claimed,) = await store.claim_due(T0, 10)
        assert await store.claim_due(T0 + timedelta(seconds=29), 10) == []
        (again,) = await store.claim_due(T0 + timedelta(seconds=30), 10)
        assert (again.id, again.attempts) == (claimed.id, 2)
    finally:
        await store.close()


def test_postgres_store_is_built_with_the_store_settings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    given: dict[str, Any] = {}

    def record(dsn: str, **kwargs: Any) -> object:
        given.update(kwargs)
        return object()

    monkeypatch.setattr(postgres, "PostgresStore", record)
    build_store(make_settings(tmp_path, store={
        "backend": "postgres", "postgres_dsn": "postgresql://u@db/x", "timeout_s": 3,
        "postgres_pool_size": 4, "claim_lease_s": 45,
        "postgres_migrate_timeout_s": 90}))
    assert {k: given[k] for k in ("timeout_s", "pool_size", "claim_lease_s",
                                  "migrate_timeout_s")} == {
        "timeout_s": 3.0, "pool_size": 4, "claim_lease_s": 45.0, "migrate_timeout_s": 90.0}


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
