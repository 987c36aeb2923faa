"""Runbook step 1: ``kubectl get pods,job -o wide`` as data.

Purpose: every pod (status, ready, restarts, node, owner) and every job (kind, status, times,
run id) of the namespace, jobs by creation time.
Boundary: two list calls through ``KubeClient``, run together; built from the platform's
object names only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from service.cluster import objects
from service.cluster.client import KubeClient
from service.cluster.errors import Json
from service.config.settings import PlatformObjects
from service.domain.evidence import Workloads
from service.runbook.diagnostics.collector import Reading, Window


def workloads_of(pods: Iterable[Json], jobs: Iterable[Json],
                 platform: PlatformObjects) -> Workloads:
    """Pods and jobs as ``kubectl get pods,job -o wide`` shows them, oldest first (the
    collector's lists and the live view's caches alike)."""
    return Workloads(
        pods=[objects.pod_info(p) for p in sorted(pods, key=objects.creation_order)],
        jobs=[objects.job_info(j, platform) for j in sorted(jobs, key=objects.creation_order)],
    )


@dataclass(frozen=True)
class WorkloadsCollector:
    """Pods and jobs of the namespace: a snapshot, the window does not narrow it."""

    platform: PlatformObjects

    def reading(self, kube: KubeClient, window: Window) -> Reading[Workloads]:
        return Reading(lambda: self.read(kube))

    async def read(self, kube: KubeClient) -> Workloads:
        pods, jobs = await asyncio.gather(kube.list_pods(), kube.list_jobs())
        return workloads_of(objects.items(pods), objects.items(jobs), self.platform)
