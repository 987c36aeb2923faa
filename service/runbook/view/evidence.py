"""The evidence bundle from the live view: the runbook's diagnostics without a second sweep.

Purpose: in watch mode the view has listed and watched the namespace and read its control-plane
and worker logs and its failed jobs' tails; the evidence is composed from that, part by part,
in the collectors' own shapes (``Workloads``; the control-plane and worker ``ScanResult`` of
the window, with the collectors' scanners and limits, over the lines the view kept as it read
them, its ``LineJournal``s; ``FailedJobs`` with their tails; ``RegistryHealth``; the kill
switch as the view read it). A part the view cannot read gets the status of its gap (forbidden
with the grant, timeout, error); a part not read yet says so.
Boundary: pure over the view's memory; no request.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel

from service.config.settings import Settings
from service.domain.evidence import (
    Collected,
    CollectorStatus,
    EvidenceBundle,
    FailedJobs,
    JobInfo,
    KillSwitchState,
    RegistryHealth,
    Workloads,
)
from service.domain.facts import Gap, GapPart
from service.domain.logscan import LogScanner, ScanResult
from service.domain.signatures import SOURCE_CONTROL_PLANE, SOURCE_WORKER
from service.runbook.diagnostics.deployment_logs import control_plane_signatures, scan_limits
from service.runbook.diagnostics.failed_jobs import failed_in_window, recent_of, with_tails
from service.runbook.diagnostics.investigation import assemble
from service.runbook.diagnostics.workloads import workloads_of
from service.runbook.view.facts import registry_of
from service.runbook.view.journal import LineJournal
from service.runbook.view.namespace import NamespaceView

T = TypeVar("T", bound=BaseModel)
_STATUS = {"forbidden": CollectorStatus.FORBIDDEN, "timeout": CollectorStatus.TIMEOUT,
           "error": CollectorStatus.ERROR, "unreachable": CollectorStatus.ERROR}


def _gap(view: NamespaceView, *parts: GapPart) -> Gap | None:
    return next((g for g in view.gaps() if g.part in parts), None)


def _short(gap: Gap | None, what: str, data: T | None = None) -> Collected[T]:
    """A part the view could not give whole: its gap's status, else "not read yet"."""
    if gap is None:
        return Collected[T](status=CollectorStatus.TIMEOUT, data=data,
                            error=f"the live view has not read {what} yet")
    return Collected[T](status=_STATUS[gap.status], data=data, error=gap.detail, hint=gap.hint)


def _failed(view: NamespaceView, settings: Settings,
            since: datetime) -> list[tuple[dict[str, Any], JobInfo]]:
    return failed_in_window({"items": list(view.jobs.items.values())}, settings.platform, since)


def ready(view: NamespaceView, settings: Settings, since: datetime) -> bool:
    """Everything the evidence takes from the view is read up to now (or has its gap)."""
    if not view.synced:
        return False
    if not (view.logs_caught_up() or _gap(view, "control_plane_logs")):
        return False
    if not (view.workers.caught_up() or view.worker_gaps.gaps()):
        return False
    tails = view.job_tails.tails
    if not (all(info.name in tails for _, info in recent_of(_failed(view, settings, since),
                                                             settings.diagnostics))
            or _gap(view, "job_logs")):
        return False
    return view.switch_read == view.switch_key() or _gap(view, "kill_switch") is not None


def workloads(view: NamespaceView, settings: Settings) -> Collected[Workloads]:
    if not (view.pods.synced and view.jobs.synced):
        return _short(_gap(view, "pods", "jobs"), "the pods and jobs")
    return Collected[Workloads](status=CollectorStatus.OK, data=workloads_of(
        view.pods.items.values(), view.jobs.items.values(), settings.platform))


def control_plane_logs(view: NamespaceView, settings: Settings,
                       since: datetime) -> Collected[ScanResult]:
    """Step 2's scan of the window, over the lines the view kept as it read them."""
    diag = settings.diagnostics
    scanner = LogScanner(control_plane_signatures(diag), SOURCE_CONTROL_PLANE,
                         limits=scan_limits(diag))
    return _logs(view, scanner, view.journal, since, view.logs_caught_up(),
                 [g for g in view.gaps() if g.part == "control_plane_logs"],
                 "the control-plane logs")


def _logs(view: NamespaceView, scanner: LogScanner, journal: LineJournal, since: datetime,
          caught_up: bool, gaps: list[Gap], what: str) -> Collected[ScanResult]:
    result = scanner.scan_chunks([journal.lines(since)])
    if journal.dropped:
        result.truncated = True
    if not (view.pods.synced and view.deployments.synced):
        return _short(_gap(view, "pods", "deployments"), f"the pods of {what}", result)
    if gaps or not caught_up:
        return _short(gaps[0] if gaps else None, f"{what} to their end", result)
    return Collected[ScanResult](status=CollectorStatus.OK, data=result)


def failed_jobs(view: NamespaceView, settings: Settings,
                since: datetime) -> Collected[FailedJobs]:
    if not (view.jobs.synced and view.pods.synced):
        return _short(_gap(view, "jobs", "pods"), "the jobs")
    failed = _failed(view, settings, since)
    tails = view.job_tails.tails
    result = with_tails(failed, tails, settings.diagnostics)
    unread = [info.name for _, info in recent_of(failed, settings.diagnostics)
              if info.name not in tails]
    if unread:
        return _short(_gap(view, "job_logs"), "the log tails of " + ", ".join(unread), result)
    return Collected[FailedJobs](status=CollectorStatus.OK, data=result)


def registry(view: NamespaceView, settings: Settings,
             since: datetime) -> Collected[RegistryHealth]:
    if not (view.deployments.synced and view.jobs.synced):
        return _short(_gap(view, "deployments", "jobs"), "the registry and mirror jobs")
    problems: list[Gap] = []
    health = registry_of(view.state(), settings, since, problems)
    if health is None:
        return Collected[RegistryHealth](
            status=CollectorStatus.ERROR,
            error=problems[0].detail if problems else "the registry could not be read")
    return Collected[RegistryHealth](status=CollectorStatus.OK, data=health)


def kill_switch(view: NamespaceView) -> Collected[KillSwitchState]:
    if view.kill_switch is None or view.switch_read != view.switch_key():
        return _short(_gap(view, "kill_switch", "deployments"), "the kill switch",
                      view.kill_switch)
    return Collected[KillSwitchState](status=CollectorStatus.OK, data=view.kill_switch)


def worker_logs(view: NamespaceView, settings: Settings,
                since: datetime) -> Collected[ScanResult]:
    """Step 3's scan of the window, over the worker lines the view kept as it read them."""
    diag = settings.diagnostics
    scanner = LogScanner(diag.signatures, SOURCE_WORKER, limits=scan_limits(diag))
    return _logs(view, scanner, view.worker_journal, since,
                 view.workers.caught_up(), view.worker_gaps.gaps(), "the worker logs")


def evidence_of(view: NamespaceView, settings: Settings, *, incident_id: str, signature: str,
                now: datetime, alert_at: datetime | None,
                started: float | None = None) -> EvidenceBundle:
    """The bundle of ``signature`` over the log window, as the view holds it now."""
    since = now - timedelta(seconds=settings.diagnostics.log_window_s)
    return assemble(
        settings, incident_id=incident_id, signature=signature, now=now, since=since,
        alert_at=alert_at, started=time.monotonic() if started is None else started,
        workloads=workloads(view, settings),
        cp_logs=control_plane_logs(view, settings, since),
        worker_logs=worker_logs(view, settings, since),
        failed=failed_jobs(view, settings, since), registry=registry(view, settings, since),
        switch=kill_switch(view))
