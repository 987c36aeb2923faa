"""Runbook steps 2 and 3: ``kubectl logs deploy/<name> --since=6h | grep -E <patterns>``.

Purpose: resolve a Deployment to its pods like kubectl does (pods matching its ``spec.selector``
and owned by its own ReplicaSets, whose container has started), stream each pod's
log with ``sinceSeconds`` and feed it, chunk by chunk, to the streaming scanner for the
configured signatures of that source. Memory stays bounded whatever the log size. Unlike
``kubectl logs deploy/...`` (one pod), every pod of the Deployment is read: during a rollout the
old pod holds the errors.
Boundary: reads through ``KubeClient``; pattern logic is ``service.domain.logscan``; built from
the platform's names and the diagnostics section.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from service.cluster import objects
from service.cluster.client import KubeClient
from service.cluster.errors import KubeForbidden
from service.cluster.selectors import matches, selector_string
from service.config.settings import DiagnosticsSettings, PlatformObjects
from service.domain.logscan import LogScanner, ScanLimits, ScanResult, ScanState
from service.domain.signatures import SOURCE_CONTROL_PLANE, SOURCE_WORKER, SignatureConfig
from service.runbook.diagnostics.collector import Reading, Window


def scan_limits(diag: DiagnosticsSettings, *, context: bool = True) -> ScanLimits:
    """The scanner's bounds from the diagnostics settings.

    ``context=False`` looks at defining patterns only: several times faster when chatter
    (``kaniko``, ``mirror``) is on most lines; the recovery watch needs no context.
    """
    first = max(1, diag.max_excerpts // 2)
    return ScanLimits(max_line_bytes=diag.max_line_bytes, excerpt_chars=diag.excerpt_chars,
                      keep_first=first, keep_last=max(0, diag.max_excerpts - first),
                      collect_context=context)


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


@dataclass(frozen=True)
class DeploymentLogs:
    """One Deployment's logs over the window, scanned for its source's signatures; a run cut
    at its timeout keeps what the scanner had read."""

    deployment: str
    container: str | None
    scanner: LogScanner

    def reading(self, kube: KubeClient, window: Window) -> Reading[ScanResult]:
        state = self.scanner.new_state()
        return Reading(lambda: scan_deployment(kube, self.deployment, self.container, state,
                                               window.since_seconds),
                       partial=state.result)


def control_plane_logs(platform: PlatformObjects, diag: DiagnosticsSettings, *,
                       signatures: list[SignatureConfig] | None = None,
                       context: bool = True) -> DeploymentLogs:
    """Runbook step 2: control-plane logs, cache patterns (and each signature's success
    lines, where its episode ends); ``signatures`` narrows it (the watch wants one)."""
    return DeploymentLogs(
        platform.control_plane_deployment, platform.control_plane_container,
        LogScanner(control_plane_signatures(diag) if signatures is None else signatures,
                   SOURCE_CONTROL_PLANE, limits=scan_limits(diag, context=context)))


def control_plane_signatures(diag: DiagnosticsSettings) -> list[SignatureConfig]:
    """What runbook step 2 greps: the signatures, and each one's success lines."""
    markers = [m for s in diag.signatures if (m := s.recovery_marker()) is not None]
    return [*diag.signatures, *markers]


def worker_logs(platform: PlatformObjects, diag: DiagnosticsSettings) -> DeploymentLogs:
    """Runbook step 3: worker logs, run-level patterns."""
    return DeploymentLogs(platform.worker_deployment, None,
                          LogScanner(diag.signatures, SOURCE_WORKER, limits=scan_limits(diag)))
