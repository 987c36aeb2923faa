"""The runbook's mitigation: ``CODEXK8S_KANIKO_CACHE_ENABLED=false``, read before write.

Touches only the configured object: the control-plane container's env (one strategic-merge
patch, which starts the rollout by itself), or a Secret/ConfigMap key plus a
``kubectl.kubernetes.io/restartedAt`` annotation on the Deployment (``kubectl rollout restart``).
Both patches are idempotent by value (the restart stamp is the decision's time), and the value
is read first, so carrying a decision out again after a crash never patches twice.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from service.cluster.client import KubeClient
from service.config.settings import Settings
from service.domain.evidence import KillSwitchState

log = structlog.get_logger(__name__)

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


@dataclass(frozen=True)
class PlannedPatch:
    """One patch: which object, which patch type, which body."""

    kind: str  # deployment | secret | configmap
    name: str
    patch_type: str
    body: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "patch_type": self.patch_type,
                "body": self.body}


@dataclass(frozen=True)
class SwitchOutcome:
    status: str  # applied | already_off
    previous_value: str | None
    new_value: str
    patches: list[PlannedPatch]


def plan_patches(settings: Settings, decided_at: datetime) -> list[PlannedPatch]:
    """The exact patches that turn the switch off (also what dry-run records)."""
    target = settings.mitigation.target
    if target.kind == "deployment-env":
        container = {"name": settings.platform.control_plane_container,
                     "env": [{"name": target.key, "value": target.off_value}]}
        return [PlannedPatch("deployment", target.name, "strategic",
                             {"spec": {"template": {"spec": {"containers": [container]}}}})]
    if target.kind == "secret":
        encoded = base64.b64encode(target.off_value.encode()).decode()
        first = PlannedPatch("secret", target.name, "merge", {"data": {target.key: encoded}})
    else:
        first = PlannedPatch("configmap", target.name, "merge",
                             {"data": {target.key: target.off_value}})
    restart = {"spec": {"template": {"metadata": {"annotations": {
        RESTARTED_AT: decided_at.strftime("%Y-%m-%dT%H:%M:%SZ")}}}}}
    return [first, PlannedPatch("deployment", target.restart_deployment, "strategic", restart)]


async def _send(kube: KubeClient, patch: PlannedPatch) -> None:
    if patch.kind == "deployment":
        await kube.patch_deployment(patch.name, patch.body, "strategic")
    elif patch.kind == "secret":
        await kube.patch_secret(patch.name, patch.body, "merge")
    else:
        await kube.patch_configmap(patch.name, patch.body, "merge")


class SwitchRefused(Exception):
    """The switch cannot be set the configured way (it is not a literal env value): by hand.
    ``ref``: where the value really comes from (``secret/<name> key <key>``)."""

    def __init__(self, message: str, ref: str | None) -> None:
        super().__init__(message)
        self.ref = ref


def refusal(state: KillSwitchState, settings: Settings) -> str | None:
    """Why patching ``value`` into the container env would be wrong, if it would.

    An env entry sourced by ``valueFrom`` is never given a ``value`` (the apiserver refuses
    both with a 422, and the Secret would still say otherwise): the configured Secret or
    ConfigMap target must be used instead.
    """
    if settings.mitigation.target.kind == "deployment-env" and state.source == "valueFrom":
        return (f"{settings.mitigation.target.key} comes from {state.ref} (valueFrom), not a "
                "literal env value: set mitigation.target to that object, or set it by hand")
    return None


async def apply_switch(kube: KubeClient, settings: Settings, decided_at: datetime,
                       state: KillSwitchState, *, resuming: bool = False) -> SwitchOutcome:
    """Turn the switch off unless ``state`` (read just before) says it is; raises the kube
    adapter's errors, or ``SwitchRefused``.

    ``resuming``: an earlier attempt of this same decision may have been cut by a crash. With
    the switch in a Secret/ConfigMap, the value may then be off while the restart was never
    sent, so the restart is sent again (a no-op if it was: same stamp, same template).
    """
    target = settings.mitigation.target
    patches = plan_patches(settings, decided_at)
    if state.value == target.off_value:
        if not resuming:
            log.info("kill_switch_already_off", location=state.location)
            return SwitchOutcome("already_off", state.value, target.off_value, [])
        # Our own earlier attempt went through before a crash: applied, by us.
        patches = patches[1:]
    elif (why := refusal(state, settings)) is not None:
        raise SwitchRefused(why, state.ref)
    for patch in patches:
        await _send(kube, patch)
        log.info("kill_switch_patched", kind=patch.kind, name=patch.name,
                 patch_type=patch.patch_type)
    return SwitchOutcome("applied", state.value, target.off_value, patches)
