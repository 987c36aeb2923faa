"""Deployment status as the deployment controller computes it.

Purpose: replica counters (`replicas`, `updatedReplicas`, `readyReplicas`, `availableReplicas`,
`unavailableReplicas`, zero values omitted like Go's omitempty), `observedGeneration` and the
Available/Progressing conditions with their reasons and messages
(NewReplicaSetCreated, ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded).
Boundary: a pure function of the Deployment, its ReplicaSets and their pods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator.clock import rfc3339

Obj = dict[str, Any]


def _condition(
    previous: list[Obj], kind: str, status: str, reason: str, *, message: str, now: float
) -> Obj:
    old = next((c for c in previous if c["type"] == kind), None)
    changed = old is None or old["status"] != status
    same_reason = old is not None and old.get("reason") == reason and not changed
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": old["lastUpdateTime"] if same_reason and old else rfc3339(now),
        "lastTransitionTime": rfc3339(now) if changed or old is None else old["lastTransitionTime"],
        "reason": reason,
        "message": message,
    }


def deployment_status(
    deploy: Obj,
    sets: list[Obj],
    pods: dict[str, list[Obj]],
    *,
    digest: str,
    now: float,
    deadline_passed: bool,
    is_ready: Callable[[Obj], bool],
) -> Obj:
    """The `status` block of a Deployment."""
    desired = int(deploy["spec"].get("replicas", 1))
    new = next(
        (rs for rs in sets if rs["metadata"]["labels"].get("pod-template-hash") == digest), None
    )
    total_spec = sum(int(rs["spec"].get("replicas", 0)) for rs in sets)
    actual = sum(len(pods[rs["metadata"]["uid"]]) for rs in sets)
    ready = sum(1 for rs in sets for p in pods[rs["metadata"]["uid"]] if is_ready(p))
    updated = len(pods[new["metadata"]["uid"]]) if new else 0
    updated_ready = sum(1 for p in pods[new["metadata"]["uid"]] if is_ready(p)) if new else 0
    unavailable = max(0, total_spec - ready)
    recreate = deploy["spec"].get("strategy", {}).get("type") == "Recreate"
    max_unavailable = 0 if recreate else (desired * 25) // 100
    previous = (deploy.get("status") or {}).get("conditions", [])

    complete = new is not None and updated_ready >= desired and actual == updated
    old_prog = next((c for c in previous if c["type"] == "Progressing"), None)
    stuck_before = (
        old_prog is not None
        and old_prog.get("reason") == "ProgressDeadlineExceeded"
        and (deploy.get("status") or {}).get("observedGeneration")
        == deploy["metadata"].get("generation")
    )
    new_name = new["metadata"]["name"] if new else ""
    if complete:
        progressing = _condition(
            previous,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            message=f'ReplicaSet "{new_name}" has successfully progressed.',
            now=now,
        )
    elif deadline_passed or stuck_before:
        progressing = _condition(
            previous,
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            message=f'ReplicaSet "{new_name}" has timed out progressing.',
            now=now,
        )
    else:
        progressing = _condition(
            previous,
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            message=f'ReplicaSet "{new_name}" is progressing.',
            now=now,
        )
    if ready >= desired - max_unavailable:
        available = _condition(
            previous,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            message="Deployment has minimum availability.",
            now=now,
        )
    else:
        available = _condition(
            previous,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            message="Deployment does not have minimum availability.",
            now=now,
        )
    status: Obj = {"observedGeneration": deploy["metadata"].get("generation", 1)}
    for key, value in (
        ("replicas", actual),
        ("updatedReplicas", updated),
        ("readyReplicas", ready),
        ("availableReplicas", ready),
        ("unavailableReplicas", unavailable),
    ):
        if value:
            status[key] = value
    status["conditions"] = [available, progressing]
    return status


def replica_set_status(rs: Obj, pods: list[Obj], is_ready: Callable[[Obj], bool]) -> Obj:
    """The `status` block of a ReplicaSet (zero counters omitted, like omitempty)."""
    ready = sum(1 for p in pods if is_ready(p))
    status: Obj = {"replicas": len(pods)}
    if pods:
        status["fullyLabeledReplicas"] = len(pods)
    if ready:
        status["readyReplicas"] = ready
        status["availableReplicas"] = ready
    status["observedGeneration"] = rs["metadata"].get("generation", 1)
    return status
