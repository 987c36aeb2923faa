"""The runbook's diagnostics, all at once: one evidence bundle for one incident.

Purpose: the registry of the evidence's collectors (``evidence_collectors``: one per part of
the bundle, each built from its own settings section), run concurrently, each under its own
timeout and all under the overall deadline, and their outcomes put into an ``EvidenceBundle``:
whether the incident's signature is confirmed (a defining line in control-plane/worker logs, or
a failed job whose tail carries it), the first and last error times and run ids across sources,
and how long it took. A collector that hangs is cut at its timeout; the bundle still comes back.
Boundary: orchestration only; each step lives in its own module, a ``Collector``."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

from service.cluster.client import KubeClient
from service.cluster.scope import sharing_reads
from service.config.settings import Settings
from service.domain.evidence import (
    Collected,
    EvidenceBundle,
    FailedJobs,
    KillSwitchState,
    RegistryHealth,
    Workloads,
    episode_start,
)
from service.domain.logscan import ScanResult
from service.domain.signatures import SignatureConfig, recovery_name
from service.runbook.diagnostics.collector import Collectors, Part, Window
from service.runbook.diagnostics.deployment_logs import control_plane_logs, worker_logs
from service.runbook.diagnostics.failed_jobs import FailedJobsCollector
from service.runbook.diagnostics.image_registry import RegistryCollector
from service.runbook.diagnostics.switch_state import KillSwitchCollector
from service.runbook.diagnostics.workloads import WorkloadsCollector

WORKLOADS: Part[Workloads] = Part("workloads")
CONTROL_PLANE_LOGS: Part[ScanResult] = Part("control_plane_logs")
WORKER_LOGS: Part[ScanResult] = Part("worker_logs")
FAILED_JOBS: Part[FailedJobs] = Part("failed_jobs")
REGISTRY: Part[RegistryHealth] = Part("registry")
KILL_SWITCH: Part[KillSwitchState] = Part("kill_switch")


def evidence_collectors(settings: Settings) -> Collectors:
    """Runbook step 1, one collector per part of the bundle, each given its own sections."""
    platform, diag = settings.platform, settings.diagnostics
    found = Collectors()
    found.register(WORKLOADS, WorkloadsCollector(platform))
    found.register(CONTROL_PLANE_LOGS, control_plane_logs(platform, diag))
    found.register(WORKER_LOGS, worker_logs(platform, diag))
    found.register(FAILED_JOBS, FailedJobsCollector(platform, diag))
    found.register(REGISTRY, RegistryCollector(platform))
    found.register(KILL_SWITCH, KillSwitchCollector(settings.mitigation.target,
                                                    platform.control_plane_container))
    return found


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


def _episode(signature: str, logs: list[Collected[ScanResult]], jobs: Collected[FailedJobs],
             alert_at: datetime) -> tuple[datetime | None, datetime | None]:
    """Where this episode starts: the failures (log occurrences, failed jobs) after the last
    successful build before the alert, as the control-plane logged it (``recovered`` lines:
    the jobs themselves vanish with their TTL; a mirror that succeeds while builds fail is no
    recovery, so the markers name builds)."""
    failures: list[datetime] = []
    for got in logs:
        if got.data is not None:
            failures += [o.first_seen for o in got.data.stats(signature).occurrence_list
                         if o.first_seen is not None]
    for job in jobs.data.jobs if jobs.data is not None else []:
        when = job.finished_at or job.created_at
        if job.signature == signature and when is not None:
            failures.append(when)
    successes: list[datetime] = []
    if logs and logs[0].data is not None:  # the control-plane scan carries the markers
        successes += [o.first_seen for o in
                      logs[0].data.stats(recovery_name(signature)).occurrence_list
                      if o.first_seen is not None]
    return episode_start(failures, successes, alert_at)


def _causes(config: SignatureConfig | None, logs: list[Collected[ScanResult]],
            jobs: Collected[FailedJobs]) -> list[str]:
    """What the matching lines name as the cause (``SignatureConfig.cause``), in order."""
    if config is None or config.cause is None:
        return []
    pattern = re.compile(config.cause)
    lines = [line for job in (jobs.data.jobs if jobs.data is not None else [])
             if job.signature == config.name for line in job.last_lines]
    for got in logs:
        if got.data is not None:
            stats = got.data.stats(config.name)
            lines += [m.excerpt for m in (*stats.excerpts, *stats.context)]
    found = [m.group(1) for line in lines if (m := pattern.search(line))]
    return list(dict.fromkeys(found))


async def collect_evidence(
    kube: KubeClient, settings: Settings, *, incident_id: str, signature: str,
    now: datetime, since: datetime | None = None, alert_at: datetime | None = None,
) -> EvidenceBundle:
    """Every runbook diagnostic for ``signature`` since ``since`` (default: the log window);
    ``alert_at`` (default ``now``) bounds the episode: see ``episode_start``."""
    diag = settings.diagnostics
    since = since or now - timedelta(seconds=diag.log_window_s)
    started = time.monotonic()
    # Collectors start together, so capping each at the overall deadline bounds the whole.
    limit = min(diag.collector_timeout_s, diag.overall_deadline_s)
    with sharing_reads():  # collectors ask for the same lists: ask the API once
        got = await evidence_collectors(settings).collect(kube, Window(since, now),
                                                          timeout_s=limit)
    return assemble(settings, incident_id=incident_id, signature=signature, now=now,
                    since=since, alert_at=alert_at, started=started, workloads=got[WORKLOADS],
                    cp_logs=got[CONTROL_PLANE_LOGS], worker_logs=got[WORKER_LOGS],
                    failed=got[FAILED_JOBS], registry=got[REGISTRY], switch=got[KILL_SWITCH])


def assemble(settings: Settings, *, incident_id: str, signature: str, now: datetime,
             since: datetime, alert_at: datetime | None, started: float,
             workloads: Collected[Workloads], cp_logs: Collected[ScanResult],
             worker_logs: Collected[ScanResult], failed: Collected[FailedJobs],
             registry: Collected[RegistryHealth],
             switch: Collected[KillSwitchState]) -> EvidenceBundle:
    """The bundle of the parts, however they were read (collectors, or the live view):
    confirmed, error times, run ids, episode and causes summarised across them."""
    _fill_run_ids(failed, [cp_logs, worker_logs])
    confirmed, first, last, run_ids = _summary(signature, [cp_logs, worker_logs], failed)
    episode, last_ok = _episode(signature, [cp_logs, worker_logs], failed, alert_at or now)
    config = next((c for c in settings.diagnostics.signatures if c.name == signature), None)
    return EvidenceBundle(
        incident_id=incident_id,
        collected_at=now,
        since=since,
        signature=signature,
        confirmed=confirmed,
        first_error_at=first,
        last_error_at=last,
        run_ids=run_ids,
        episode_start=episode,
        last_success_at=last_ok,
        causes=_causes(config, [cp_logs, worker_logs], failed),
        duration_s=round(time.monotonic() - started, 3),
        workloads=workloads,
        control_plane_logs=cp_logs,
        worker_logs=worker_logs,
        failed_jobs=failed,
        registry=registry,
        kill_switch=switch,
    )
