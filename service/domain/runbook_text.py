"""The runbook's wording: the next steps the messages name, filled from the configuration.

Purpose: one place for every text that quotes a setting (the kill switch's key and off value,
where it lives, the Deployment whose rollout to wait for, the namespace, the registry, the
thresholds), so a changed configuration changes what the on-call reads.
Boundary: pure. ``RunbookText`` is built from the settings by the caller
(``service.config.wording.runbook_text``); nothing here reads a setting or keeps a default of one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from service.domain.policy_record import MitigationStatus, Rule

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


def _where(text: RunbookText) -> str:
    if text.switch_kind == "deployment-env":
        return f"on deploy/{text.switch_object} (container {text.switch_container})"
    return (f"in {text.switch_kind}/{text.switch_object}, then "
            f"`kubectl rollout restart deploy/{text.rollout_deployment}`")


def _set_switch(text: RunbookText) -> str:
    return f"Set {text.switch_off} {_where(text)}."


def manual_switch(text: RunbookText, ref: str | None = None) -> str:
    """The exact command that sets the switch by hand: where it is configured to live, or
    ``ref`` (``secret/<name> key <key>``, a ``valueFrom`` source) when it lives there."""
    ns = f"kubectl -n {text.namespace}"
    restart = f" && {ns} rollout restart deploy/{text.rollout_deployment}"
    kind: str = text.switch_kind
    name, key = text.switch_object, text.switch_key
    if ref is not None:
        where, _, key = ref.partition(" key ")
        kind, _, name = where.partition("/")
    if kind == "deployment-env":
        return f"{ns} set env deploy/{name} -c {text.switch_container} {text.switch_off}"
    field = "stringData" if kind == "secret" else "data"
    body = json.dumps({field: {key: text.switch_off_value}}, separators=(",", ":"))
    return f"{ns} patch {kind} {name} --type merge -p '{body}'{restart}"


def patch_commands(patch: Mapping[str, object], text: RunbookText) -> list[str]:
    """The recorded patch (``{"patches": [{kind, name, patch_type, body}]}``) as the
    ``kubectl patch`` commands that send the same, in order; what is not a patch is skipped."""
    planned = patch.get("patches")
    commands = []
    for item in planned if isinstance(planned, list) else []:
        if not isinstance(item, dict) or not {"kind", "name", "body"} <= item.keys():
            continue
        body = json.dumps(item["body"], separators=(",", ":"), sort_keys=False)
        commands.append(f"kubectl -n {text.namespace} patch {item['kind']} {item['name']} "
                        f"--type {item.get('patch_type', 'strategic')} -p '{body}'")
    return commands


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


def decided_steps(signature: str, status: MitigationStatus, *, confirmed: bool,
                  switch_value: str | None, text: RunbookText) -> list[str]:
    """The next step as the first decision made it: what the responder does itself, or what
    it needs a person to do (the first message is written after that decision)."""
    later = f"more than {text.repeat_threshold} times after the rollout"
    watch = (f"It waits for `kubectl rollout status deploy/{text.rollout_deployment} "
             f"--timeout={_seconds(text.rollout_timeout_s)}`, watches new build/mirror jobs, "
             f"and escalates to SRE on-call and the Owner if {signature} repeats {later}.")
    if status == "applying":
        steps = [f"The responder sets {text.switch_off} {_where(text)} itself now (auto "
                 "mode).", watch]
    elif status == "awaiting_approval":
        steps = [f"Owner: approve the kill switch ({text.switch_off}) from the incident page "
                 "(approval mode); the responder applies it right after.", watch]
    elif status == "skipped":
        steps = [escalation_step("registry", text), "Escalated to SRE on-call."]
    elif status == "not_needed" and not confirmed:
        steps = [f"The evidence does not confirm the {signature} signature: the responder "
                 "changes nothing and watches for recovery.",
                 "Check the failed jobs and the alert's source before acting."]
    elif status == "not_needed":
        return [*next_steps(signature, switch_value, text),
                "Escalated to SRE on-call: the responder has no automatic fix for "
                f"{signature}."]
    elif status == "dry_run":
        steps = ["Dry run: the responder recorded the patch it would send and sent nothing.",
                 f"To set the switch by hand: `{manual_switch(text)}`."]
    elif status == "observing":
        return [*next_steps(signature, switch_value, text),
                "Observe mode: the responder does not write; it notices when the switch is "
                "off and watches from then."]
    else:
        return next_steps(signature, switch_value, text)
    return [f"{i}. {step}" for i, step in enumerate(steps, 1)]


def escalation_step(rule: Rule, text: RunbookText, manual: str | None = None) -> str:
    """What to do next when the escalation ``rule`` fired; ``manual``: the command to set the
    switch by hand, where the refusal showed it lives."""
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
        "mitigation_failed": f"Set the switch by hand: `{manual or manual_switch(text)}`, "
                             "then wait for the rollout.",
        "blind": "Give the responder what it cannot read (the grants or the fix below); until "
                 "then, follow the runbook by hand.",
        "no_fix": "Fix the cause the evidence names (for build-ref: set a valid "
                  "CODEXK8S_BUILD_REF), then retry the failed run.",
    }
    return steps[rule]
