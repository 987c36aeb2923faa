"""Runbook step 4: failed build/mirror/codegen jobs, by creation time, with their log tails.

Purpose: ``kubectl get jobs --sort-by=.metadata.creationTimestamp | grep -E
"kaniko|mirror|build|Failed|Error"`` as data: each failed job of the window with its kind (from
the configured selectors), reason (its Failed condition), times, run id, the redacted tail of
its pod's log and the signature in that tail. Failed jobs vanish 10 minutes after they end
(``ttlSecondsAfterFinished``), so this runs as soon as the incident opens.
Boundary: reads through ``KubeClient``; built from the platform's names and the diagnostics
section. A forbidden or broken tail leaves that job without lines
and the outcome says so (``forbidden`` with the hint, data kept).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.cluster import objects
from service.cluster.client import KubeClient
from service.cluster.errors import KubeError, KubeNotFound
from service.config.settings import DiagnosticsSettings, PlatformObjects
from service.domain.evidence import FailedJob, FailedJobs, JobInfo
from service.runbook.diagnostics.collector import Reading, Window
from service.runbook.diagnostics.job_logs import JobTail, SignatureDetector, pods_by_job, read_tail
from service.runbook.diagnostics.outcome import Incomplete


async def tails_of(kube: KubeClient, diag: DiagnosticsSettings,
                   wanted: list[tuple[dict[str, Any], JobInfo]],
                   pod_list: dict[str, Any] | None = None,
                   ) -> tuple[dict[str, JobTail], KubeError | None]:
    """Log tails of the given jobs, a few at a time; the first failure is returned, not raised.

    ``pod_list`` is the namespace's pod list when the caller already has it.
    """
    if not wanted:
        return {}, None
    pods = pods_by_job(objects.items(pod_list if pod_list is not None
                                     else await kube.list_pods()))
    gate = asyncio.Semaphore(diag.job_log_tails_at_once)
    detect = SignatureDetector(diag.signatures)
    failures: list[KubeError] = []

    async def one(info: JobInfo) -> tuple[str, JobTail]:
        pod = pods.get(info.name)
        if pod is None:
            return info.name, JobTail()
        async with gate:
            try:
                return info.name, await read_tail(kube, pod, kind=info.kind,
                                                  diag=diag, detect=detect)
            except KubeNotFound:
                # The pod went with its job's TTL between the listing and the read: normal
                # (failed jobs vanish after 10 minutes), not a failed diagnostic.
                return info.name, JobTail()
            except KubeError as exc:
                failures.append(exc)
                return info.name, JobTail()

    done = await asyncio.gather(*(one(info) for _, info in wanted))
    return dict(done), (failures[0] if failures else None)


def failed_in_window(listing: dict[str, Any], platform: PlatformObjects,
                     since: datetime) -> list[tuple[dict[str, Any], JobInfo]]:
    """Failed platform jobs created at or after ``since``, oldest first."""
    out = []
    for job in sorted(objects.items(listing), key=objects.creation_order):
        info = objects.job_info(job, platform)
        if info.status != "Failed" or not objects.is_platform_job(job, info.kind, platform):
            continue
        if info.created_at is not None and info.created_at < since:
            continue
        out.append((job, info))
    return out


def recent_of(failed: list[tuple[dict[str, Any], JobInfo]],
              diag: DiagnosticsSettings) -> list[tuple[dict[str, Any], JobInfo]]:
    """The failed jobs whose tails are read: the most recent, which the message shows."""
    return failed[-diag.max_excerpts:]


def with_tails(failed: list[tuple[dict[str, Any], JobInfo]], tails: Mapping[str, JobTail],
               diag: DiagnosticsSettings) -> FailedJobs:
    """The failed jobs, the most recent with their tails and the signature found there."""
    recent = {info.name for _, info in recent_of(failed, diag)}
    jobs = []
    for _, info in failed:
        tail = tails.get(info.name, JobTail()) if info.name in recent else JobTail()
        jobs.append(FailedJob(**info.model_dump(), signature=tail.signature,
                              last_lines=tail.lines))
    return FailedJobs(jobs=jobs)


@dataclass(frozen=True)
class FailedJobsCollector:
    """Failed build/mirror/codegen jobs created in the window, the most recent with tails."""

    platform: PlatformObjects
    diag: DiagnosticsSettings

    def reading(self, kube: KubeClient, window: Window) -> Reading[FailedJobs]:
        return Reading(lambda: self.read(kube, window.since))

    async def read(self, kube: KubeClient, since: datetime) -> FailedJobs:
        # Pods are listed alongside the jobs: one round trip fewer before the tails.
        job_list, pod_list = await asyncio.gather(kube.list_jobs(), kube.list_pods())
        failed = failed_in_window(job_list, self.platform, since)
        tails, problem = await tails_of(kube, self.diag, recent_of(failed, self.diag), pod_list)
        result = with_tails(failed, tails, self.diag)
        if problem is not None:
            raise Incomplete(result, problem)
        return result
