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
from service.domain.messages import Audience

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
    "failed",             # the API refused the patch for good (403, 404, 422): by hand now
]
RolloutStatus = Literal["n/a", "waiting", "complete", "stuck"]
Rule = Literal["repeat", "recovery_deadline", "registry", "rollout_stuck", "mitigation_failed",
               "blind", "no_fix"]


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
    failure: str | None = Field(default=None, description="the API's reason for a refusal")
    manual: str | None = Field(default=None, description="the command to run by hand")


class WatchRecord(BaseModel):
    """The recovery watch: builds seen after ``since`` and the current failure streak.

    ``since`` is when counting starts: the decision for an incident the switch does not
    touch, else the moment the control-plane rollout that carries the switch completed (builds
    launched by the old pods, cache still on, say nothing of the switch). ``gaps``: since when
    each part of the cluster view could not be read (the blind rule's clock).
    """

    since: datetime | None = None
    builds: dict[str, BuildOutcome] = Field(default_factory=dict)
    streak: int = 0
    max_streak: int = 0
    first_success_at: datetime | None = None
    last_sighting_at: datetime | None = None
    gaps: dict[str, datetime] = Field(default_factory=dict)


class Escalation(BaseModel):
    rule: Rule
    at: datetime
    audience: Audience
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
    # The episode's first failure (the first after the last successful build before the
    # alert), fixed at the first decision: the 30-minute clock, MTTR and "First failure".
    episode_start: datetime | None = None

    def successor(self) -> PolicyRecord:
        """A copy to change and write back (the next version)."""
        return self.model_copy(deep=True, update={"version": self.version + 1})
