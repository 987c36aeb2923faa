"""The evidence bundle: what the runbook's diagnostics found, as typed data.

Collectors (in ``service.runbook.diagnostics``) fill one ``Collected`` each and never raise; the
bundle
is stored on the incident, shown by ``GET /incidents/<id>`` and rendered by every sink. Every
text in here is already redacted. Pure data and pure summaries; no I/O.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from service.domain.logscan.models import ScanResult

T = TypeVar("T", bound=BaseModel)


class CollectorStatus(StrEnum):
    OK = "ok"
    FORBIDDEN = "forbidden"
    ERROR = "error"
    TIMEOUT = "timeout"


class Collected(BaseModel, Generic[T]):
    """One collector's outcome: its status, with its data when it has any."""

    status: CollectorStatus
    data: T | None = None
    duration_s: float = 0.0
    attempts: int = 1
    error: str | None = None
    hint: str | None = Field(default=None, description="what to grant when forbidden (RBAC)")


class PodInfo(BaseModel):
    name: str
    phase: str
    ready: str  # "1/1", as kubectl shows it
    restarts: int = 0
    node: str | None = None
    owner: str | None = None
    created_at: datetime | None = None


JobKind = Literal["build", "mirror", "codegen", "other"]
JobStatus = Literal["Complete", "Failed", "Running", "Suspended"]


class JobInfo(BaseModel):
    name: str
    kind: JobKind
    status: JobStatus
    component: str | None = None
    reason: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    run_id: str | None = None


class Workloads(BaseModel):
    """``kubectl get pods,job -o wide``."""

    pods: list[PodInfo] = Field(default_factory=list)
    jobs: list[JobInfo] = Field(default_factory=list)


class FailedJob(JobInfo):
    """A failed build/mirror/codegen job with the tail of its log (redacted)."""

    signature: str | None = None
    last_lines: list[str] = Field(default_factory=list)


class FailedJobs(BaseModel):
    jobs: list[FailedJob] = Field(default_factory=list)


class RegistryHealth(BaseModel):
    """Escalation rule 3's facts: registry availability and recent mirror failures."""

    registry_available: bool
    registry_replicas: int = 0
    registry_ready_replicas: int = 0
    registry_reason: str | None = None
    mirror_jobs_failed: int = 0
    mirror_jobs_total: int = 0
    failed_mirror_jobs: list[str] = Field(default_factory=list)

    @property
    def degraded_together(self) -> bool:
        return not self.registry_available and self.mirror_jobs_failed > 0


class KillSwitchState(BaseModel):
    """The current value of the cache kill switch and where it lives."""

    location: str  # e.g. "deployment/codex-k8s-control-plane container control-plane env"
    value: str | None
    # Where the value comes from: a literal env ``value`` (patchable in place), an env
    # ``valueFrom`` or ``envFrom`` reference (``ref``: that Secret/ConfigMap key), a key of
    # the configured Secret/ConfigMap (``object``), or nowhere (``unset``: cache on).
    source: Literal["value", "valueFrom", "envFrom", "object", "unset"] = "value"
    ref: str | None = None
    rollout_complete: bool | None = None
    generation: int | None = None
    observed_generation: int | None = None


class EvidenceBundle(BaseModel):
    """Everything the diagnostics found for one incident at one time."""

    incident_id: str
    collected_at: datetime
    since: datetime
    signature: str
    confirmed: bool = Field(description="the logs or failed jobs carry the signature")
    first_error_at: datetime | None = None
    last_error_at: datetime | None = None
    run_ids: list[str] = Field(default_factory=list)
    episode_start: datetime | None = Field(
        default=None, description="the first failure after the last successful build before "
        "the alert: where this episode (the 30-minute clock, MTTR) starts")
    last_success_at: datetime | None = Field(
        default=None, description="the last successful build before the alert, if seen")
    causes: list[str] = Field(default_factory=list,
                              description="what the logs name as the cause (a bad build ref)")
    duration_s: float = 0.0
    workloads: Collected[Workloads]
    control_plane_logs: Collected[ScanResult]
    worker_logs: Collected[ScanResult]
    failed_jobs: Collected[FailedJobs]
    registry: Collected[RegistryHealth]
    kill_switch: Collected[KillSwitchState]

    def collectors(self) -> dict[str, Collected[BaseModel]]:
        """Each collector's outcome by name (for summaries and hints)."""
        return {
            "workloads": self.workloads,  # type: ignore[dict-item]
            "control_plane_logs": self.control_plane_logs,  # type: ignore[dict-item]
            "worker_logs": self.worker_logs,  # type: ignore[dict-item]
            "failed_jobs": self.failed_jobs,  # type: ignore[dict-item]
            "registry": self.registry,  # type: ignore[dict-item]
            "kill_switch": self.kill_switch,  # type: ignore[dict-item]
        }

    def blind(self) -> bool:
        """No diagnostic could run at all (no cluster access)."""
        return all(got.status is not CollectorStatus.OK for got in self.collectors().values())

    def missing(self) -> list[str]:
        """Collectors that did not answer ``ok``, with why, for the message."""
        out = []
        for name, got in self.collectors().items():
            if got.status is not CollectorStatus.OK:
                detail = got.hint or got.error or got.status.value
                out.append(f"{name}: {got.status.value} ({detail})")
        return out


def episode_start(failures: list[datetime], successes: list[datetime],
                  alert_at: datetime) -> tuple[datetime | None, datetime | None]:
    """(first failure of the episode, last success before it): the episode is the failures
    after the last successful build before the alert, so a recovered earlier episode in the
    same 6-hour window does not start this one's clock."""
    last_ok = max((s for s in successes if s <= alert_at), default=None)
    first = min((f for f in failures if last_ok is None or f > last_ok), default=None)
    return first, last_ok
