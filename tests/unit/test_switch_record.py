"""The policy record after the kill switch's outcome, a dry run, or the Owner's approval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.domain.policy_record import MitigationRecord, PolicyRecord
from service.domain.switch_record import (
    NothingToApprove,
    after_dry_run,
    after_switch,
    approved,
    before_switch,
    switch_failed,
)

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
PATCH = {"kind": "Deployment", "name": "codex-k8s-control-plane", "op": "set env"}


def _record(status: str = "applying", previous: str | None = None) -> PolicyRecord:
    return PolicyRecord(version=4, mitigation=MitigationRecord(
        status=status, previous_value=previous, decided_at=NOW - timedelta(seconds=5)))  # type: ignore[arg-type]


def test_after_the_switch_the_rollout_is_awaited_before_the_watch_counts() -> None:
    after = after_switch(_record(), outcome="applied", previous_value="true", new_value="false",
                         patches=[PATCH], now=NOW, rollout_timeout=timedelta(seconds=180))
    mit = after.mitigation
    assert (mit.status, mit.previous_value, mit.new_value) == ("applied", "true", "false")
    assert mit.applied_at == NOW and mit.patch == {"patches": [PATCH]}
    assert mit.rollout == "waiting" and mit.rollout_deadline_at == NOW + timedelta(seconds=180)
    assert after.watch.since is None  # counting starts when the rollout completes
    assert after.version == 5  # the successor of the record it was decided from


def test_a_resumed_apply_keeps_the_value_read_before_the_crash() -> None:
    after = after_switch(_record(previous="true"), outcome="already_off",
                         previous_value="false", new_value="false", patches=[], now=NOW,
                         rollout_timeout=timedelta(seconds=180))
    assert after.mitigation.status == "already_off"
    assert after.mitigation.previous_value == "true"  # not the "false" our own patch left


def test_a_dry_run_keeps_the_patch_and_nothing_else() -> None:
    before = _record(status="dry_run")
    after = after_dry_run(before, patches=[PATCH])
    assert after.mitigation.patch == {"patches": [PATCH]}
    assert after.mitigation.model_copy(update={"patch": None}) == before.mitigation
    assert after.watch == before.watch


def test_approval_needs_a_switch_that_waits_for_one() -> None:
    after = approved(_record(status="awaiting_approval"), who="owner@example.com", now=NOW)
    assert after.mitigation.status == "approved"
    assert (after.mitigation.approved_by, after.mitigation.approved_at) == (
        "owner@example.com", NOW)
    with pytest.raises(NothingToApprove, match="the kill switch is applied"):
        approved(_record(status="applied"), who="owner@example.com", now=NOW)


def test_the_value_read_before_the_patch_is_kept_and_a_refusal_says_what_to_do() -> None:
    before = before_switch(_record(), previous_value="true")
    assert before.mitigation.previous_value == "true" and before.version == 5
    failed = switch_failed(before, failure="403 Forbidden: cannot patch", manual="kubectl ...")
    assert (failed.mitigation.status, failed.mitigation.failure, failed.mitigation.manual) == (
        "failed", "403 Forbidden: cannot patch", "kubectl ...")
    assert failed.mitigation.previous_value == "true" and failed.version == 6
