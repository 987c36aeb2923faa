"""The runbook's decisions as one pure function: ``evaluate(incident, facts, now, config)``.

Given an incident (with its evidence and what the policy recorded so far), the latest facts
from the cluster and the time, it returns the new policy record and the actions to carry out:
apply the kill switch, ask for approval, escalate by rule, resolve. Loops only execute what it
returns, so every threshold (30 minutes, "more than 2 in a row") is tested here, in
microseconds, without a cluster or a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from service.domain.evidence import EvidenceBundle, RegistryHealth
from service.domain.facts import Facts
from service.domain.lifecycle import State
from service.domain.policy_record import (
    Escalation,
    Mode,
    PolicyRecord,
    Rule,
    WatchRecord,
)


@dataclass(frozen=True)
class PolicyConfig:
    mode: Mode
    switch_signatures: frozenset[str]
    off_value: str
    repeat_threshold: int
    recovery_deadline: timedelta
    clean_window: timedelta
    rollout_timeout: timedelta
    # Which finished jobs speak for a signature: a cache failure shows in builds and mirrors,
    # a bad build ref in the codegen check. Signatures not listed use builds and mirrors.
    watched_kinds: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def kinds_for(self, signature: str) -> frozenset[str]:
        return self.watched_kinds.get(signature, frozenset({"build", "mirror"}))


@dataclass(frozen=True)
class ApplySwitch:
    """Patch the kill switch (read before write)."""


@dataclass(frozen=True)
class RecordDryRun:
    """Record the exact patch without sending it."""


@dataclass(frozen=True)
class RequestApproval:
    """Ask the Owner to approve the switch."""


@dataclass(frozen=True)
class Escalate:
    rule: Rule
    audience: Literal["oncall", "owner", "all"]
    reason: str


@dataclass(frozen=True)
class Resolve:
    mttr_s: float | None
    reason: str


Action = ApplySwitch | RecordDryRun | RequestApproval | Escalate | Resolve


@dataclass
class Decision:
    record: PolicyRecord
    state: State
    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # timeline lines: why the record changed


def _first_failure(first_failure_at: datetime, evidence: EvidenceBundle | None) -> datetime:
    if evidence is not None and evidence.first_error_at is not None:
        return min(first_failure_at, evidence.first_error_at)
    return first_failure_at


def _merge_builds(watch: WatchRecord, facts: Facts, signature: str,
                  kinds: frozenset[str]) -> list[str]:
    """Fold newly finished jobs of ``kinds`` into the watch; recompute the streak."""
    if watch.since is None:
        return []
    notes = []
    for build in facts.builds:
        if build.job in watch.builds or build.kind not in kinds:
            continue
        if build.created_at is not None and build.created_at < watch.since:
            continue
        watch.builds[build.job] = build
        if build.status == "Failed" and build.signature == signature:
            notes.append(f"{build.kind} job {build.job} failed with {signature}"
                         f" (watched since {watch.since:%H:%M:%S})")
        elif build.status == "Complete" and watch.first_success_at is None:
            notes.append(f"{build.kind} job {build.job} completed"
                         f" (watched since {watch.since:%H:%M:%S}): recovered")
    streak = 0
    for build in sorted(watch.builds.values(),
                        key=lambda b: (b.finished_at or b.created_at or watch.since, b.job)):
        if build.status == "Complete":
            streak = 0
            if watch.first_success_at is None or (
                    build.finished_at and build.finished_at < watch.first_success_at):
                watch.first_success_at = build.finished_at or facts.collected_at
        elif build.signature == signature:
            streak += 1
            watch.max_streak = max(watch.max_streak, streak)
    watch.streak = streak
    for sighting in facts.sightings:
        if sighting.signature != signature or sighting.last_seen is None:
            continue
        if sighting.last_seen >= watch.since and (
                watch.last_sighting_at is None or sighting.last_seen > watch.last_sighting_at):
            watch.last_sighting_at = sighting.last_seen
    return notes


def _degraded_registry(evidence: EvidenceBundle | None,
                       facts: Facts | None) -> RegistryHealth | None:
    """Rule 3's facts, from the latest observation or the evidence, whichever shows it."""
    for registry in (facts.registry if facts else None,
                     evidence.registry.data if evidence else None):
        if registry is not None and registry.degraded_together:
            return registry
    return None


def _escalate(decision: Decision, rule: Rule, audience: Literal["oncall", "owner", "all"],
              reason: str, now: datetime) -> None:
    if rule in decision.record.escalations:
        return  # each rule fires at most once per incident
    decision.record.escalations[rule] = Escalation(rule=rule, at=now, audience=audience,
                                                   reason=reason)
    decision.actions.append(Escalate(rule, audience, reason))


def _decide_mitigation(decision: Decision, signature: str, evidence: EvidenceBundle | None,
                       facts: Facts | None, now: datetime, config: PolicyConfig) -> None:
    mit = decision.record.mitigation
    if mit.status != "none" or evidence is None:
        return
    registry_down = _degraded_registry(evidence, facts) is not None
    mit.mode, mit.decided_at = config.mode, now
    if registry_down:
        mit.status = "skipped"
        decision.notes.append("kill switch not applied: the registry is down and mirror jobs "
                              "fail, so the cache is not the cause")
        decision.state = State.MONITORING
        decision.record.watch.since = now
    elif not (evidence.confirmed and signature in config.switch_signatures):
        mit.status = "not_needed"
        wanted = "/".join(sorted(config.switch_signatures))
        why = (f"the kill switch does not fix {signature}" if evidence.confirmed
               else f"evidence does not confirm a {wanted} signature")
        decision.notes.append(f"{why}: no kill switch; watching for recovery")
        decision.state = State.MONITORING
        decision.record.watch.since = now
    elif config.mode == "auto":
        mit.status = "applying"
    elif config.mode == "approval":
        mit.status = "awaiting_approval"
        decision.actions.append(RequestApproval())
    elif config.mode == "dry-run":
        mit.status = "dry_run"
        decision.state = State.MONITORING
        decision.record.watch.since = now
    else:
        mit.status = "observing"
        decision.notes.append("observe mode: watching for a person to set the switch off")


def evaluate(*, state: State, first_failure_at: datetime, signature: str,
             record: PolicyRecord, evidence: EvidenceBundle | None, facts: Facts | None,
             now: datetime, config: PolicyConfig) -> Decision:
    """One step of the runbook for one incident. Pure: same inputs, same decision."""
    decision = Decision(record=record.model_copy(deep=True), state=state)
    if state is State.RESOLVED:
        return decision
    mit, watch = decision.record.mitigation, decision.record.watch
    _decide_mitigation(decision, signature, evidence, facts, now, config)

    if mit.status == "approved":
        mit.status = "applying"
    # Recorded before it is carried out; still set after a crash, so it is carried out then
    # (the executor reads the switch before it writes, so it never patches twice).
    if mit.status == "applying":
        decision.state = State.MITIGATING
        decision.actions.append(ApplySwitch())
    if mit.status == "dry_run" and mit.patch is None:
        decision.actions.append(RecordDryRun())
    switch = facts.kill_switch if facts is not None else None
    if mit.status == "observing" and switch is not None and switch.value == config.off_value:
        mit.status, mit.applied_at, mit.new_value = "observed_off", now, switch.value
        watch.since = now
        decision.state = State.MONITORING
        decision.notes.append("a person set the kill switch off; counting from now")
    if mit.status in {"applied", "already_off"} and mit.rollout == "waiting" and switch:
        if switch.rollout_complete:
            mit.rollout, mit.rollout_finished_at = "complete", now
            decision.notes.append("control-plane rollout finished")
            if decision.state is State.MITIGATING:
                decision.state = State.MONITORING
        elif mit.rollout_deadline_at is not None and now >= mit.rollout_deadline_at:
            mit.rollout = "stuck"
            _escalate(decision, "rollout_stuck", "oncall",
                      f"control-plane rollout not finished {config.rollout_timeout} after "
                      "the switch", now)

    if facts is not None:
        decision.notes += _merge_builds(watch, facts, signature, config.kinds_for(signature))
    registry = _degraded_registry(evidence, facts)
    if registry is not None:
        _escalate(decision, "registry", "oncall",
                  f"registry unavailable ({registry.registry_reason or 'not ready'}) while "
                  f"{registry.mirror_jobs_failed} mirror job(s) failed", now)

    if watch.since is not None and watch.streak > config.repeat_threshold and \
            mit.status in {"applied", "already_off", "observed_off"}:
        _escalate(decision, "repeat", "all",
                  f"{signature} repeated {watch.streak} times in a row after the kill switch "
                  f"(threshold: more than {config.repeat_threshold})", now)

    started = _first_failure(first_failure_at, evidence)
    # Recovered = a build succeeded after the mitigation (the SLO's MTTR end point); the clean
    # window that follows is confirmation, not part of the recovery time.
    if watch.first_success_at is None and now - started >= config.recovery_deadline:
        _escalate(decision, "recovery_deadline", "oncall",
                  f"not recovered {int((now - started).total_seconds() // 60)} min after the "
                  f"first recorded failure at {started.isoformat()} (deadline "
                  f"{int(config.recovery_deadline.total_seconds() // 60)} min)", now)

    if watch.since is not None and watch.first_success_at is not None \
            and decision.state is State.MONITORING:
        quiet_since = max(watch.since, watch.last_sighting_at or watch.since)
        if now - quiet_since >= config.clean_window:
            mttr = (watch.first_success_at - started).total_seconds()
            decision.record.mttr_s = max(0.0, mttr)
            decision.actions.append(Resolve(
                decision.record.mttr_s,
                f"a build completed at {watch.first_success_at.isoformat()} and no new "
                f"{signature} failure for {int(config.clean_window.total_seconds() // 60)} min"))
            decision.state = State.RESOLVED
    return decision
