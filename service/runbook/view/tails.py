"""Failed jobs' log tails for the live view: each read once, a finished job's log being final.

Purpose: for every failed build/mirror/codegen job the view holds, read its pod's tail once
(``read_tail``, as the failed-jobs collector does) and keep it with its signature. A job seen
before its pod (the pods watch lagging the jobs watch) waits for the pod a while; a tail that
could not be read opens the ``job_logs`` gap and is tried again after ``view_retry_s``.
Boundary: reads through ``KubeClient``; the jobs and pods come from the view's reflectors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from service.cluster import objects
from service.cluster.client import KubeClient
from service.cluster.errors import KubeError, KubeNotFound
from service.config.settings import Settings
from service.domain.evidence import JobInfo
from service.runbook.diagnostics.job_logs import JobTail, SignatureDetector, pods_by_job, read_tail
from service.runbook.view.gaps import GapBook
from service.runbook.view.reflector import Reflector


class JobTails:
    """The tails read so far, by job name (``tails``)."""

    def __init__(self, kube: KubeClient, settings: Settings, *, jobs: Reflector,
                 pods: Reflector, gaps: GapBook, now: Callable[[], datetime],
                 notify: Callable[[], None]) -> None:
        self.tails: dict[str, JobTail] = {}
        self.reads = 0
        self._kube, self._settings, self._jobs, self._pods = kube, settings, jobs, pods
        self._gaps, self._now, self._notify = gaps, now, notify
        self._failed: dict[str, datetime] = {}  # tails that could not be read, when
        self._podless: dict[str, datetime] = {}  # failed jobs seen without a pod, since
        self._detect = SignatureDetector(settings.diagnostics.signatures)
        self._gate = asyncio.Semaphore(settings.diagnostics.job_log_tails_at_once)

    def _wanted(self, now: datetime) -> list[JobInfo]:
        platform, retry = self._settings.platform, self._settings.kube.view_retry_s
        wanted = []
        for job in self._jobs.items.values():
            info = objects.job_info(job, platform)
            if info.status != "Failed" or info.name in self.tails:
                continue
            if not objects.is_platform_job(job, info.kind, platform):
                continue
            failed_at = self._failed.get(info.name)
            if failed_at is None or (now - failed_at).total_seconds() >= retry:
                wanted.append(info)
        return wanted

    async def refresh(self) -> None:
        """Read the tails not read yet; forget those of jobs gone (with their TTL)."""
        if not (self._jobs.synced and self._pods.synced):
            return
        for gone in set(self.tails) - set(self._jobs.items):
            del self.tails[gone]
            self._podless.pop(gone, None)
        pods = pods_by_job(list(self._pods.items.values()))
        await asyncio.gather(*(self._one(info, pods.get(info.name))
                               for info in self._wanted(self._now())))

    async def _one(self, info: JobInfo, pod: dict[str, Any] | None) -> None:
        if pod is None:
            # The pods watch may lag the jobs watch: wait for the pod a while; then, as the
            # collectors do, a job without a pod (gone with its TTL) has nothing to read.
            now = self._now()
            first = self._podless.setdefault(info.name, now)
            if (now - first).total_seconds() >= self._settings.kube.view_retry_s:
                self.tails[info.name] = JobTail()
                self._notify()
            return
        async with self._gate:
            try:
                self.reads += 1
                tail = await read_tail(self._kube, pod, kind=info.kind,
                                       diag=self._settings.diagnostics, detect=self._detect)
            except KubeNotFound:
                tail = JobTail()
            except KubeError as exc:
                self._failed[info.name] = self._now()
                if self._gaps.fail("job_logs", exc, self._now()):
                    self._notify()
                return
        self.tails[info.name] = tail
        self._failed.pop(info.name, None)
        if not self._failed:
            self._gaps.clear("job_logs")
        self._notify()
