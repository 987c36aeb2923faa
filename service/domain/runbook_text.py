"""The runbook's wording: the next steps the messages name, filled from the configuration.

Purpose: one place for every text that quotes a setting (the kill switch's key and off value,
where it lives, the Deployment whose rollout to wait for, the namespace, the registry, the
thresholds), so a changed configuration changes what the on-call reads.
Boundary: pure. ``RunbookText`` is built from the settings by the caller
(``service.wording.runbook_text``); nothing here reads a setting or keeps a default of one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from service.domain.policy_record import Rule

SwitchKind = Literal["deployment-env", "secret", "configmap"]


@dataclass(frozen=True)
class RunbookText:
    """The configured values the messages quote."""

    namespace: str  # where the responder (and the on-call's kubectl) acts
    switch_key: str
    switch_off_value: str
    switch_kind: SwitchKind
    switch_object: str  # the Deployment (deployment-env) or the Secret/ConfigMap
    switch_container: str  # the container whose env holds the switch (deployment-env)
    rollout_deployment: str  # the Deployment that must roll out to pick the switch up
    registry_deployment: str
    repeat_threshold: int  # escalate when more than this many in a row
    rollout_timeout_s: float
    job_log_tail_lines: int

    @property
    def switch_off(self) -> str:
        """``KEY=off-value``: the kill switch, set."""
        return f"{self.switch_key}={self.switch_off_value}"

    def is_off(self, value: str | None) -> bool:
        """Whether ``value`` (as read from the cluster) is the switch's off value."""
        return (value or "").lower() == self.switch_off_value.lower()


def _seconds(value: float) -> str:
    return f"{int(value)}s" if value.is_integer() else f"{value}s"


def _set_switch(text: RunbookText) -> str:
    if text.switch_kind == "deployment-env":
        return (f"Set {text.switch_off} on deploy/{text.switch_object} "
                f"(container {text.switch_container}).")
    return (f"Set {text.switch_off} in {text.switch_kind}/{text.switch_object}, then "
            f"`kubectl rollout restart deploy/{text.rollout_deployment}`.")


def next_steps(signature: str, switch_value: str | None, text: RunbookText) -> list[str]:
    """The runbook's numbered next step for ``signature``, given the switch's current value
    (``None`` when unknown); a signature without its own steps gets the generic one."""
    repeats = f"more than {text.repeat_threshold} times"
    if signature == "cache" and text.is_off(switch_value):
        steps = ["The cache is already off: a repeating MANIFEST_UNKNOWN means the cache is not "
                 "the (only) cause; escalate to SRE on-call (and the Owner for a rollback)."]
    elif signature == "cache":
        steps = [
            _set_switch(text),
            f"Wait for `kubectl rollout status deploy/{text.rollout_deployment} "
            f"--timeout={_seconds(text.rollout_timeout_s)}`.",
            "Retry the failed run; new build/mirror jobs must end Complete.",
            f"Escalate to SRE on-call if MANIFEST_UNKNOWN repeats {repeats} after the switch.",
        ]
    elif signature == "build-ref":
        steps = [
            "Check CODEXK8S_BUILD_REF: it must name an existing commit (codegen-check log, "
            f"tail {text.job_log_tail_lines}).",
            "Fix the build ref, then retry the failed run.",
            f"Escalate to SRE on-call if the checkout error repeats {repeats} after the fix.",
        ]
    else:
        steps = ["Follow RB-CK8S-AISLOT-BUILD-0001: diagnose, mitigate, escalate if it repeats."]
    return [f"{i}. {step}" for i, step in enumerate(steps, 1)]


def escalation_step(rule: Rule, text: RunbookText) -> str:
    """What to do next when the escalation ``rule`` fired."""
    steps: dict[Rule, str] = {
        "repeat": "The cache is off and builds still fail: the cache is not the (only) cause. "
                  "Owner: decide on the platform release rollback (image rollback of "
                  "control-plane/worker).",
        "recovery_deadline": "Check the latest evidence below; if the switch is off, follow the "
                             "rollback plan.",
        "registry": f"The kill switch will not help: restore the registry "
                    f"({text.registry_deployment} Deployment; check the registry-gc CronJob "
                    "that scales it to 0), then retry.",
        "rollout_stuck": f"Inspect the new control-plane ReplicaSet (kubectl -n {text.namespace} "
                         f"rollout status deploy/{text.rollout_deployment}; describe its pods).",
    }
    return steps[rule]
