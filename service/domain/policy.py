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

from service.domain.evidence import EvidenceBundle, RegistryHealth
from service.domain.facts import Facts
from service.domain.lifecycle import State
from service.domain.messages import Audience
from service.domain.policy_record import Escalation, Mode, PolicyRecord, Rule
from service.domain.timetext import moment, span
from service.domain.watch import merge_builds, track_gaps

# The switch is off (by us, found so, or by a person): its rollout is what to wait for.
SWITCHED = frozenset({"applied", "already_off", "observed_off"})


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
    blind_after: timedelta = timedelta(minutes=5)

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
    audience: Audience
    reason: str


@dataclass(frozen=True)
class Resolve:
    mttr_s: float | None
    confirmed: bool  # the evidence confirmed the signature: a root cause and an MTTR sample
    reason: str


Action = ApplySwitch | RecordDryRun | RequestApproval | Escalate | Resolve


@dataclass
class Decision:
    record: PolicyRecord
    state: State
    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # timeline lines: why the record changed




def _episode_start(record: PolicyRecord, first_failure_at: datetime,
                   evidence: EvidenceBundle | None) -> datetime:
    """The episode's first failure, fixed at the first decision; the alert's start when the
    evidence found none (an unconfirmed incident)."""
    if record.episode_start is not None:
        return record.episode_start
    if evidence is not None and evidence.episode_start is not None:
        # The alert starts after the last success by construction (episode_start's bound).
        return min(first_failure_at, evidence.episode_start)
    return first_failure_at


def _degraded_registry(evidence: EvidenceBundle | None,
                       facts: Facts | None) -> RegistryHealth | None:
    """Rule 3's facts, from the latest observation or the evidence, whichever shows it."""
    for registry in (facts.registry if facts else None,
                     evidence.registry.data if evidence else None):
        if registry is not None and registry.degraded_together:
            return registry
    return None


def _escalate(decision: Decision, rule: Rule, audience: Audience, reason: str,
              now: datetime) -> None:
    if rule in decision.record.escalations:
        return  # each rule fires at most once per incident
    decision.record.escalations[rule] = Escalation(rule=rule, at=now, audience=audience,
                                                   reason=reason)
    decision.actions.append(Escalate(rule, audience, reason))


def _watch_from(decision: Decision, now: datetime) -> None:
    decision.state = State.MONITORING
    # Kubernetes stamps objects in whole seconds: a build created in the second the rollout
    # completed is one of the watch's.
    decision.record.watch.since = now.replace(microsecond=0)


def _decide_mitigation(decision: Decision, signature: str, evidence: EvidenceBundle,
                       facts: Facts | None, now: datetime, config: PolicyConfig) -> None:
    mit = decision.record.mitigation
    mit.mode, mit.decided_at = config.mode, now
    if _degraded_registry(evidence, facts) is not None:
        mit.status = "skipped"
        decision.notes.append("kill switch not applied: the registry is down and mirror jobs "
                              "fail, so the cache is not the cause")
        _watch_from(decision, now)
    elif not evidence.confirmed:
        mit.status = "not_needed"
        wanted = "/".join(sorted(config.switch_signatures))
        decision.notes.append(f"evidence does not confirm a {wanted} signature: no kill "
                              "switch; watching for recovery")
        _watch_from(decision, now)
    elif signature not in config.switch_signatures:
        mit.status = "not_needed"
        decision.notes.append(f"the kill switch does not fix {signature}: no automatic fix")
        named = f"; the logs name {', '.join(evidence.causes)}" if evidence.causes else ""
        _escalate(decision, "no_fix", "oncall",
                  f"{signature} confirmed and the responder has no automatic fix for it{named}",
                  now)
        _watch_from(decision, now)
    elif config.mode == "auto":
        mit.status = "applying"
    elif config.mode == "approval":
        mit.status = "awaiting_approval"
        decision.actions.append(RequestApproval())
    elif config.mode == "dry-run":
        mit.status = "dry_run"
        _watch_from(decision, now)
    else:
        mit.status = "observing"
        decision.notes.append("observe mode: watching for a person to set the switch off")


def _follow_switch(decision: Decision, facts: Facts | None, now: datetime,
                   config: PolicyConfig) -> None:
    """The switch after the decision: a person's flip, the rollout, a refusal."""
    mit = decision.record.mitigation
    switch = facts.kill_switch if facts is not None else None
    if mit.status in {"observing", "failed"} and switch is not None \
            and (switch.value or "").lower() == config.off_value.lower():
        mit.status, mit.applied_at, mit.new_value = "observed_off", now, switch.value
        mit.rollout, mit.rollout_deadline_at = "waiting", now + config.rollout_timeout
        decision.notes.append("a person set the kill switch off; waiting for the rollout")
    if mit.status == "failed":
        _escalate(decision, "mitigation_failed", "oncall",
                  f"the cluster refused the kill switch: {mit.failure or 'no reason given'}",
                  now)
        if decision.record.watch.since is None:
            _watch_from(decision, now)
    if mit.status in SWITCHED and mit.rollout == "waiting" and switch:
        # Complete only as seen with the switch off: a view that has not yet received the
        # patched Deployment still shows the old one, fully rolled out.
        if switch.rollout_complete and (switch.value or "").lower() == config.off_value.lower():
            mit.rollout, mit.rollout_finished_at = "complete", now
            decision.notes.append("control-plane rollout finished: counting new builds from "
                                  "now")
            _watch_from(decision, now)
        elif mit.rollout_deadline_at is not None and now >= mit.rollout_deadline_at:
            mit.rollout = "stuck"
            _escalate(decision, "rollout_stuck", "oncall",
                      f"control-plane rollout not finished {_minutes(config.rollout_timeout)} "
                      "after the switch", now)


def _track_gaps(decision: Decision, facts: Facts, now: datetime, config: PolicyConfig) -> None:
    """Rule 5 (blind): what the view cannot read, for longer than ``blind_after``."""
    decision.notes += track_gaps(decision.record.watch, facts, now)
    gaps = decision.record.watch.gaps
    current = {gap.part: gap for gap in facts.gaps}
    blind = [current[p].describe() for p, since in sorted(gaps.items())
             if now - since >= config.blind_after]
    if blind:
        _escalate(decision, "blind", "oncall",
                  f"the responder cannot see what its rules need for more than "
                  f"{_minutes(config.blind_after)}: {'; '.join(blind)}", now)


def _minutes(length: timedelta) -> str:
    return span(length)


def evaluate(*, state: State, first_failure_at: datetime, signature: str,
             record: PolicyRecord, evidence: EvidenceBundle | None, facts: Facts | None,
             now: datetime, config: PolicyConfig) -> Decision:
    """One step of the runbook for one incident. Pure: same inputs, same decision."""
    decision = Decision(record=record.model_copy(deep=True), state=state)
    if state is State.RESOLVED:
        return decision
    rec = decision.record
    mit, watch = rec.mitigation, rec.watch
    if evidence is not None and evidence.blind():
        _escalate(decision, "blind", "oncall",
                  f"diagnostics cannot run at all: {'; '.join(evidence.missing())}", now)
    elif evidence is not None and mit.status == "none":
        rec.episode_start = _episode_start(rec, first_failure_at, evidence)
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
    _follow_switch(decision, facts, now, config)

    if facts is not None:
        _track_gaps(decision, facts, now, config)
        decision.notes += merge_builds(watch, facts, signature, config.kinds_for(signature))
    registry = _degraded_registry(evidence, facts)
    if registry is not None:
        _escalate(decision, "registry", "oncall",
                  f"registry unavailable ({registry.registry_reason or 'not ready'}) while "
                  f"{registry.mirror_jobs_failed} mirror job(s) failed", now)

    # Rule 1 counts builds the new pods launched: only once the rollout completed.
    if mit.status in SWITCHED and mit.rollout == "complete" \
            and watch.streak > config.repeat_threshold:
        _escalate(decision, "repeat", "all",
                  f"{signature} repeated {watch.streak} times in a row after the kill switch "
                  f"(threshold: more than {config.repeat_threshold})", now)

    started = _episode_start(rec, first_failure_at, evidence)
    # Recovered = a build succeeded after the mitigation (the SLO's MTTR end point); the clean
    # window that follows is confirmation, not part of the recovery time.
    if watch.first_success_at is None and now - started >= config.recovery_deadline:
        _escalate(decision, "recovery_deadline", "all",
                  f"not recovered {_minutes(now - started)} after this episode's first "
                  f"failure at {moment(started)} (deadline "
                  f"{_minutes(config.recovery_deadline)})", now)

    if watch.since is not None and watch.first_success_at is not None \
            and decision.state is State.MONITORING:
        quiet_since = max(watch.since, watch.last_sighting_at or watch.since)
        if now - quiet_since >= config.clean_window:
            confirmed = evidence is not None and evidence.confirmed
            # An incident the evidence never confirmed claims no cause and no recovery time.
            rec.mttr_s = max(0.0, (watch.first_success_at - started).total_seconds()) \
                if confirmed else None
            decision.actions.append(Resolve(
                rec.mttr_s, confirmed,
                f"a build completed at {moment(watch.first_success_at)} and no "
                f"new {signature} failure for {_minutes(config.clean_window)}"))
            decision.state = State.RESOLVED
    return decision
