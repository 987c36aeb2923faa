"""The cache kill switch: its current value where it lives, and whether its rollout finished.

Purpose: read ``CODEXK8S_KANIKO_CACHE_ENABLED`` from the configured place
(``MitigationSettings.target``): a container env entry of the Deployment (a literal ``value``,
or a ``valueFrom`` Secret/ConfigMap key, resolved), or a key of a Secret (base64) or ConfigMap;
plus ``kubectl rollout status``'s verdict on the Deployment that must pick it up.
``read_kill_switch`` raises (the mitigation needs to know a read failed); the collector wraps it.
Boundary: reads through ``KubeClient``; never writes; built from the switch's target and the
control-plane container's name.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.cluster.client import KubeClient
from service.cluster.objects import rollout_complete
from service.config.settings import KillSwitchTarget
from service.domain.evidence import KillSwitchState
from service.runbook.diagnostics.collector import Reading, Window


def _decode(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _container_with(deploy: dict[str, Any], key: str,
                    preferred: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The container carrying ``key`` in ``env`` (the preferred one first) and that entry;
    without one, the preferred (else first) container and None."""
    containers = ((deploy.get("spec") or {}).get("template") or {}).get("spec", {}) \
        .get("containers") or []
    containers = sorted(containers, key=lambda c: c.get("name") != preferred)
    for container in containers:
        for entry in container.get("env") or []:
            if entry.get("name") == key:
                return container, dict(entry)
    return (containers[0] if containers else {}), None


async def _from_ref(kube: KubeClient, ref: dict[str, Any]) -> tuple[str, str | None]:
    """A ``valueFrom`` Secret/ConfigMap key, resolved."""
    if "secretKeyRef" in ref:
        name, key = ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"]
        secret = await kube.get_secret(name)
        return f"secret/{name}", _decode((secret.get("data") or {}).get(key))
    if "configMapKeyRef" in ref:
        name, key = ref["configMapKeyRef"]["name"], ref["configMapKeyRef"]["key"]
        cm = await kube.get_configmap(name)
        return f"configmap/{name}", (cm.get("data") or {}).get(key)
    return "unsupported valueFrom", None


async def _from_env_from(kube: KubeClient, container: dict[str, Any],
                         key: str) -> tuple[str, str | None] | None:
    """``envFrom`` sources; a later source wins over an earlier one, as in the kubelet."""
    for source in reversed(container.get("envFrom") or []):
        prefix = source.get("prefix") or ""
        if not key.startswith(prefix):
            continue
        wanted = key[len(prefix):]
        if "secretRef" in source:
            name = source["secretRef"]["name"]
            data = (await kube.get_secret(name)).get("data") or {}
            if wanted in data:
                return f"secret/{name}", _decode(data[wanted])
        elif "configMapRef" in source:
            name = source["configMapRef"]["name"]
            data = (await kube.get_configmap(name)).get("data") or {}
            if wanted in data:
                return f"configmap/{name}", data[wanted]
    return None


async def _from_env(kube: KubeClient, deploy: dict[str, Any], key: str,
                    preferred: str) -> KillSwitchState:
    container, entry = _container_with(deploy, key, preferred)
    location = (f"deployment/{deploy.get('metadata', {}).get('name')} "
                f"container {container.get('name')} env {key}")
    if entry is not None and "value" in entry:
        return KillSwitchState(location=location, value=str(entry["value"]), source="value")
    if entry is not None:
        origin, value = await _from_ref(kube, entry.get("valueFrom") or {})
        ref = _ref_of(entry.get("valueFrom") or {}) or origin
        return KillSwitchState(location=f"{location} (from {origin})", value=value,
                               source="valueFrom", ref=ref)
    found = await _from_env_from(kube, container, key)
    if found is None:
        return KillSwitchState(location=f"{location} (not set)", value=None, source="unset")
    return KillSwitchState(location=f"{location} (envFrom {found[0]})", value=found[1],
                           source="envFrom", ref=found[0])


def _ref_of(ref: dict[str, Any]) -> str | None:
    """``secret/<name> key <key>`` for a ``valueFrom`` reference."""
    for field, kind in (("secretKeyRef", "secret"), ("configMapKeyRef", "configmap")):
        if field in ref:
            return f"{kind}/{ref[field].get('name')} key {ref[field].get('key')}"
    return None


async def read_kill_switch(kube: KubeClient, target: KillSwitchTarget, container: str,
                           deployments: Mapping[str, dict[str, Any]] | None = None,
                           ) -> KillSwitchState:
    """The switch's value and rollout state; raises ``KubeError`` when it cannot be read.

    ``container``: the one whose env holds the switch (``deployment-env``). ``deployments``:
    Deployments already at hand by name (the live view's); one missing there is read from the
    API.
    """
    known = deployments or {}

    async def deployment(name: str) -> dict[str, Any]:
        return known[name] if name in known else await kube.get_deployment(name)

    if target.kind == "deployment-env":
        deploy = await deployment(target.name)
        found = await _from_env(kube, deploy, target.key, container)
    else:
        holder, deploy = await asyncio.gather(
            kube.get_secret(target.name) if target.kind == "secret"
            else kube.get_configmap(target.name),
            deployment(target.restart_deployment))
        raw = (holder.get("data") or {}).get(target.key)
        value = _decode(raw) if target.kind == "secret" else raw
        found = KillSwitchState(location=f"{target.kind}/{target.name} key {target.key}",
                                value=value, source="object")
    meta, status = deploy.get("metadata") or {}, deploy.get("status") or {}
    return found.model_copy(update={
        "rollout_complete": rollout_complete(deploy),
        "generation": meta.get("generation"),
        "observed_generation": status.get("observedGeneration"),
    })


@dataclass(frozen=True)
class KillSwitchCollector:
    """The switch now: a snapshot, the window does not narrow it."""

    target: KillSwitchTarget
    container: str

    def reading(self, kube: KubeClient, window: Window) -> Reading[KillSwitchState]:
        return Reading(lambda: read_kill_switch(kube, self.target, self.container))
