"""What the policy has decided and seen so far for one incident, as stored data.

``PolicyRecord`` is persisted on the incident and versioned: ``evaluate()`` (policy.py) and
the record functions of switch_record.py read one and return its successor. Pure data; no
decisions here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from service.domain.facts import BuildOutcome

Mode = Literal["auto", "approval", "observe", "dry-run"]
MitigationStatus = Literal[
    "none",               # nothing decided yet
    "not_needed",         # the evidence does not confirm a signature the switch fixes
    "skipped",            # registry down with mirrors failing: the switch would not help
    "awaiting_approval",  # approval mode: asked the Owner
    "approved",           # the Owner approved; to be applied
    "applying",           # recorded before the patch; a restart re-reads the switch
    "applied",            # patched by us
    "already_off",        # the switch was already off when we looked
    "dry_run",            # recorded the patch it would send
    "observing",          # observe mode: waiting for a person to flip it
    "observed_off",       # observe mode: a person flipped it
]
RolloutStatus = Literal["n/a", "waiting", "complete", "stuck"]
Rule = Literal["repeat", "recovery_deadline", "registry", "rollout_stuck"]


class MitigationRecord(BaseModel):
    status: MitigationStatus = "none"
    mode: Mode | None = None
    decided_at: datetime | None = None
    applied_at: datetime | None = None
    previous_value: str | None = None
    new_value: str | None = None
    patch: dict[str, object] | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    rollout: RolloutStatus = "n/a"
    rollout_deadline_at: datetime | None = None
    rollout_finished_at: datetime | None = None


class WatchRecord(BaseModel):
    """The recovery watch: builds seen after ``since`` and the current failure streak."""

    since: datetime | None = None
    builds: dict[str, BuildOutcome] = Field(default_factory=dict)
    streak: int = 0
    max_streak: int = 0
    first_success_at: datetime | None = None
    last_sighting_at: datetime | None = None


class Escalation(BaseModel):
    rule: Rule
    at: datetime
    audience: Literal["oncall", "owner", "all"]
    reason: str


class PolicyRecord(BaseModel):
    """What the policy has decided and seen so far; persisted on the incident.

    ``version`` counts the writes: a write must carry the stored version plus one, so two
    writers (two replicas, an approval and the watch) cannot silently overwrite each other.
    """

    version: int = 0
    mitigation: MitigationRecord = Field(default_factory=MitigationRecord)
    watch: WatchRecord = Field(default_factory=WatchRecord)
    escalations: dict[str, Escalation] = Field(default_factory=dict)
    mttr_s: float | None = None

    def successor(self) -> PolicyRecord:
        """A copy to change and write back (the next version)."""
        return self.model_copy(deep=True, update={"version": self.version + 1})
