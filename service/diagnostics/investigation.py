"""The runbook's diagnostics, all at once: one evidence bundle for one incident.

Purpose: run every collector concurrently, each under its own timeout and all under the overall
deadline, and put their outcomes into an ``EvidenceBundle``: whether the incident's signature is
confirmed (a defining line in control-plane/worker logs, or a failed job whose tail carries it),
the first and last error times and run ids across sources, and how long it took. A collector that
hangs is cut at its timeout; the bundle still comes back.
Boundary: orchestration only; each step lives in its own module.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

from service.diagnostics.deployment_logs import collect_control_plane_logs, collect_worker_logs
from service.diagnostics.failed_jobs import collect_failed_jobs
from service.diagnostics.kill_switch import collect_kill_switch
from service.diagnostics.registry import collect_registry_health
from service.diagnostics.workloads import collect_workloads
from service.domain.evidence import Collected, EvidenceBundle, FailedJobs
from service.domain.logscan import ScanResult
from service.kube import KubeClient
from service.kube_scope import sharing_reads
from service.settings import Settings


def _summary(signature: str, logs: list[Collected[ScanResult]],
             jobs: Collected[FailedJobs]) -> tuple[bool, datetime | None, datetime | None,
                                                   list[str]]:
    """confirmed, first/last error time, run ids: across log scans and failed jobs."""
    times: list[datetime] = []
    run_ids: list[str] = []
    confirmed = False
    for got in logs:
        if got.data is None:
            continue
        stats = got.data.stats(signature)
        confirmed = confirmed or stats.lines > 0  # a defining line, not mere context
        times += [t for t in (stats.first_seen, stats.last_seen) if t is not None]
        run_ids += stats.run_ids
    for job in jobs.data.jobs if jobs.data is not None else []:
        if job.signature != signature:
            continue
        confirmed = True
        # a failed job's error is when it failed
        when = job.finished_at or job.created_at
        times += [when] if when is not None else []
        if job.run_id:
            run_ids.append(job.run_id)
    unique = list(dict.fromkeys(run_ids))
    return confirmed, min(times, default=None), max(times, default=None), unique


def _fill_run_ids(jobs: Collected[FailedJobs], logs: list[Collected[ScanResult]]) -> None:
    """A job without a run-id label (codegen-check) gets the run id the logs relayed for it."""
    if jobs.data is None:
        return
    by_job: dict[str, str] = {}
    for got in logs:
        for stats in (got.data.signatures.values() if got.data is not None else []):
            for occ in stats.occurrence_list:
                if occ.job and occ.run_id:
                    by_job.setdefault(occ.job, occ.run_id)
    for job in jobs.data.jobs:
        if job.run_id is None:
            job.run_id = by_job.get(job.name)


async def collect_evidence(
    kube: KubeClient, settings: Settings, *, incident_id: str, signature: str,
    now: datetime, since: datetime | None = None,
) -> EvidenceBundle:
    """Every runbook diagnostic for ``signature`` since ``since`` (default: the log window)."""
    diag = settings.diagnostics
    since = since or now - timedelta(seconds=diag.log_window_s)
    started = time.monotonic()
    # Collectors start together, so capping each at the overall deadline bounds the whole.
    limit = min(diag.collector_timeout_s, diag.overall_deadline_s)
    with sharing_reads():  # collectors ask for the same lists: ask the API once
        workloads, cp_logs, worker_logs, failed, registry, switch = await asyncio.gather(
            collect_workloads(kube, settings, since=since, now=now, timeout_s=limit),
            collect_control_plane_logs(kube, settings, since=since, now=now, timeout_s=limit),
            collect_worker_logs(kube, settings, since=since, now=now, timeout_s=limit),
            collect_failed_jobs(kube, settings, since=since, now=now, timeout_s=limit),
            collect_registry_health(kube, settings, since=since, now=now, timeout_s=limit),
            collect_kill_switch(kube, settings, since=since, now=now, timeout_s=limit),
        )
    _fill_run_ids(failed, [cp_logs, worker_logs])
    confirmed, first, last, run_ids = _summary(signature, [cp_logs, worker_logs], failed)
    return EvidenceBundle(
        incident_id=incident_id,
        collected_at=now,
        since=since,
        signature=signature,
        confirmed=confirmed,
        first_error_at=first,
        last_error_at=last,
        run_ids=run_ids,
        duration_s=round(time.monotonic() - started, 3),
        workloads=workloads,
        control_plane_logs=cp_logs,
        worker_logs=worker_logs,
        failed_jobs=failed,
        registry=registry,
        kill_switch=switch,
    )
