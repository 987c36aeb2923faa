"""Pure readers the collectors use: label selectors, kubectl's columns, rollout status rules."""

from __future__ import annotations

from typing import Any

import pytest

from service.cluster.objects import job_info, job_kind, pod_info, rollout_complete
from service.cluster.selectors import matches, selector_string
from service.config.settings import PlatformObjects
from service.domain.signatures import SOURCE_CODEGEN, SOURCE_JOBS, default_signatures
from service.runbook.diagnostics.job_logs import clip, detect_signature

LABELS = {"app.kubernetes.io/name": "codex-k8s", "app.kubernetes.io/component": "worker"}


@pytest.mark.parametrize(("selector", "expected"), [
    ("", True),
    ("app.kubernetes.io/name=codex-k8s", True),
    ("app.kubernetes.io/name==codex-k8s,app.kubernetes.io/component=worker", True),
    ("app.kubernetes.io/component!=worker", False),
    ("app.kubernetes.io/component in (worker, control-plane)", True),
    ("app.kubernetes.io/component notin (worker)", False),
    ("app.kubernetes.io/name", True),
    ("!app.kubernetes.io/name", False),
    ("!missing,app.kubernetes.io/name=codex-k8s", True),
])
def test_selector_matching(selector: str, expected: bool) -> None:
    assert matches(selector, LABELS) is expected


def test_selector_string_round_trips_through_matching() -> None:
    selector = {"matchLabels": {"b": "2", "a": "1"}, "matchExpressions": [
        {"key": "c", "operator": "In", "values": ["x", "y"]},
        {"key": "d", "operator": "NotIn", "values": ["z"]},
        {"key": "e", "operator": "Exists"},
        {"key": "f", "operator": "DoesNotExist"}]}
    text = selector_string(selector)
    assert text == "a=1,b=2,c in (x,y),d notin (z),e,!f"
    assert matches(text, {"a": "1", "b": "2", "c": "y", "e": ""})
    assert not matches(text, {"a": "1", "b": "2", "c": "y", "e": "", "f": ""})


def _job(labels: dict[str, str], conditions: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"name": "codex-k8s-kaniko-worker-1", "labels": labels,
                         "creationTimestamp": "2026-02-26T09:00:00Z"},
            "status": {"startTime": "2026-02-26T09:00:01Z", "conditions": conditions}}


def test_job_kind_and_status_from_labels_and_conditions() -> None:
    platform = PlatformObjects()
    failed = _job({"app.kubernetes.io/name": "codex-k8s-kaniko",
                   "app.kubernetes.io/component": "worker", "codex-k8s.dev/run-id": "r1"},
                  [{"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"},
                   {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                    "lastTransitionTime": "2026-02-26T09:00:35Z"}])
    info = job_info(failed, platform)
    assert (info.kind, info.status, info.reason, info.run_id, info.component) == (
        "build", "Failed", "BackoffLimitExceeded", "r1", "worker")
    assert info.finished_at is not None and info.finished_at.second == 35
    mirror = _job({"app.kubernetes.io/name": "codex-k8s-image-mirror"}, [])
    assert job_kind(mirror, platform) == "mirror" and job_info(mirror, platform).status == (
        "Running")
    codegen = _job({"app.kubernetes.io/component": "codegen-check"}, [])
    assert job_kind(codegen, platform) == "codegen"
    assert job_kind(_job({}, []), platform) == "other"


def test_pod_columns_like_kubectl() -> None:
    pod = {"metadata": {"name": "p", "ownerReferences": [{"kind": "Job", "name": "j"}]},
           "spec": {"nodeName": "k3s-prod-1", "containers": [{"name": "a"}, {"name": "b"}]},
           "status": {"phase": "Running", "containerStatuses": [
               {"name": "a", "ready": True, "restartCount": 2, "state": {"running": {}}},
               {"name": "b", "ready": False, "restartCount": 1,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}
    info = pod_info(pod)
    assert (info.phase, info.ready, info.restarts, info.node, info.owner) == (
        "CrashLoopBackOff", "1/2", 3, "k3s-prod-1", "Job/j")


def _deploy(generation: int, observed: int, **status: int) -> dict[str, Any]:
    return {"metadata": {"generation": generation}, "spec": {"replicas": 1},
            "status": {"observedGeneration": observed, **status}}


@pytest.mark.parametrize(("deploy", "done"), [
    (_deploy(2, 1, replicas=1, updatedReplicas=1, availableReplicas=1), False),
    (_deploy(2, 2, replicas=2, updatedReplicas=1, availableReplicas=1), False),
    (_deploy(2, 2, replicas=1, updatedReplicas=0, availableReplicas=1), False),
    (_deploy(2, 2, replicas=1, updatedReplicas=1, availableReplicas=0), False),
    (_deploy(2, 2, replicas=1, updatedReplicas=1, availableReplicas=1), True),
])
def test_rollout_status_rules(deploy: dict[str, Any], done: bool) -> None:
    assert rollout_complete(deploy) is done


def test_signature_of_a_job_tail() -> None:
    sigs = default_signatures()
    kaniko = ["error building image: ... retrieving image from cache: x: MANIFEST_UNKNOWN"]
    assert detect_signature(kaniko, sigs, SOURCE_JOBS) == "cache"
    codegen = ["fatal: 'release/x' is not a commit and a branch cannot be created from it"]
    assert detect_signature(codegen, sigs, SOURCE_CODEGEN) == "build-ref"
    assert detect_signature(["all good"], sigs, SOURCE_JOBS) is None


def test_clip_keeps_both_ends() -> None:
    line = "error building image: " + "x" * 1000 + " MANIFEST_UNKNOWN: manifest unknown"
    clipped = clip(line, 100)
    assert len(clipped) <= 100
    assert clipped.startswith("error building image") and clipped.endswith("manifest unknown")
    assert clip("short", 100) == "short"
