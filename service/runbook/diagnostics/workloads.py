"""Runbook step 1: ``kubectl get pods,job -o wide`` as data.

Purpose: every pod (status, ready, restarts, node, owner) and every job (kind, status, times,
run id) of the namespace, jobs by creation time.
Boundary: two list calls through ``KubeClient``, run together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime

from service.cluster import objects
from service.cluster.client import KubeClient
from service.cluster.errors import Json
from service.config.settings import PlatformObjects, Settings
from service.domain.evidence import Collected, Workloads
from service.runbook.diagnostics.outcome import run_collector


async def workloads(kube: KubeClient, settings: Settings) -> Workloads:
    pods, jobs = await asyncio.gather(kube.list_pods(), kube.list_jobs())
    return workloads_of(objects.items(pods), objects.items(jobs), settings.platform)


def workloads_of(pods: Iterable[Json], jobs: Iterable[Json],
                 platform: PlatformObjects) -> Workloads:
    """Pods and jobs as ``kubectl get pods,job -o wide`` shows them, oldest first (the
    collector's lists and the live view's caches alike)."""
    return Workloads(
        pods=[objects.pod_info(p) for p in sorted(pods, key=objects.creation_order)],
        jobs=[objects.job_info(j, platform) for j in sorted(jobs, key=objects.creation_order)],
    )


async def collect_workloads(
    kube: KubeClient, settings: Settings, *, since: datetime, now: datetime,
    timeout_s: float | None = None,
) -> Collected[Workloads]:
    """Pods and jobs of the namespace (``since``/``now`` unused: this is a snapshot)."""
    return await run_collector(lambda: workloads(kube, settings),
                               timeout_s=timeout_s or settings.diagnostics.collector_timeout_s)
