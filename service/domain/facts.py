"""What the recovery watch observes since the mitigation: the input of ``evaluate()``.

Collected by ``service.diagnostics`` at each monitoring tick; pure data here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from service.domain.evidence import JobKind, KillSwitchState, RegistryHealth


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
                  "kill_switch"]
GapStatus = Literal["forbidden", "timeout", "error", "unreachable"]


class Gap(BaseModel):
    """A part of the namespace the live view has been unable to read since ``since``."""

    part: GapPart
    since: datetime
    status: GapStatus
    detail: str = Field(description="the last failure, redacted")
    hint: str | None = Field(default=None, description="the RBAC grant that would fix it")


class Facts(BaseModel):
    """One observation of the cluster since ``since`` (never raises: ``errors`` says gaps)."""

    collected_at: datetime
    since: datetime
    builds: list[BuildOutcome] = Field(default_factory=list)
    sightings: list[SignatureSighting] = Field(default_factory=list)
    registry: RegistryHealth | None = None
    kill_switch: KillSwitchState | None = None
    errors: list[str] = Field(default_factory=list)
    gaps: list[Gap] = Field(default_factory=list, description="parts the live view cannot read")
