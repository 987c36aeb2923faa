"""The cache kill switch: its current value where it lives, and whether its rollout finished.

Purpose: read ``CODEXK8S_KANIKO_CACHE_ENABLED`` from the configured place
(``MitigationSettings.target``): a container env entry of the Deployment (a literal ``value``,
or a ``valueFrom`` Secret/ConfigMap key, resolved), or a key of a Secret (base64) or ConfigMap;
plus ``kubectl rollout status``'s verdict on the Deployment that must pick it up.
``read_kill_switch`` raises (the mitigation needs to know a read failed); the collector wraps it.
Boundary: reads through ``KubeClient``; never writes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from datetime import datetime
from typing import Any

from service.diagnostics.objects import rollout_complete
from service.diagnostics.outcome import run_collector
from service.domain.evidence import Collected, KillSwitchState
from service.kube import KubeClient
from service.settings import Settings


def _decode(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _env_entry(deploy: dict[str, Any], key: str,
               preferred: str) -> tuple[str | None, dict[str, Any] | None]:
    """The container carrying ``key`` (the preferred one first) and its env entry."""
    containers = ((deploy.get("spec") or {}).get("template") or {}).get("spec", {}) \
        .get("containers") or []
    containers = sorted(containers, key=lambda c: c.get("name") != preferred)
    for container in containers:
        for entry in container.get("env") or []:
            if entry.get("name") == key:
                return str(container.get("name")), dict(entry)
    first = containers[0].get("name") if containers else None
    return (str(first) if first else None), None


async def _from_env(kube: KubeClient, deploy: dict[str, Any], key: str,
                    preferred: str) -> tuple[str, str | None]:
    container, entry = _env_entry(deploy, key, preferred)
    location = (f"deployment/{deploy.get('metadata', {}).get('name')} "
                f"container {container} env {key}")
    if entry is None:
        return location, None
    if "value" in entry:
        return location, str(entry["value"])
    ref = entry.get("valueFrom") or {}
    if "secretKeyRef" in ref:
        secret = await kube.get_secret(ref["secretKeyRef"]["name"])
        found = _decode((secret.get("data") or {}).get(ref["secretKeyRef"]["key"]))
        return f"{location} (from secret/{ref['secretKeyRef']['name']})", found
    if "configMapKeyRef" in ref:
        cm = await kube.get_configmap(ref["configMapKeyRef"]["name"])
        value = (cm.get("data") or {}).get(ref["configMapKeyRef"]["key"])
        return f"{location} (from configmap/{ref['configMapKeyRef']['name']})", value
    return location, None


async def read_kill_switch(kube: KubeClient, settings: Settings) -> KillSwitchState:
    """The switch's value and rollout state; raises ``KubeError`` when it cannot be read."""
    target = settings.mitigation.target
    if target.kind == "deployment-env":
        deploy = await kube.get_deployment(target.name)
        location, value = await _from_env(kube, deploy, target.key,
                                          settings.platform.control_plane_container)
    else:
        holder, deploy = await asyncio.gather(
            kube.get_secret(target.name) if target.kind == "secret"
            else kube.get_configmap(target.name),
            kube.get_deployment(target.restart_deployment))
        raw = (holder.get("data") or {}).get(target.key)
        value = _decode(raw) if target.kind == "secret" else raw
        location = f"{target.kind}/{target.name} key {target.key}"
    meta, status = deploy.get("metadata") or {}, deploy.get("status") or {}
    return KillSwitchState(
        location=location,
        value=value,
        rollout_complete=rollout_complete(deploy),
        generation=meta.get("generation"),
        observed_generation=status.get("observedGeneration"),
    )


async def collect_kill_switch(
    kube: KubeClient, settings: Settings, *, since: datetime, now: datetime,
    timeout_s: float | None = None,
) -> Collected[KillSwitchState]:
    return await run_collector(lambda: read_kill_switch(kube, settings),
                               timeout_s=timeout_s or settings.diagnostics.collector_timeout_s)
