"""The runbook's rules as the runbook means them: the rollout before the repeat rule, the
episode, unconfirmed incidents, no automatic fix, a blind responder, a refused switch."""

from __future__ import annotations

from datetime import datetime, timedelta

from service.domain.evidence import (
    Collected,
    CollectorStatus,
    EvidenceBundle,
    episode_start,
)
from service.domain.facts import Facts, Gap
from service.domain.lifecycle import State
from service.domain.policy import Escalate, PolicyConfig, Resolve, evaluate
from service.domain.policy_record import PolicyRecord
from tests.unit.test_policy import CONFIG, T0, applied, build, bundle, facts, kinds, step


def rules(decision) -> list[str]:  # type: ignore[no-untyped-def]
    return [a.rule for a in decision.actions if isinstance(a, Escalate)]


def test_no_repeat_while_the_rollout_is_unfinished() -> None:
    # rollout-stuck: the old pod (cache on) keeps launching failing builds after the patch.
    record = applied(T0, rolled_out=False)
    decision = step(record, State.MITIGATING, T0 + timedelta(seconds=170), observed=facts(
        T0, build("b1", "Failed", 1), build("b2", "Failed", 2), build("b3", "Failed", 2),
        rollout=False))
    assert rules(decision) == [] and decision.record.watch.streak == 0
    stuck = step(decision.record, State.MITIGATING, T0 + timedelta(minutes=4), observed=facts(
        T0, build("b4", "Failed", 3), rollout=False))
    assert rules(stuck) == ["rollout_stuck"]


def test_builds_count_from_the_rollouts_end_not_the_patch() -> None:
    record = applied(T0, rolled_out=False)
    done_at = T0 + timedelta(minutes=2)
    rolled = step(record, State.MITIGATING, done_at, observed=facts(
        T0, build("before-1", "Failed", 1), rollout=True))
    assert rolled.record.watch.since == done_at and rolled.record.watch.builds == {}
    later = step(rolled.record, State.MONITORING, T0 + timedelta(minutes=9), observed=facts(
        T0, build("before-1", "Failed", 1), build("b1", "Failed", 4), build("b2", "Failed", 5),
        build("b3", "Failed", 6)))
    assert rules(later) == ["repeat"] and later.record.watch.streak == 3


def test_the_episode_starts_after_the_last_success_before_the_alert() -> None:
    old = T0 - timedelta(hours=4, minutes=40)
    fixed = T0 - timedelta(hours=4)
    now_failing = [T0 - timedelta(minutes=12), T0 - timedelta(minutes=8)]
    first, last_ok = episode_start([old, *now_failing], [old + timedelta(minutes=5), fixed],
                                   alert_at=T0)
    assert (first, last_ok) == (now_failing[0], fixed)
    # A success after the alert does not end the episode the alert is about.
    first, last_ok = episode_start(now_failing, [T0 + timedelta(minutes=1)], alert_at=T0)
    assert (first, last_ok) == (now_failing[0], None)


def test_the_recovery_clock_starts_at_the_episode_not_the_oldest_line() -> None:
    evidence = bundle().model_copy(update={
        "first_error_at": T0 - timedelta(hours=4, minutes=40),  # an earlier, recovered episode
        "episode_start": T0 - timedelta(minutes=12)})
    decided = evaluate(state=State.INVESTIGATING, first_failure_at=T0 - timedelta(minutes=2),
                       signature="cache", record=PolicyRecord(), evidence=evidence,
                       facts=None, now=T0, config=CONFIG)
    assert decided.record.episode_start == T0 - timedelta(minutes=12)
    assert "recovery_deadline" not in rules(decided)
    late = evaluate(state=State.MONITORING, first_failure_at=T0 - timedelta(minutes=2),
                    signature="cache", record=decided.record, evidence=evidence, facts=None,
                    now=T0 + timedelta(minutes=18), config=CONFIG)
    (action,) = [a for a in late.actions if isinstance(a, Escalate)]
    assert action.rule == "recovery_deadline" and "30 min after" in action.reason


def test_an_unconfirmed_incident_resolves_without_cause_or_mttr() -> None:
    unconfirmed = bundle(confirmed=False)
    watching = step(PolicyRecord(), State.INVESTIGATING, T0, evidence=unconfirmed)
    seen = step(watching.record, State.MONITORING, T0 + timedelta(minutes=5),
                evidence=unconfirmed, observed=facts(T0, build("ok", "Complete", 4)))
    done = step(seen.record, State.MONITORING, T0 + timedelta(minutes=40),
                evidence=unconfirmed, observed=facts(T0))
    resolve = next(a for a in done.actions if isinstance(a, Resolve))
    assert resolve.confirmed is False and resolve.mttr_s is None and done.record.mttr_s is None


def test_build_ref_has_no_automatic_fix_and_escalates_at_once_with_the_bad_ref() -> None:
    evidence = bundle().model_copy(update={"signature": "build-ref",
                                           "causes": ["release/2026-02-3x"]})
    decided = evaluate(state=State.INVESTIGATING, first_failure_at=T0, signature="build-ref",
                       record=PolicyRecord(), evidence=evidence, facts=None, now=T0,
                       config=CONFIG)
    (action,) = decided.actions
    assert isinstance(action, Escalate) and action.rule == "no_fix"
    assert action.audience == "oncall" and "release/2026-02-3x" in action.reason
    assert decided.record.mitigation.status == "not_needed"


def _blind_bundle() -> EvidenceBundle:
    down: Collected = Collected(status=CollectorStatus.ERROR,  # type: ignore[type-arg]
                                error="cluster unreachable")
    return bundle().model_copy(update={
        "confirmed": False, "workloads": down, "control_plane_logs": down,
        "worker_logs": down, "failed_jobs": down, "registry": down, "kill_switch": down})


def test_diagnostics_that_cannot_run_at_all_escalate_at_once_and_decide_nothing() -> None:
    decided = step(PolicyRecord(), State.INVESTIGATING, T0, evidence=_blind_bundle())
    assert rules(decided) == ["blind"] and decided.record.mitigation.status == "none"
    assert "cluster unreachable" in decided.actions[0].reason  # type: ignore[union-attr]
    assert decided.state is State.INVESTIGATING


def _losing_jobs(at: datetime) -> Facts:
    gap = Gap(part="builds", status="forbidden",
              detail="grant list on jobs in namespace codex-k8s-prod")
    return facts(at).model_copy(update={"gaps": [gap]})


def test_a_part_unreadable_longer_than_the_limit_escalates_once() -> None:
    record = applied(T0)
    first = step(record, State.MONITORING, T0 + timedelta(minutes=1),
                 observed=_losing_jobs(T0))
    assert rules(first) == [] and first.record.watch.gaps == {
        "builds": T0 + timedelta(minutes=1)}
    late = step(first.record, State.MONITORING, T0 + timedelta(minutes=6),
                observed=_losing_jobs(T0))
    (action,) = [a for a in late.actions if isinstance(a, Escalate)]
    assert action.rule == "blind" and "grant list on jobs" in action.reason
    again = step(late.record, State.MONITORING, T0 + timedelta(minutes=12),
                 observed=_losing_jobs(T0))
    assert rules(again) == []
    back = step(again.record, State.MONITORING, T0 + timedelta(minutes=13), observed=facts(T0))
    assert back.record.watch.gaps == {}


def test_a_short_gap_is_not_an_escalation() -> None:
    config = PolicyConfig(**{**CONFIG.__dict__, "blind_after": timedelta(minutes=5)})
    record = applied(T0)
    gone = step(record, State.MONITORING, T0 + timedelta(minutes=1), observed=_losing_jobs(T0),
                config=config)
    back = step(gone.record, State.MONITORING, T0 + timedelta(minutes=3), observed=facts(T0),
                config=config)
    again = step(back.record, State.MONITORING, T0 + timedelta(minutes=5),
                 observed=_losing_jobs(T0), config=config)
    assert rules(gone) == rules(back) == rules(again) == []


def test_a_refused_switch_escalates_once_then_notices_a_person_doing_it() -> None:
    record = PolicyRecord()
    record.mitigation.status = "failed"
    record.mitigation.failure = "403 Forbidden: cannot patch deployments"
    first = step(record, State.MITIGATING, T0, observed=facts(T0, switch="true"))
    (action,) = first.actions
    assert isinstance(action, Escalate) and action.rule == "mitigation_failed"
    assert "403 Forbidden" in action.reason and first.state is State.MONITORING
    assert kinds(step(first.record, first.state, T0 + timedelta(minutes=1),
                      observed=facts(T0, switch="true"))) == []
    by_hand = step(first.record, first.state, T0 + timedelta(minutes=2),
                   observed=facts(T0, switch="false", rollout=True))
    mit = by_hand.record.mitigation
    assert mit.status == "observed_off" and mit.rollout == "complete"
