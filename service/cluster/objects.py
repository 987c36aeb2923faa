"""Reading the API server's JSON objects into the evidence models.

Purpose: what ``kubectl get pods,job -o wide`` shows (pod status, ready, restarts, node; job
status, times, reason), a job's kind from its labels, a pod's owner, and whether a Deployment's
rollout is complete by ``kubectl rollout status``'s rules.
Boundary: pure functions over plain dicts (as ``service.cluster.client`` returns them); no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from service.cluster.selectors import matches
from service.config.settings import PlatformObjects
from service.domain.evidence import JobInfo, JobKind, JobStatus, PodInfo

Obj = Mapping[str, Any]

COMPONENT_LABEL = "app.kubernetes.io/component"


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 timestamp of the API (``2026-02-26T10:00:00Z``), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def items(listing: Obj) -> list[dict[str, Any]]:
    return list(listing.get("items") or [])


def labels_of(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def name_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def created_at(obj: Obj) -> datetime | None:
    return parse_time((obj.get("metadata") or {}).get("creationTimestamp"))


def creation_order(obj: Obj) -> tuple[datetime, str]:
    """Sort key: creation time (unknown first), then name, like ``--sort-by``."""
    return created_at(obj) or datetime.min.replace(tzinfo=UTC), name_of(obj)


def job_kind(job: Obj, platform: PlatformObjects) -> JobKind:
    """build / mirror / codegen by the configured selectors, else other."""
    labels = labels_of(job)
    for kind, selector in (("build", platform.build_job_selector),
                           ("mirror", platform.mirror_job_selector),
                           ("codegen", platform.codegen_job_selector)):
        if selector and matches(selector, labels):
            return kind  # type: ignore[return-value]
    return "other"


def is_platform_job(job: Obj, kind: JobKind, platform: PlatformObjects) -> bool:
    """A job the runbook's failed-jobs step looks at (its `get jobs | grep -E
    "kaniko|mirror|build"`): a failed job no selector claims still counts when its name holds
    one of ``platform.job_name_words``."""
    name = name_of(job)
    return kind != "other" or any(word in name for word in platform.job_name_words)


def _condition(obj: Obj, kind: str) -> dict[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return dict(cond)
    return None


def job_status(job: Obj) -> JobStatus:
    for kind in ("Complete", "Failed", "Suspended"):
        if _condition(job, kind) is not None:
            return kind
    return "Running"


def job_info(job: Obj, platform: PlatformObjects) -> JobInfo:
    status = job_status(job)
    state = job.get("status") or {}
    finished = _condition(job, status) if status in ("Complete", "Failed") else None
    reason = None
    if status == "Failed" and finished is not None:
        reason = str(finished.get("reason") or "") or None
    labels = labels_of(job)
    return JobInfo(
        name=name_of(job),
        kind=job_kind(job, platform),
        status=status,
        component=labels.get(COMPONENT_LABEL),
        reason=reason,
        created_at=created_at(job),
        started_at=parse_time(state.get("startTime")),
        finished_at=parse_time(state.get("completionTime"))
        or parse_time((finished or {}).get("lastTransitionTime")),
        run_id=labels.get(platform.run_id_label),
    )


def _pod_status(pod: Obj) -> str:
    """The STATUS column of ``kubectl get pods``: a container's reason wins over the phase."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status") or {}
    for cs in status.get("containerStatuses") or []:
        state = cs.get("state") or {}
        for key in ("waiting", "terminated"):
            reason = (state.get(key) or {}).get("reason")
            if reason:
                return str(reason)
    return str(status.get("phase") or "Unknown")


def pod_info(pod: Obj) -> PodInfo:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    owners = (pod.get("metadata") or {}).get("ownerReferences") or []
    return PodInfo(
        name=name_of(pod),
        phase=_pod_status(pod),
        ready=f"{sum(1 for c in statuses if c.get('ready'))}/{len(spec.get('containers') or [])}",
        restarts=sum(int(c.get("restartCount") or 0) for c in statuses),
        node=spec.get("nodeName"),
        owner=f"{owners[0].get('kind')}/{owners[0].get('name')}" if owners else None,
        created_at=created_at(pod),
    )


def owner_name(obj: Obj, kind: str) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == kind:
            return str(ref.get("name"))
    return None


def owned_by_deployment(pod: Obj, deployment: str) -> bool:
    """The pod's ReplicaSet is ``<deployment>-<pod-template-hash>``."""
    rs = owner_name(pod, "ReplicaSet")
    return rs is not None and rs.rsplit("-", 1)[0] == deployment


def container_started(pod: Obj, container: str | None) -> bool:
    """Whether the container has a log to read (running or terminated, not waiting)."""
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if container is None or cs.get("name") == container:
            state = cs.get("state") or {}
            if "running" in state or "terminated" in state:
                return True
    return False


def default_container(pod: Obj) -> str | None:
    """kubectl's choice: the default-container annotation, else the first container."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    chosen = annotations.get("kubectl.kubernetes.io/default-container")
    if chosen:
        return str(chosen)
    containers = (pod.get("spec") or {}).get("containers") or []
    return str(containers[0]["name"]) if containers else None


def rollout_complete(deploy: Obj) -> bool:
    """``kubectl rollout status``'s success test."""
    meta, spec, status = deploy.get("metadata") or {}, deploy.get("spec") or {}, \
        deploy.get("status") or {}
    if int(meta.get("generation") or 0) > int(status.get("observedGeneration") or 0):
        return False
    updated = int(status.get("updatedReplicas") or 0)
    wanted = spec.get("replicas")
    if wanted is not None and updated < int(wanted):
        return False
    if int(status.get("replicas") or 0) > updated:
        return False
    return int(status.get("availableReplicas") or 0) >= updated
