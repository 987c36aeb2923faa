"""What the recovery watch observes at each tick: ``Facts`` since the mitigation.

Purpose: the runbook's checks after the switch: did new build/mirror/codegen jobs (created after
``since``) end ``Complete`` or ``Failed``, and with which signature (from the failed one's log
tail); which distinct builds carried the signature in control-plane logs since ``since``; the
registry's health and the switch's state. All parts run concurrently, each under the collector
timeout; a part that fails leaves a ``Gap`` and the rest stands (never raises).
Boundary: reads through ``KubeClient``; the policy that judges these facts is elsewhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from service.cluster import objects
from service.cluster.client import KubeClient
from service.cluster.scope import sharing_reads
from service.config.settings import PlatformObjects, Settings
from service.domain.evidence import Collected, CollectorStatus, JobInfo
from service.domain.facts import BuildOutcome, Facts, Gap, SignatureSighting
from service.domain.logscan import ScanResult
from service.domain.signatures import SOURCE_CONTROL_PLANE
from service.runbook.diagnostics.deployment_logs import collect_deployment_logs
from service.runbook.diagnostics.failed_jobs import tails_of
from service.runbook.diagnostics.image_registry import collect_registry_health
from service.runbook.diagnostics.job_logs import JobTail
from service.runbook.diagnostics.outcome import Incomplete, run_collector
from service.runbook.diagnostics.switch_state import collect_kill_switch

T = TypeVar("T", bound=BaseModel)


class _Builds(BaseModel):
    items: list[BuildOutcome]


def finished_after(jobs: Iterable[dict[str, Any]], platform: PlatformObjects,
                   since: datetime) -> list[tuple[dict[str, Any], JobInfo]]:
    """Build/mirror/codegen jobs created at or after ``since`` that finished, oldest first."""
    finished = []
    for job in sorted(jobs, key=objects.creation_order):
        info = objects.job_info(job, platform)
        if info.kind == "other" or info.status not in ("Complete", "Failed"):
            continue
        if info.created_at is None or info.created_at < since:
            continue
        finished.append((job, info))
    return finished


def outcomes(finished: list[tuple[dict[str, Any], JobInfo]],
             tails: Mapping[str, JobTail]) -> list[BuildOutcome]:
    """The finished jobs as ``BuildOutcome``s, failed ones with their tail's signature."""
    return [BuildOutcome(job=info.name, kind=info.kind, status=info.status,
                         created_at=info.created_at, finished_at=info.finished_at,
                         signature=tails[info.name].signature if info.name in tails else None,
                         run_id=info.run_id)
            for _, info in finished]


async def finished_builds(kube: KubeClient, settings: Settings, since: datetime) -> _Builds:
    """Platform jobs created after ``since`` that finished; failed ones with their signature."""
    job_list, pod_list = await asyncio.gather(kube.list_jobs(), kube.list_pods())
    finished = finished_after(objects.items(job_list), settings.platform, since)
    failed = [(job, info) for job, info in finished if info.status == "Failed"]
    tails, problem = await tails_of(kube, settings, failed, pod_list)
    result = _Builds(items=outcomes(finished, tails))
    if problem is not None:
        raise Incomplete(result, problem)
    return result


def sightings(scan: ScanResult, signature: str, since: datetime) -> list[SignatureSighting]:
    """Distinct builds carrying ``signature`` seen at or after ``since``."""
    out = []
    for occ in scan.stats(signature).occurrence_list:
        if occ.last_seen is not None and occ.last_seen < since:
            continue
        out.append(SignatureSighting(key=occ.key, signature=signature, first_seen=occ.first_seen,
                                     last_seen=occ.last_seen, run_id=occ.run_id, job=occ.job))
    return out


def _note(gaps: list[Gap], part: str, got: Collected[T]) -> T | None:
    if got.status is not CollectorStatus.OK:
        gaps.append(Gap(part=part, status=got.status.value,
                        detail=got.hint or got.error or "no detail"))
    return got.data


async def collect_facts(kube: KubeClient, settings: Settings, *, signature: str,
                        since: datetime, now: datetime) -> Facts:
    """One observation of the cluster since ``since``; gaps are listed in ``errors``."""
    diag = settings.diagnostics
    chosen = [s for s in diag.signatures if s.name == signature]
    limit = min(diag.collector_timeout_s, diag.overall_deadline_s)
    builds_got: Awaitable[Collected[_Builds]] = run_collector(
        lambda: finished_builds(kube, settings, since), timeout_s=limit)
    with sharing_reads():  # collectors ask for the same lists: ask the API once
        builds, logs, registry, switch = await asyncio.gather(
            builds_got,
            collect_deployment_logs(
                kube, settings, deployment=settings.platform.control_plane_deployment,
                container=settings.platform.control_plane_container, source=SOURCE_CONTROL_PLANE,
                since=since, now=now, timeout_s=limit, signatures=chosen, context=False),
            collect_registry_health(kube, settings, since=since, now=now, timeout_s=limit),
            collect_kill_switch(kube, settings, since=since, now=now, timeout_s=limit),
        )
    gaps: list[Gap] = []
    if not chosen:
        gaps.append(Gap(part="control_plane_logs", status="error",
                        detail=f"signature {signature!r} is not configured"))
    found_builds = _note(gaps, "builds", builds)
    scan = _note(gaps, "control_plane_logs", logs)
    return Facts(
        collected_at=now,
        since=since,
        builds=found_builds.items if found_builds is not None else [],
        sightings=sightings(scan, signature, since) if scan is not None else [],
        registry=_note(gaps, "registry", registry),
        kill_switch=_note(gaps, "kill_switch", switch),
        gaps=gaps,
    )
