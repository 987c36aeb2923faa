"""``evaluate()``: the runbook's decisions and thresholds, with time as plain data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.domain.evidence import (
    Collected,
    CollectorStatus,
    EvidenceBundle,
    FailedJobs,
    KillSwitchState,
    RegistryHealth,
    Workloads,
)
from service.domain.facts import BuildOutcome, Facts, SignatureSighting
from service.domain.lifecycle import State
from service.domain.logscan.models import ScanResult
from service.domain.policy import (
    ApplySwitch,
    Escalate,
    PolicyConfig,
    RecordDryRun,
    RequestApproval,
    Resolve,
    evaluate,
)
from service.domain.policy_record import PolicyRecord

T0 = datetime(2026, 2, 26, 10, 0, tzinfo=UTC)
CONFIG = PolicyConfig(mode="auto", switch_signatures=frozenset({"cache"}), off_value="false",
                      repeat_threshold=2, recovery_deadline=timedelta(minutes=30),
                      clean_window=timedelta(minutes=30), rollout_timeout=timedelta(seconds=180))


def ok(data: object) -> Collected:  # type: ignore[type-arg]
    return Collected(status=CollectorStatus.OK, data=data)


def bundle(*, confirmed: bool = True, registry_up: bool = True, mirrors_failed: int = 0
           ) -> EvidenceBundle:
    return EvidenceBundle(
        incident_id="inc-1", collected_at=T0, since=T0 - timedelta(hours=6), signature="cache",
        confirmed=confirmed, first_error_at=T0 - timedelta(minutes=5), last_error_at=T0,
        episode_start=T0 - timedelta(minutes=5),
        workloads=ok(Workloads()), control_plane_logs=ok(ScanResult(source="control_plane")),
        worker_logs=ok(ScanResult(source="worker")), failed_jobs=ok(FailedJobs()),
        registry=ok(RegistryHealth(registry_available=registry_up,
                                   mirror_jobs_failed=mirrors_failed)),
        kill_switch=ok(KillSwitchState(location="env", value="true")),
    )


def facts(at: datetime, *builds: BuildOutcome, switch: str = "false", rollout: bool = True,
          sightings: tuple[SignatureSighting, ...] = (), registry_up: bool = True,
          mirrors_failed: int = 0) -> Facts:
    return Facts(collected_at=at, since=T0, builds=list(builds), sightings=list(sightings),
                 registry=RegistryHealth(registry_available=registry_up,
                                         mirror_jobs_failed=mirrors_failed),
                 kill_switch=KillSwitchState(location="env", value=switch,
                                             rollout_complete=rollout))


def build(name: str, status: str, minute: int, signature: str | None = "cache") -> BuildOutcome:
    at = T0 + timedelta(minutes=minute)
    return BuildOutcome(job=name, kind="build", status=status, created_at=at - timedelta(
        seconds=30), finished_at=at, signature=signature if status == "Failed" else None)


def step(record: PolicyRecord, state: State, now: datetime, *, evidence: EvidenceBundle | None
         = None, observed: Facts | None = None, config: PolicyConfig = CONFIG):
    return evaluate(state=state, first_failure_at=T0 - timedelta(minutes=2), signature="cache",
                    record=record, evidence=evidence or bundle(), facts=observed, now=now,
                    config=config)


def applied(at: datetime, *, rolled_out: bool = True) -> PolicyRecord:
    """What the executor records after it patched the switch at ``at``; ``rolled_out``: and
    the control-plane rollout completed at once (counting starts then)."""
    record = PolicyRecord()
    mit = record.mitigation
    mit.status, mit.applied_at, mit.previous_value, mit.new_value = "applied", at, "true", "false"
    mit.rollout, mit.rollout_deadline_at = "waiting", at + timedelta(seconds=180)
    if rolled_out:
        mit.rollout, mit.rollout_finished_at = "complete", at
        record.watch.since = at
    return record


def kinds(decision) -> list[str]:  # type: ignore[no-untyped-def]
    return [type(a).__name__ for a in decision.actions]


def test_auto_mode_applies_the_switch_once_confirmed() -> None:
    decision = step(PolicyRecord(), State.INVESTIGATING, T0)
    assert kinds(decision) == ["ApplySwitch"] and decision.state is State.MITIGATING
    assert decision.record.mitigation.status == "applying"
    # A restart before the outcome was recorded: the switch is carried out again (the
    # executor's read-before-write makes that a no-op if the first patch went through).
    again = step(decision.record, State.MITIGATING, T0 + timedelta(seconds=5))
    assert kinds(again) == ["ApplySwitch"]


def test_unconfirmed_evidence_means_no_switch() -> None:
    decision = step(PolicyRecord(), State.INVESTIGATING, T0, evidence=bundle(confirmed=False))
    assert decision.actions == [] and decision.record.mitigation.status == "not_needed"
    assert decision.state is State.MONITORING


def test_registry_down_with_mirrors_failing_escalates_at_once_without_switch() -> None:
    decision = step(PolicyRecord(), State.INVESTIGATING, T0,
                    evidence=bundle(registry_up=False, mirrors_failed=2))
    assert kinds(decision) == ["Escalate"] and decision.record.mitigation.status == "skipped"
    assert decision.actions[0].rule == "registry"  # type: ignore[union-attr]
    later = step(decision.record, decision.state, T0 + timedelta(minutes=1),
                 observed=facts(T0, registry_up=False, mirrors_failed=3))
    assert later.actions == []  # at most once per incident


def test_rollout_completes_or_escalates_when_stuck() -> None:
    record = applied(T0, rolled_out=False)
    done = step(record, State.MITIGATING, T0 + timedelta(seconds=60),
                observed=facts(T0, rollout=True))
    assert done.state is State.MONITORING and done.record.mitigation.rollout == "complete"
    assert done.record.watch.since == T0 + timedelta(seconds=60)  # counting starts now
    waiting = step(record, State.MITIGATING, T0 + timedelta(seconds=179),
                   observed=facts(T0, rollout=False))
    assert waiting.actions == [] and waiting.state is State.MITIGATING
    stuck = step(record, State.MITIGATING, T0 + timedelta(seconds=180),
                 observed=facts(T0, rollout=False))
    assert [(type(a).__name__, a.rule) for a in stuck.actions] == [  # type: ignore[union-attr]
        ("Escalate", "rollout_stuck")]


def test_more_than_two_in_a_row_after_the_switch_pages_oncall_and_owner() -> None:
    record = applied(T0)
    two = step(record, State.MONITORING, T0 + timedelta(minutes=4),
               observed=facts(T0, build("b1", "Failed", 1), build("b2", "Failed", 2)))
    assert two.actions == [] and two.record.watch.streak == 2
    three = step(two.record, State.MONITORING, T0 + timedelta(minutes=5),
                 observed=facts(T0, build("b3", "Failed", 4)))
    (action,) = three.actions
    assert isinstance(action, Escalate) and action.rule == "repeat" and action.audience == "all"
    assert "3 times in a row" in action.reason
    four = step(three.record, State.MONITORING, T0 + timedelta(minutes=6),
                observed=facts(T0, build("b4", "Failed", 5)))
    assert four.actions == []  # fired once


def test_a_success_in_between_resets_the_streak() -> None:
    record = applied(T0)
    decision = step(record, State.MONITORING, T0 + timedelta(minutes=9), observed=facts(
        T0, build("b1", "Failed", 1), build("b2", "Failed", 2), build("ok", "Complete", 3),
        build("b3", "Failed", 4), build("b4", "Failed", 5),
        build("mirror-ok", "Failed", 6, signature=None)))
    assert decision.record.watch.streak == 2 and decision.record.watch.max_streak == 2
    assert not any(isinstance(a, Escalate) and a.rule == "repeat" for a in decision.actions)


def test_failures_before_the_switch_do_not_count() -> None:
    record = applied(T0 + timedelta(minutes=10))
    decision = step(record, State.MONITORING, T0 + timedelta(minutes=11), observed=facts(
        T0, build("b1", "Failed", 1), build("b2", "Failed", 2), build("b3", "Failed", 3)))
    assert decision.record.watch.streak == 0 and decision.actions == []


def test_recovery_deadline_fires_from_time_alone_once() -> None:
    record = applied(T0)
    first_failure = T0 - timedelta(minutes=5)  # the evidence's first error is the earliest
    early = step(record, State.MONITORING, first_failure + timedelta(minutes=29, seconds=59))
    assert early.actions == []
    late = step(record, State.MONITORING, first_failure + timedelta(minutes=30))
    (action,) = late.actions
    assert isinstance(action, Escalate) and action.rule == "recovery_deadline"
    # The rollback plan is next: the Owner's decision, so on-call and the Owner.
    assert action.audience == "all" and "30 min" in action.reason
    assert step(late.record, State.MONITORING, T0 + timedelta(hours=2)).actions == []


def test_a_success_before_the_deadline_is_recovery_even_before_the_clean_window() -> None:
    record = applied(T0)
    recovered = step(record, State.MONITORING, T0 + timedelta(minutes=10),
                     observed=facts(T0, build("ok", "Complete", 8)))
    later = step(recovered.record, State.MONITORING, T0 + timedelta(minutes=26))
    assert not any(isinstance(a, Escalate) for a in later.actions)


def test_resolves_after_a_success_and_a_clean_window_with_mttr() -> None:
    record = applied(T0)
    seen = step(record, State.MONITORING, T0 + timedelta(minutes=5),
                observed=facts(T0, build("ok", "Complete", 4)))
    assert seen.state is State.MONITORING and seen.record.watch.first_success_at is not None
    sighting = SignatureSighting(key="b9", signature="cache",
                                 last_seen=T0 + timedelta(minutes=10))
    noisy = step(seen.record, State.MONITORING, T0 + timedelta(minutes=31),
                 observed=facts(T0, sightings=(sighting,)))
    assert not any(isinstance(a, Resolve) for a in noisy.actions)  # quiet only since minute 10
    done = step(noisy.record, State.MONITORING, T0 + timedelta(minutes=40), observed=facts(T0))
    resolve = next(a for a in done.actions if isinstance(a, Resolve))
    assert done.state is State.RESOLVED
    # MTTR: first recorded failure (evidence: T0-5min) to the first success (T0+4min).
    assert resolve.mttr_s == 9 * 60 and done.record.mttr_s == 9 * 60


def test_approval_mode_waits_then_applies() -> None:
    config = PolicyConfig(**{**CONFIG.__dict__, "mode": "approval"})
    asked = step(PolicyRecord(), State.INVESTIGATING, T0, config=config)
    assert kinds(asked) == ["RequestApproval"]
    assert asked.record.mitigation.status == "awaiting_approval"
    assert step(asked.record, State.INVESTIGATING, T0 + timedelta(minutes=1),
                config=config).actions == []
    approved = asked.record.model_copy(deep=True)
    approved.mitigation.status = "approved"
    go = step(approved, State.INVESTIGATING, T0 + timedelta(minutes=2), config=config)
    assert kinds(go) == ["ApplySwitch"] and go.state is State.MITIGATING
    assert isinstance(asked.actions[0], RequestApproval)


def test_observe_mode_notices_a_person_flipping_the_switch() -> None:
    config = PolicyConfig(**{**CONFIG.__dict__, "mode": "observe"})
    watching = step(PolicyRecord(), State.INVESTIGATING, T0, config=config,
                    observed=facts(T0, switch="true"))
    assert watching.actions == [] and watching.record.mitigation.status == "observing"
    flipped_at = T0 + timedelta(minutes=3)
    flipped = step(watching.record, State.INVESTIGATING, flipped_at, config=config,
                   observed=facts(T0, switch="false"))
    assert flipped.record.mitigation.status == "observed_off"
    assert flipped.record.watch.since == flipped_at and flipped.state is State.MONITORING
    assert flipped.actions == []


def test_dry_run_records_the_patch_and_never_applies() -> None:
    config = PolicyConfig(**{**CONFIG.__dict__, "mode": "dry-run"})
    decision = step(PolicyRecord(), State.INVESTIGATING, T0, config=config)
    assert kinds(decision) == ["RecordDryRun"]
    recorded = decision.record.model_copy(deep=True)
    recorded.mitigation.patch = {"spec": {}}
    assert step(recorded, State.MONITORING, T0 + timedelta(minutes=1), config=config,
                observed=facts(T0, switch="true")).actions == []
    assert not any(isinstance(a, ApplySwitch | RecordDryRun) for a in step(
        recorded, State.MONITORING, T0 + timedelta(minutes=2), config=config).actions)


def test_resolved_incident_is_left_alone() -> None:
    assert step(PolicyRecord(), State.RESOLVED, T0 + timedelta(hours=5)).actions == []


def test_build_ref_watches_the_codegen_check_not_kaniko_builds() -> None:
    config = PolicyConfig(**{**CONFIG.__dict__, "switch_signatures": frozenset({"cache"}),
                             "watched_kinds": {"build-ref": frozenset({"codegen"})}})
    record = applied(T0)
    codegen_ok = BuildOutcome(job="codegen-1", kind="codegen", status="Complete",
                              created_at=T0 + timedelta(minutes=1),
                              finished_at=T0 + timedelta(minutes=2))
    decision = evaluate(state=State.MONITORING, first_failure_at=T0, signature="build-ref",
                        record=record, evidence=None, now=T0 + timedelta(minutes=3),
                        facts=facts(T0, build("kaniko-ok", "Complete", 2), codegen_ok),
                        config=config)
    assert list(decision.record.watch.builds) == ["codegen-1"]
    assert decision.record.watch.first_success_at == T0 + timedelta(minutes=2)
