"""Runbook steps 2 and 3: ``kubectl logs deploy/<name> --since=6h | grep -E <patterns>``.

Purpose: resolve a Deployment to its pods like kubectl does (pods matching its ``spec.selector``
and owned by its own ReplicaSets, whose container has started), stream each pod's
log with ``sinceSeconds`` and feed it, chunk by chunk, to the streaming scanner for the
configured signatures of that source. Memory stays bounded whatever the log size. Unlike
``kubectl logs deploy/...`` (one pod), every pod of the Deployment is read: during a rollout the
old pod holds the errors.
Boundary: reads through ``KubeClient``; pattern logic is ``service.domain.logscan``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from service.cluster import objects
from service.cluster.client import KubeClient
from service.cluster.errors import KubeForbidden
from service.cluster.selectors import matches, selector_string
from service.config.settings import DiagnosticsSettings, Settings
from service.domain.evidence import Collected
from service.domain.logscan import LogScanner, ScanLimits, ScanResult, ScanState
from service.domain.signatures import SOURCE_CONTROL_PLANE, SOURCE_WORKER, SignatureConfig
from service.runbook.diagnostics.outcome import run_collector


def scan_limits(diag: DiagnosticsSettings, *, context: bool = True) -> ScanLimits:
    """The scanner's bounds from the diagnostics settings.

    ``context=False`` looks at defining patterns only: several times faster when chatter
    (``kaniko``, ``mirror``) is on most lines; the recovery watch needs no context.
    """
    first = max(1, diag.max_excerpts // 2)
    return ScanLimits(max_line_bytes=diag.max_line_bytes, excerpt_chars=diag.excerpt_chars,
                      keep_first=first, keep_last=max(0, diag.max_excerpts - first),
                      collect_context=context)


def since_seconds(since: datetime, now: datetime) -> int:
    """``--since`` as the API wants it: whole seconds, at least 1."""
    return max(1, math.ceil((now - since).total_seconds()))


async def deployment_pods(kube: KubeClient, deployment: str,
                          container: str | None) -> list[dict[str, Any]]:
    """The Deployment's pods with a log to read, oldest first; 403 up front if logs are denied.

    The Deployment, the namespace's pods and the access review are fetched together and the
    selector applied here: one round trip instead of three before the logs flow.
    """
    deploy, listing, may_read = await asyncio.gather(
        kube.get_deployment(deployment), kube.list_pods(), kube.can_i("get", "pods", "log"))
    if not may_read:
        raise KubeForbidden(f"cannot get pods/log in namespace {kube.namespace}",
                            verb="get", resource="pods/log", namespace=kube.namespace)
    return select_pods(deploy, objects.items(listing), deployment, container)


def select_pods(deploy: Mapping[str, Any], pods: Iterable[dict[str, Any]], deployment: str,
                container: str | None) -> list[dict[str, Any]]:
    """The pods of ``deploy`` (its selector, its own ReplicaSets) whose container started,
    oldest first."""
    selector = selector_string((deploy.get("spec") or {}).get("selector") or {})
    chosen = [p for p in pods
              if matches(selector, objects.labels_of(p))
              and objects.owned_by_deployment(p, deployment)
              and objects.container_started(p, container)]
    chosen.sort(key=objects.creation_order)
    return chosen


async def scan_deployment(kube: KubeClient, deployment: str, container: str | None,
                          state: ScanState, since_s: int) -> ScanResult:
    """Feed the logs of every pod of ``deployment`` into ``state``; returns its result."""
    return await scan_pods(kube, await deployment_pods(kube, deployment, container), container,
                           state, since_s)


async def scan_pods(kube: KubeClient, pods: list[dict[str, Any]], container: str | None,
                    state: ScanState, since_s: int) -> ScanResult:
    """Feed the logs of ``pods`` since ``since_s`` seconds into ``state``, pod by pod."""
    for pod in pods:
        chosen = container or objects.default_container(pod)
        stream = kube.stream_pod_log(objects.name_of(pod), chosen, since_seconds=since_s)
        async with contextlib.aclosing(stream) as chunks:
            async for chunk in chunks:
                if not state.feed(chunk):
                    break
        state.finish()  # a pod's last line never runs into the next pod's first
    return state.result()


async def collect_deployment_logs(
    kube: KubeClient, settings: Settings, *, deployment: str, container: str | None,
    source: str, since: datetime, now: datetime, timeout_s: float | None = None,
    signatures: list[SignatureConfig] | None = None, context: bool = True,
) -> Collected[ScanResult]:
    """Scan one Deployment's logs since ``since`` for the signatures of ``source``."""
    diag = settings.diagnostics
    scanner = LogScanner(signatures if signatures is not None else diag.signatures, source,
                         limits=scan_limits(diag, context=context))
    state = scanner.new_state()
    return await run_collector(
        lambda: scan_deployment(kube, deployment, container, state, since_seconds(since, now)),
        timeout_s=timeout_s or diag.collector_timeout_s,
        partial=state.result,
    )


async def collect_control_plane_logs(
    kube: KubeClient, settings: Settings, *, since: datetime, now: datetime,
    timeout_s: float | None = None,
) -> Collected[ScanResult]:
    """Runbook step 2: control-plane logs, cache patterns (and each signature's success
    lines, where its episode ends)."""
    platform = settings.platform
    return await collect_deployment_logs(
        kube, settings, deployment=platform.control_plane_deployment,
        container=platform.control_plane_container, source=SOURCE_CONTROL_PLANE,
        since=since, now=now, timeout_s=timeout_s,
        signatures=control_plane_signatures(settings.diagnostics))


def control_plane_signatures(diag: DiagnosticsSettings) -> list[SignatureConfig]:
    """What runbook step 2 greps: the signatures, and each one's success lines."""
    markers = [m for s in diag.signatures if (m := s.recovery_marker()) is not None]
    return [*diag.signatures, *markers]


async def collect_worker_logs(
    kube: KubeClient, settings: Settings, *, since: datetime, now: datetime,
    timeout_s: float | None = None,
) -> Collected[ScanResult]:
    """Runbook step 3: worker logs, run-level patterns."""
    return await collect_deployment_logs(
        kube, settings, deployment=settings.platform.worker_deployment, container=None,
        source=SOURCE_WORKER, since=since, now=now, timeout_s=timeout_s)
