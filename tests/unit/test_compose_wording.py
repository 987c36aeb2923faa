"""The messages quote the configuration: names and thresholds follow the settings.

With the default settings the wording is the runbook's, word for word; with other settings the
same messages name the other values, and none of the defaults leaks into them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from service.config.settings import Settings
from service.config.wording import runbook_text
from service.domain.decision_message import (
    compose_approval_request,
    compose_escalation,
    compose_mitigated,
    compose_resolved,
)
from service.domain.evidence import Collected, CollectorStatus, KillSwitchState
from service.domain.evidence_message import compose_evidence
from service.domain.incidents import Incident
from service.domain.messages import Message
from service.domain.policy import Escalate
from service.domain.policy_record import PolicyRecord, Rule
from service.domain.runbook_text import RunbookText, decided_steps, manual_switch
from tests.adapters.fakes import bundles

URL = "https://responder.example/"
NOW = datetime(2026, 2, 26, 11, 0, tzinfo=UTC)
DEFAULT = runbook_text(Settings())
OTHER = runbook_text(Settings(
    kube={"namespace": "ci-builds"},
    platform={"control_plane_container": "api", "registry_deployment": "zot"},
    mitigation={"rollout_timeout_s": 300.0,
                "target": {"name": "builder", "key": "KANIKO_CACHE", "off_value": "0"}},
    escalation={"repeat_threshold": 4},
    diagnostics={"job_log_tail_lines": 50},
))
SECRET = runbook_text(Settings(mitigation={"target": {
    "kind": "secret", "name": "build-flags", "restart_deployment": "builder"}}))
# What the default configuration says; none of it may appear where the configuration differs.
DEFAULT_LITERALS = ["CODEXK8S_KANIKO_CACHE_ENABLED", "=false", "codex-k8s-control-plane",
                    "codex-k8s-prod", "codex-k8s-registry", "container control-plane",
                    "180s", "more than 2 ", "tail 200"]


def _switch(value: str | None) -> Collected[KillSwitchState]:
    return Collected(status=CollectorStatus.OK, data=KillSwitchState(location="env", value=value))


def _next_step(text: RunbookText, signature: str = "cache", switch: str | None = "true",
               ) -> list[str]:
    incident = bundles.incident().model_copy(update={"signature": signature})
    bundle = bundles.bundle(incident.id).model_copy(
        update={"signature": signature, "kill_switch": _switch(switch)})
    message = compose_evidence(incident, bundle, text=text, public_url=URL, key="k")
    (step,) = [s for s in message.sections if s.title == "Next step (runbook)"]
    return step.lines


def _applied() -> PolicyRecord:
    record = PolicyRecord()
    record.mitigation.status, record.mitigation.new_value = "applied", "0"
    record.mitigation.applied_at = record.mitigation.decided_at = NOW
    return record


def _with_evidence() -> Incident:
    incident = bundles.incident()
    return incident.model_copy(update={"evidence": [bundles.bundle(incident.id)]})


def _escalation_step(rule: Rule, text: RunbookText) -> str:
    message = compose_escalation(_with_evidence(), _applied(), Escalate(rule, "all", "why"),
                                 facts=None, text=text, public_url=URL, rollback_plan="plan",
                                 now=NOW)
    (step,) = [s for s in message.sections if s.title == "Next step"]
    return step.lines[0]


def _owned_text(message: Message) -> str:
    """The title and the sections these modules write (not the evidence's own excerpts)."""
    mine = [s for s in message.sections if s.title in {"Next step", "What was done"}]
    return "\n".join([message.title, message.summary, *(ln for s in mine for ln in s.lines)])


def test_with_the_default_settings_the_runbook_steps_read_as_the_runbook_does() -> None:
    assert _next_step(DEFAULT) == [
        "1. Set CODEXK8S_KANIKO_CACHE_ENABLED=false on deploy/codex-k8s-control-plane "
        "(container control-plane).",
        "2. Wait for `kubectl rollout status deploy/codex-k8s-control-plane --timeout=180s`.",
        "3. Retry the failed run; new build/mirror jobs must end Complete.",
        "4. Escalate to SRE on-call if MANIFEST_UNKNOWN repeats more than 2 times after the "
        "switch.",
    ]
    assert _next_step(DEFAULT, "build-ref") == [
        "1. Check CODEXK8S_BUILD_REF: it must name an existing commit (codegen-check log, "
        "tail 200).",
        "2. Fix the build ref, then retry the failed run.",
        "3. Escalate to SRE on-call if the checkout error repeats more than 2 times after the "
        "fix.",
    ]
    assert _escalation_step("registry", DEFAULT) == (
        "The kill switch will not help: restore the registry (codex-k8s-registry Deployment; "
        "check the registry-gc CronJob that scales it to 0), then retry.")
    assert _escalation_step("rollout_stuck", DEFAULT) == (
        "Inspect the new control-plane ReplicaSet (kubectl -n codex-k8s-prod rollout status "
        "deploy/codex-k8s-control-plane; describe its pods).")
    approval = compose_approval_request(_with_evidence(), PolicyRecord(), text=DEFAULT,
                                        public_url=URL, now=NOW)
    assert approval.title.endswith("Approval needed: set CODEXK8S_KANIKO_CACHE_ENABLED=false")


def test_other_settings_change_the_runbook_steps() -> None:
    steps = _next_step(OTHER)
    assert steps == [
        "1. Set KANIKO_CACHE=0 on deploy/builder (container api).",
        "2. Wait for `kubectl rollout status deploy/builder --timeout=300s`.",
        "3. Retry the failed run; new build/mirror jobs must end Complete.",
        "4. Escalate to SRE on-call if MANIFEST_UNKNOWN repeats more than 4 times after the "
        "switch.",
    ]
    build_ref = _next_step(OTHER, "build-ref")
    assert "tail 50" in build_ref[0] and "more than 4 times" in build_ref[2]
    for line in [*steps, *build_ref]:
        assert not any(literal in line for literal in DEFAULT_LITERALS), line


def test_the_switch_is_already_off_only_at_the_configured_off_value() -> None:
    assert "already off" in _next_step(OTHER, switch="0")[0]
    assert _next_step(OTHER, switch="false")[0].startswith("1. Set KANIKO_CACHE=0")
    assert "already off" in _next_step(DEFAULT, switch="FALSE")[0]


def test_a_switch_in_a_secret_is_set_there_and_its_deployment_restarted() -> None:
    assert _next_step(SECRET)[:2] == [
        "1. Set CODEXK8S_KANIKO_CACHE_ENABLED=false in secret/build-flags, then "
        "`kubectl rollout restart deploy/builder`.",
        "2. Wait for `kubectl rollout status deploy/builder --timeout=180s`.",
    ]


def test_other_settings_change_the_policy_messages() -> None:
    incident, record = _with_evidence(), _applied()
    assert "(zot Deployment;" in _escalation_step("registry", OTHER)
    assert "kubectl -n ci-builds rollout status deploy/builder;" in _escalation_step(
        "rollout_stuck", OTHER)
    messages = [
        compose_escalation(incident, record, Escalate(rule, "all", "why"), facts=None,
                           text=OTHER, public_url=URL, rollback_plan="plan", now=NOW)
        for rule in ("repeat", "recovery_deadline", "registry", "rollout_stuck",
                     "mitigation_failed", "blind", "no_fix")
    ]
    messages += [
        compose_approval_request(incident, PolicyRecord(), text=OTHER, public_url=URL, now=NOW),
        compose_mitigated(incident, record, text=OTHER, public_url=URL, now=NOW),
        compose_resolved(incident, record, reason="a build succeeded", confirmed=True,
                         text=OTHER, public_url=URL, now=NOW),
    ]
    assert messages[7].title.endswith("Approval needed: set KANIKO_CACHE=0")
    assert any(line.startswith("Kill switch KANIKO_CACHE=0 (set by the responder)")
               for line in messages[8].sections[0].lines)
    for message in messages:
        owned = _owned_text(message)
        assert not any(literal in owned for literal in DEFAULT_LITERALS), owned


def test_the_first_message_says_what_the_decision_does() -> None:
    def steps(status: str, confirmed: bool = True, signature: str = "cache") -> str:
        return " ".join(decided_steps(signature, status, confirmed=confirmed,  # type: ignore
                                      switch_value="true", text=DEFAULT))

    assert steps("applying").startswith("1. The responder sets CODEXK8S_KANIKO_CACHE_ENABLED="
                                        "false on deploy/codex-k8s-control-plane")
    assert "Owner: approve" in steps("awaiting_approval")
    registry = steps("skipped")
    assert "will not help" in registry and "Set CODEXK8S" not in registry
    healthy = steps("not_needed", confirmed=False)
    assert "changes nothing" in healthy and "Set CODEXK8S" not in healthy
    build_ref = steps("not_needed", signature="build-ref")
    assert "CODEXK8S_BUILD_REF" in build_ref and "no automatic fix" in build_ref
    assert "kubectl -n codex-k8s-prod set env deploy/codex-k8s-control-plane -c control-plane " \
           "CODEXK8S_KANIKO_CACHE_ENABLED=false" in steps("dry_run")
    assert "Observe mode" in steps("observing")
    other = " ".join(decided_steps("cache", "applying", confirmed=True, switch_value="1",
                                   text=OTHER))
    assert not any(literal in other for literal in DEFAULT_LITERALS), other


def test_the_manual_command_follows_where_the_switch_lives() -> None:
    assert manual_switch(SECRET) == (
        "kubectl -n codex-k8s-prod patch secret build-flags --type merge -p "
        "'{\"stringData\":{\"CODEXK8S_KANIKO_CACHE_ENABLED\":\"false\"}}' && "
        "kubectl -n codex-k8s-prod rollout restart deploy/builder")
    from_ref = manual_switch(DEFAULT, "secret/codex-k8s-runtime key CACHE_FLAG")
    assert "patch secret codex-k8s-runtime" in from_ref and '"CACHE_FLAG":"false"' in from_ref
    assert from_ref.endswith("rollout restart deploy/codex-k8s-control-plane")
