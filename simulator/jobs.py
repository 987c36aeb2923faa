"""batch/v1 Job objects as the job controller (Kubernetes 1.32) shows them.

Purpose: a Job with its defaults (`backoffLimit: 0`, `ttlSecondsAfterFinished`, the
controller-uid selector and pod labels), its pod, and the status transitions: running
(`active`, `ready`), Complete (with SuccessCriteriaMet) or Failed (with FailureTarget,
reason BackoffLimitExceeded), `startTime`, `completionTime`, `succeeded`/`failed`.
Boundary: pure dict construction and mutation.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from simulator import manifests as mf
from simulator.clock import rfc3339
from simulator.identity import Identity

Obj = dict[str, Any]
Line = tuple[float, str]


@dataclass
class JobRecord:
    """What the simulator knows about a job it launched (kept after the Job vanishes)."""

    name: str
    kind: str
    component: str
    run_id: str
    outcome: str
    cache_enabled: bool
    created: float
    finished: float | None = None
    lines: list[Line] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.outcome == "success"


def new_job(
    ident: Identity,
    name: str,
    namespace: str,
    *,
    labels: dict[str, str],
    container: str,
    image: str,
    args: list[str],
    ttl: int,
    now: float,
) -> Obj:
    uid = ident.uid()
    pod_labels = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
        **labels,
    }
    metadata = mf.meta(name, namespace, uid, now, labels=labels, generation=1)
    metadata["annotations"] = {"batch.kubernetes.io/job-tracking": ""}
    spec = mf.pod_spec_defaults(
        {"containers": [{"name": container, "image": image, "args": args}]}, "Never"
    )
    return {
        "kind": "Job",
        "apiVersion": "batch/v1",
        "metadata": metadata,
        "spec": {
            "parallelism": 1,
            "completions": 1,
            "activeDeadlineSeconds": 1800,
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": ttl,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
            "manualSelector": False,
            "template": {
                "metadata": {"creationTimestamp": None, "labels": pod_labels},
                "spec": spec,
            },
            "completionMode": "NonIndexed",
            "suspend": False,
            "podReplacementPolicy": "TerminatingOrFailed",
        },
        "status": {
            "startTime": rfc3339(now),
            "active": 1,
            "terminating": 0,
            "uncountedTerminatedPods": {},
            "ready": 0,
        },
    }


def job_pod(ident: Identity, job: Obj, now: float) -> Obj:
    name = f"{job['metadata']['name']}-{ident.suffix()}"
    template = copy.deepcopy(job["spec"]["template"])
    pod = mf.new_pod(
        ident,
        name,
        job["metadata"]["namespace"],
        template=template,
        owner_ref=mf.owner("batch/v1", "Job", job),
        ts=now,
    )
    pod["metadata"]["finalizers"] = ["batch.kubernetes.io/job-tracking"]
    return pod


def set_job_running(job: Obj, ready: int) -> None:
    job["status"]["ready"] = ready


def _condition(kind: str, now: float, reason: str, message: str) -> Obj:
    return {
        "type": kind,
        "status": "True",
        "lastProbeTime": rfc3339(now),
        "lastTransitionTime": rfc3339(now),
        "reason": reason,
        "message": message,
    }


def set_job_finished(job: Obj, succeeded: bool, now: float) -> None:
    status: Obj = {}
    if succeeded:
        msg = "Reached expected number of succeeded pods"
        status["conditions"] = [
            _condition("SuccessCriteriaMet", now, "CompletionsReached", msg),
            _condition("Complete", now, "CompletionsReached", msg),
        ]
    else:
        msg = "Job has reached the specified backoff limit"
        status["conditions"] = [
            _condition("FailureTarget", now, "BackoffLimitExceeded", msg),
            _condition("Failed", now, "BackoffLimitExceeded", msg),
        ]
    status["startTime"] = job["status"]["startTime"]
    if succeeded:
        status["completionTime"] = rfc3339(now)
        status["succeeded"] = 1
    else:
        status["failed"] = 1
    status.update({"terminating": 0, "uncountedTerminatedPods": {}, "ready": 0})
    job["status"] = status


def job_state(job: Obj) -> str:
    """The STATUS column of `kubectl get jobs` (1.32)."""
    conds = {c["type"]: c["status"] for c in job.get("status", {}).get("conditions", [])}
    for kind in ("Complete", "Failed", "FailureTarget", "SuccessCriteriaMet", "Suspended"):
        if conds.get(kind) == "True":
            return kind
    if job["metadata"].get("deletionTimestamp"):
        return "Terminating"
    return "Running"
