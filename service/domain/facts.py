"""What the recovery watch observes since the mitigation: the input of ``evaluate()``.

Collected by ``service.runbook.diagnostics`` at each monitoring tick; pure data here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from service.domain.evidence import EvidenceBundle, JobKind, KillSwitchState, RegistryHealth


class BuildOutcome(BaseModel):
    """A build (or mirror/codegen) job that finished."""

    job: str
    kind: JobKind
    status: Literal["Complete", "Failed"]
    created_at: datetime | None = None
    finished_at: datetime | None = None
    signature: str | None = Field(default=None, description="a failed job's signature, if any")
    run_id: str | None = None


class SignatureSighting(BaseModel):
    """One distinct failed build carrying a signature, seen in control-plane logs."""

    key: str  # job name, else run id
    signature: str
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    run_id: str | None = None
    job: str | None = None


GapPart = Literal["jobs", "pods", "deployments", "control_plane_logs", "job_logs",
                  "kill_switch", "worker_logs"]
GapStatus = Literal["forbidden", "timeout", "error", "unreachable"]


class Gap(BaseModel):
    """A part of the cluster the responder could not read (a live view's part, or a
    collector's at a one-off observation)."""

    part: str = Field(description="jobs | pods | deployments | control_plane_logs | job_logs | "
                                  "kill_switch | builds | registry | cluster")
    status: str = Field(description="forbidden | timeout | unreachable | error")
    detail: str = Field(description="the last failure, redacted (or the grant, for a "
                                    "collector's forbidden)")
    hint: str | None = Field(default=None, description="the RBAC grant that would fix it")
    since: datetime | None = Field(default=None, description="failing since (a live view "
                                   "knows; a one-off read leaves it to the policy record)")

    def describe(self) -> str:
        if self.status == "forbidden":
            return f"{self.part}: forbidden; {self.hint or self.detail}"
        return f"{self.part}: {self.status} ({self.detail})"


class Facts(BaseModel):
    """One observation of the cluster since ``since`` (never raises: ``gaps`` says what is
    missing)."""

    collected_at: datetime
    since: datetime
    builds: list[BuildOutcome] = Field(default_factory=list)
    sightings: list[SignatureSighting] = Field(default_factory=list)
    registry: RegistryHealth | None = None
    kill_switch: KillSwitchState | None = None
    gaps: list[Gap] = Field(default_factory=list)


def facts_of(bundle: EvidenceBundle) -> Facts:
    """The evidence bundle as the first decision's observation (the switch, the registry):
    the watch counts builds from its own start, so none are carried over."""
    return Facts(collected_at=bundle.collected_at, since=bundle.collected_at,
                 registry=bundle.registry.data, kill_switch=bundle.kill_switch.data)
