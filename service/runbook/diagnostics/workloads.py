"""Runbook step 1: ``kubectl get pods,job -o wide`` as data.

Purpose: every pod (status, ready, restarts, node, owner) and every job (kind, status, times,
run id) of the namespace, jobs by creation time.
Boundary: two list calls through ``KubeClient``, run together.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from service.cluster import objects
from service.cluster.client import KubeClient
from service.config.settings import Settings
from service.domain.evidence import Collected, Workloads
from service.runbook.diagnostics.outcome import run_collector


async def workloads(kube: KubeClient, settings: Settings) -> Workloads:
    pods, jobs = await asyncio.gather(kube.list_pods(), kube.list_jobs())
    return Workloads(
        pods=[objects.pod_info(p) for p in sorted(objects.items(pods), key=objects.creation_order)],
        jobs=[objects.job_info(j, settings.platform)
              for j in sorted(objects.items(jobs), key=objects.creation_order)],
    )


async def collect_workloads(
    kube: KubeClient, settings: Settings, *, since: datetime, now: datetime,
    timeout_s: float | None = None,
) -> Collected[Workloads]:
    """Pods and jobs of the namespace (``since``/``now`` unused: this is a snapshot)."""
    return await run_collector(lambda: workloads(kube, settings),
                               timeout_s=timeout_s or settings.diagnostics.collector_timeout_s)
