"""What the recovery watch observes at each tick: ``Facts`` since the mitigation.

Purpose: the runbook's checks after the switch: did new build/mirror/codegen jobs (created after
``since``) end ``Complete`` or ``Failed``, and with which signature (from the failed one's log
tail); which distinct builds carried the signature in control-plane logs since ``since``; the
registry's health and the switch's state. ``watch_collectors`` registers one collector per
part; all run concurrently, each under the collector timeout; a part that fails leaves a
``Gap`` and the rest stands (never raises).
Boundary: reads through ``KubeClient``; the policy that judges these facts is elsewhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from service.cluster import objects
from service.cluster.client import KubeClient
from service.cluster.scope import sharing_reads
from service.config.settings import DiagnosticsSettings, PlatformObjects, Settings
from service.domain.evidence import (
    Collected,
    CollectorStatus,
    JobInfo,
    KillSwitchState,
    RegistryHealth,
)
from service.domain.facts import BuildOutcome, Facts, Gap, SignatureSighting
from service.domain.logscan import ScanResult
from service.runbook.diagnostics.collector import Collectors, Part, Reading, Window
from service.runbook.diagnostics.deployment_logs import control_plane_logs
from service.runbook.diagnostics.failed_jobs import tails_of
from service.runbook.diagnostics.image_registry import RegistryCollector
from service.runbook.diagnostics.job_logs import JobTail
from service.runbook.diagnostics.outcome import Incomplete
from service.runbook.diagnostics.switch_state import KillSwitchCollector

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


@dataclass(frozen=True)
class BuildsCollector:
    """Platform jobs created in the window that finished; failed ones with their signature."""

    platform: PlatformObjects
    diag: DiagnosticsSettings

    def reading(self, kube: KubeClient, window: Window) -> Reading[_Builds]:
        return Reading(lambda: self.read(kube, window.since))

    async def read(self, kube: KubeClient, since: datetime) -> _Builds:
        job_list, pod_list = await asyncio.gather(kube.list_jobs(), kube.list_pods())
        finished = finished_after(objects.items(job_list), self.platform, since)
        failed = [(job, info) for job, info in finished if info.status == "Failed"]
        tails, problem = await tails_of(kube, self.diag, failed, pod_list)
        result = _Builds(items=outcomes(finished, tails))
        if problem is not None:
            raise Incomplete(result, problem)
        return result


BUILDS: Part[_Builds] = Part("builds")
CONTROL_PLANE_LOGS: Part[ScanResult] = Part("control_plane_logs")
REGISTRY: Part[RegistryHealth] = Part("registry")
KILL_SWITCH: Part[KillSwitchState] = Part("kill_switch")


def watch_collectors(settings: Settings, signature: str) -> Collectors:
    """The recovery watch's parts; the control-plane logs are scanned for ``signature`` only
    and without context (the rules need the defining lines)."""
    platform, diag = settings.platform, settings.diagnostics
    chosen = [s for s in diag.signatures if s.name == signature]
    found = Collectors()
    found.register(BUILDS, BuildsCollector(platform, diag))
    found.register(CONTROL_PLANE_LOGS,
                   control_plane_logs(platform, diag, signatures=chosen, context=False))
    found.register(REGISTRY, RegistryCollector(platform))
    found.register(KILL_SWITCH, KillSwitchCollector(settings.mitigation.target,
                                                    platform.control_plane_container))
    return found


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
    limit = min(diag.collector_timeout_s, diag.overall_deadline_s)
    with sharing_reads():  # collectors ask for the same lists: ask the API once
        got = await watch_collectors(settings, signature).collect(kube, Window(since, now),
                                                                  timeout_s=limit)
    gaps: list[Gap] = []
    if not any(s.name == signature for s in diag.signatures):
        gaps.append(Gap(part="control_plane_logs", status="error",
                        detail=f"signature {signature!r} is not configured"))
    found_builds = _note(gaps, "builds", got[BUILDS])
    scan = _note(gaps, "control_plane_logs", got[CONTROL_PLANE_LOGS])
    return Facts(
        collected_at=now,
        since=since,
        builds=found_builds.items if found_builds is not None else [],
        sightings=sightings(scan, signature, since) if scan is not None else [],
        registry=_note(gaps, "registry", got[REGISTRY]),
        kill_switch=_note(gaps, "kill_switch", got[KILL_SWITCH]),
        gaps=gaps,
    )
