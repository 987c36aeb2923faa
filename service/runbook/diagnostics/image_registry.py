"""Registry and mirror health: the facts of escalation rule 3.

Purpose: is the in-cluster registry Deployment available (available replicas, the reason from
its Available condition), and how many image mirror jobs of the window failed. Both degrading
at once means the kill switch will not help.
Boundary: two reads through ``KubeClient``, run together, built from the platform's names;
``registry_state`` is the pure part the live view shares.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.cluster import objects
from service.cluster.client import KubeClient
from service.config.settings import PlatformObjects
from service.domain.evidence import RegistryHealth
from service.runbook.diagnostics.collector import Reading, Window


def _reason(deploy: Mapping[str, Any], available: int, wanted: int) -> str | None:
    if wanted == 0:
        return "scaled to 0 replicas"
    if available >= 1:
        return None
    for cond in (deploy.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Available" and cond.get("status") != "True":
            return f"{cond.get('reason')}: {cond.get('message')}"
    return f"{available}/{wanted} replicas available"


def registry_state(deploy: Mapping[str, Any], mirror_jobs: Iterable[Mapping[str, Any]],
                   platform: PlatformObjects, since: datetime) -> RegistryHealth:
    """The registry Deployment's availability and the mirror jobs created since ``since``."""
    status = deploy.get("status") or {}
    wanted = int((deploy.get("spec") or {}).get("replicas", 1) or 0)
    available = int(status.get("availableReplicas") or 0)
    recent = [objects.job_info(j, platform)
              for j in sorted(mirror_jobs, key=objects.creation_order)]
    recent = [j for j in recent if j.created_at is None or j.created_at >= since]
    failed = [j.name for j in recent if j.status == "Failed"]
    return RegistryHealth(
        registry_available=wanted > 0 and available >= 1,
        registry_replicas=wanted,
        registry_ready_replicas=int(status.get("readyReplicas") or 0),
        registry_reason=_reason(deploy, available, wanted),
        mirror_jobs_failed=len(failed),
        mirror_jobs_total=len(recent),
        failed_mirror_jobs=failed,
    )


@dataclass(frozen=True)
class RegistryCollector:
    """The registry's availability and the mirror jobs created in the window."""

    platform: PlatformObjects

    def reading(self, kube: KubeClient, window: Window) -> Reading[RegistryHealth]:
        return Reading(lambda: self.read(kube, window.since))

    async def read(self, kube: KubeClient, since: datetime) -> RegistryHealth:
        deploy, mirrors = await asyncio.gather(
            kube.get_deployment(self.platform.registry_deployment),
            kube.list_jobs(label_selector=self.platform.mirror_job_selector))
        return registry_state(deploy, objects.items(mirrors), self.platform, since)
