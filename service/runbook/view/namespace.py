"""One live view of the namespace: jobs, pods and Deployments watched, logs read once.

Purpose: ``NamespaceView`` keeps, in memory and current, what the recovery watch and the
evidence read: the jobs, pods and Deployments (three ``Reflector``s), the control-plane
container logs scanned as they are written and the worker logs (``FollowedLogs``: one
``LogFollower`` per pod; the pods there at the start from ``log_since``, pods of a later
rollout from their first line), each failed job's log tail (``JobTails``: read once, a
finished job's log does not change), the log lines the evidence scans (``LineJournal``) and the
kill switch (read again only when its Deployment changed). Every change bumps ``version`` and
wakes ``wait_changed``; ``facts()`` builds ``Facts`` from memory without a request; ``gaps()``
says what cannot be read, since when and why.
Boundary: reads through ``KubeClient``; run it as a supervised task (``run()``, or
``start``/``stop``, or ``async with``). The decisions on these facts are the policy's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

from service.cluster.client import KubeClient
from service.cluster.errors import KubeError
from service.config.settings import Settings
from service.domain.evidence import KillSwitchState
from service.domain.facts import Facts, Gap
from service.domain.logscan import LogScanner, ScanResult
from service.domain.signatures import SOURCE_CONTROL_PLANE, SOURCE_WORKER
from service.runbook.diagnostics.deployment_logs import scan_limits
from service.runbook.diagnostics.switch_state import read_kill_switch
from service.runbook.view.facts import ViewState, facts_of
from service.runbook.view.followed import FollowedLogs
from service.runbook.view.gaps import GapBook
from service.runbook.view.journal import LineJournal, journal_patterns
from service.runbook.view.logs import LogFollower
from service.runbook.view.reflector import Reflector
from service.runbook.view.tails import JobTails
from service.runtime.clock import Clock


class NamespaceView:
    """The namespace as of now, kept by watches; see the module docstring."""

    def __init__(self, kube: KubeClient, settings: Settings, clock: Clock, *,
                 log_since: datetime | None = None) -> None:
        self.settings, self._kube, self._clock = settings, kube, clock
        self.version = 0
        self._changed = asyncio.Event()
        self._book = GapBook()
        self.log_since = log_since
        args: dict[str, Any] = {"gaps": self._book, "clock": clock, "settings": settings.kube,
                                "notify": self._bump}
        self.jobs = Reflector(kube, "jobs", "batch/v1", part="jobs", **args)
        self.pods = Reflector(kube, "pods", "", part="pods", **args)
        self.deployments = Reflector(kube, "deployments", "apps/v1", part="deployments", **args)
        diag = settings.diagnostics
        self._scan = LogScanner(diag.signatures, SOURCE_CONTROL_PLANE,
                                limits=scan_limits(diag, context=False)).new_state()
        platform, window = settings.platform, diag.log_window_s
        # What the evidence scans of its window, kept as read (``journal``, ``worker_journal``).
        self.journal = LineJournal(journal_patterns(diag.signatures, SOURCE_CONTROL_PLANE),
                                   window_s=window, max_bytes=diag.journal_max_bytes)
        self.worker_journal = LineJournal(journal_patterns(diag.signatures, SOURCE_WORKER),
                                          window_s=window, max_bytes=diag.journal_max_bytes)
        logs: dict[str, Any] = {"pods": self.pods, "deployments": self.deployments,
                                "clock": clock, "notify": self._bump,
                                "since": lambda: self.log_since}
        self.control_plane = FollowedLogs(
            kube, settings, deployment=platform.control_plane_deployment,
            container=platform.control_plane_container, sink=self._feed,
            part="control_plane_logs", gaps=self._book, **logs)
        # The worker logs are the evidence's only (no rule reads them): their gaps are kept
        # apart, so a worker log that cannot be read makes no blind responder.
        self.worker_gaps = GapBook()
        self.workers = FollowedLogs(
            kube, settings, deployment=platform.worker_deployment, container=None,
            sink=lambda lines: self.worker_journal.feed(lines, clock.now()),
            part="worker_logs", gaps=self.worker_gaps, **logs)
        self.job_tails = JobTails(kube, settings, jobs=self.jobs, pods=self.pods,
                                  gaps=self._book, now=clock.now, notify=self._bump)
        self.kill_switch: KillSwitchState | None = None
        self.switch_read: tuple[str | None, ...] | None = None  # the Deployment version it is of
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        if self.log_since is None:
            self.log_since = self._clock.now()
        for work in (self.jobs.run(), self.pods.run(), self.deployments.run(),
                     self._follow_logs(), self._read_tails(), self._read_switch()):
            self._spawn(work)

    async def run(self) -> None:
        """Start, and run until cancelled; a crash of any part stops the rest and is raised,
        for the supervisor to run it again (the cache and each log's place are kept)."""
        await self.start()
        try:
            await asyncio.gather(*self._tasks)
        finally:
            await self.stop()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.append(asyncio.ensure_future(work))

    async def stop(self) -> None:
        tasks = self._tasks + self.control_plane.tasks() + self.workers.tasks()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def __aenter__(self) -> NamespaceView:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- change signal -----------------------------------------------------------------------
    def _bump(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_changed(self, version: int, timeout_s: float | None = None) -> int:
        """Wait until ``version`` is outdated, or ``timeout_s`` seconds of the injected clock;
        returns the current version."""
        if self.version != version:
            return self.version
        changed = asyncio.ensure_future(self._changed.wait())
        waits: set[asyncio.Future[Any]] = {changed}
        if timeout_s is not None:
            waits.add(asyncio.ensure_future(self._clock.sleep(timeout_s)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        return self.version

    @property
    def synced(self) -> bool:
        """Jobs, pods and Deployments listed at least once."""
        return self.jobs.synced and self.pods.synced and self.deployments.synced

    # -- what it holds -----------------------------------------------------------------------
    def state(self) -> ViewState:
        return ViewState(
            jobs=self.jobs.items if self.jobs.synced else None,
            deployments=self.deployments.items if self.deployments.synced else None,
            tails=self.job_tails.tails, scan=self.scan(), kill_switch=self.kill_switch,
            gaps=self._book.gaps())

    def scan(self) -> ScanResult:
        """The control-plane logs read so far, scanned."""
        return self._scan.result()

    def facts(self, *, signature: str, since: datetime, now: datetime) -> Facts:
        """``Facts`` since ``since`` from memory: no API request."""
        return facts_of(self.state(), self.settings, signature=signature, since=since, now=now)

    def gaps(self, now: datetime | None = None) -> list[Gap]:
        """Parts that cannot be read, oldest first (``now``: the caller's clock, unused)."""
        return self._book.gaps()

    # -- logs --------------------------------------------------------------------------------
    @property
    def followers(self) -> dict[str, LogFollower]:
        """The control-plane pods' followers, by pod."""
        return self.control_plane.followers

    def control_plane_pods(self) -> list[dict[str, Any]]:
        return self.control_plane.pods()

    def logs_caught_up(self) -> bool:
        """Every control-plane pod's log read up to now: followed live, or read to its end."""
        return self.control_plane.caught_up()

    def _feed(self, lines: bytes) -> None:
        self._scan.feed(lines)
        self.journal.feed(lines, self._clock.now())
        self._bump()

    async def _follow_logs(self) -> None:
        while True:
            seen = self.version
            self.control_plane.refresh()
            self.workers.refresh()
            await self.wait_changed(seen)

    # -- failed jobs' tails ------------------------------------------------------------------
    async def _read_tails(self) -> None:
        while True:
            seen = self.version
            await self.job_tails.refresh()
            await self.wait_changed(seen, self.settings.kube.view_retry_s)

    # -- the kill switch ---------------------------------------------------------------------
    def switch_key(self) -> tuple[str | None, ...]:
        target = self.settings.mitigation.target
        names = (target.name if target.kind == "deployment-env" else target.restart_deployment,)
        return tuple((self.deployments.items.get(n) or {}).get("metadata", {})
                     .get("resourceVersion") for n in names)

    async def _read_switch(self) -> None:
        while True:
            seen = self.version
            key = self.switch_key()
            if self.deployments.synced and key != self.switch_read:
                try:
                    self.kill_switch = await read_kill_switch(
                        self._kube, self.settings.mitigation.target,
                        self.settings.platform.control_plane_container,
                        dict(self.deployments.items))
                    self.switch_read = key
                    self._book.clear("kill_switch")
                    self._bump()
                except KubeError as exc:
                    if self._book.fail("kill_switch", exc, self._clock.now()):
                        self._bump()
            await self.wait_changed(seen, self.settings.kube.view_retry_s)
