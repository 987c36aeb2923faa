"""What the kill switch's outcome and the Owner's approval do to the policy record (pure).

``evaluate()`` decides to act; the cluster action runs outside the domain; these functions
turn what came back (or who approved) into the next ``PolicyRecord``, so every change of the
record is decided here, over data, and the runbook only stores it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from service.domain.policy_record import PolicyRecord


class NothingToApprove(Exception):
    """An approval arrived while no mitigation waits for one."""


def after_switch(record: PolicyRecord, *, outcome: Literal["applied", "already_off"],
                 previous_value: str | None, new_value: str | None,
                 patches: list[dict[str, object]], now: datetime,
                 rollout_timeout: timedelta) -> PolicyRecord:
    """The switch is off (by our patch, or already): wait for the rollout; the watch counts
    from the rollout's end (``evaluate``), when the new pods launch the builds."""
    after = record.successor()
    mit = after.mitigation
    mit.status = outcome
    mit.applied_at = now
    # A resumed apply keeps the value read before the first try (the switch is off by now).
    mit.previous_value = mit.previous_value or previous_value
    mit.new_value = new_value
    mit.patch = {"patches": patches}
    mit.rollout = "waiting"
    mit.rollout_deadline_at = now + rollout_timeout
    return after


def before_switch(record: PolicyRecord, *, previous_value: str | None) -> PolicyRecord:
    """The value read just before the patch, stored before the patch is sent: a crash between
    the patch landing and its answer must not make the switch's history ``false -> false``."""
    after = record.successor()
    after.mitigation.previous_value = previous_value
    return after


def switch_failed(record: PolicyRecord, *, failure: str, manual: str) -> PolicyRecord:
    """The cluster refused the patch for good (or it must not be sent): a person does it."""
    after = record.successor()
    after.mitigation.status = "failed"
    after.mitigation.failure, after.mitigation.manual = failure, manual
    return after


def after_dry_run(record: PolicyRecord, *, patches: list[dict[str, object]]) -> PolicyRecord:
    """Dry run: the patch that would have been sent is kept, nothing else changes."""
    after = record.successor()
    after.mitigation.patch = {"patches": patches}
    return after


def approved(record: PolicyRecord, *, who: str, now: datetime) -> PolicyRecord:
    """The Owner's approval of a switch that waits for one; raises ``NothingToApprove``."""
    status = record.mitigation.status
    if status != "awaiting_approval":
        raise NothingToApprove(f"nothing to approve: the kill switch is {status}")
    after = record.successor()
    after.mitigation.status = "approved"
    after.mitigation.approved_by, after.mitigation.approved_at = who, now
    return after
