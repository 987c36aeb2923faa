"""``Facts`` from what the live view holds: the same content as ``collect_facts``, no request.

Purpose: the recovery watch's observation (finished builds since ``since`` with their
signatures, control-plane sightings, registry health, the kill switch) built from a
``ViewState``: cached jobs and Deployments, the failed jobs' tails read once, the control-plane
scan fed incrementally, the switch read when its Deployment last changed, and the open gaps.
The pure parts are the collectors' own (``finished_after``, ``outcomes``, ``sightings``,
``registry_state``), so both paths judge the same objects the same way.
Boundary: pure; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.cluster.selectors import matches
from service.config.settings import Settings
from service.domain.evidence import KillSwitchState, RegistryHealth
from service.domain.facts import Facts, Gap
from service.domain.logscan import ScanResult
from service.runbook.diagnostics.image_registry import registry_state
from service.runbook.diagnostics.job_logs import JobTail
from service.runbook.diagnostics.observation import finished_after, outcomes, sightings


@dataclass
class ViewState:
    """What the view holds at one moment (shared references: read, never change)."""

    jobs: Mapping[str, dict[str, Any]] | None  # None until listed once
    deployments: Mapping[str, dict[str, Any]] | None
    tails: Mapping[str, JobTail]
    scan: ScanResult | None
    kill_switch: KillSwitchState | None
    gaps: list[Gap] = field(default_factory=list)


def registry_of(state: ViewState, settings: Settings, since: datetime,
              gaps: list[Gap]) -> RegistryHealth | None:
    platform = settings.platform
    if state.deployments is None or state.jobs is None:
        return None
    deploy = state.deployments.get(platform.registry_deployment)
    if deploy is None:
        gaps.append(Gap(part="registry", status="error",
                        detail=f"deployment {platform.registry_deployment} not found"))
        return None
    mirrors = [j for j in state.jobs.values()
               if matches(platform.mirror_job_selector, (j.get("metadata") or {})
                          .get("labels") or {})]
    return registry_state(deploy, mirrors, platform, since)


def facts_of(state: ViewState, settings: Settings, *, signature: str, since: datetime,
             now: datetime) -> Facts:
    """The view's observation since ``since``, with what it cannot read in ``gaps``."""
    gaps = list(state.gaps)
    if not any(s.name == signature for s in settings.diagnostics.signatures):
        gaps.append(Gap(part="control_plane_logs", status="error",
                        detail=f"signature {signature!r} is not configured"))
    finished = finished_after(state.jobs.values(), settings.platform, since) \
        if state.jobs is not None else []
    # A failed job whose tail is not read yet is not a fact yet: its signature is unknown,
    # and the watch keeps a build's first outcome. It comes with its tail (or its gap).
    finished = [(job, info) for job, info in finished
                if info.status != "Failed" or info.name in state.tails]
    return Facts(
        collected_at=now,
        since=since,
        builds=outcomes(finished, state.tails),
        sightings=sightings(state.scan, signature, since) if state.scan is not None else [],
        registry=registry_of(state, settings, since, gaps),
        kill_switch=state.kill_switch,
        gaps=gaps,
    )
