"""Builders for the JSON objects the simulated apiserver stores and serves.

Purpose: produce Pods, ReplicaSets, Jobs, Events and friends with the field names, defaults,
labels and ownerReferences a real cluster (k3s, Kubernetes 1.32) would show, and move pods and
jobs through their status phases.
Boundary: pure dict construction; ids come from an injected `Identity`; no store access.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import uuid
from typing import Any

from service.simulator.clock import rfc3339

Obj = dict[str, Any]
NODE = "codex-k8s-prod-node-1"
HOST_IP = "10.0.0.11"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


class Identity:
    """Deterministic uids, name suffixes and IPs from a seed."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)  # noqa: S311 (reproducible simulation, not crypto)
        self._ip = 10

    def uid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def suffix(self, length: int = 5) -> str:
        return "".join(self._rng.choice(_SAFE) for _ in range(length))

    def hex(self, length: int) -> str:
        return "".join(self._rng.choice("0123456789abcdef") for _ in range(length))

    def pod_ip(self) -> str:
        self._ip = self._ip + 1 if self._ip < 250 else 11
        return f"10.42.0.{self._ip}"

    def token(self) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "ghp_" + "".join(self._rng.choice(alphabet) for _ in range(36))


def template_hash(template: Obj) -> str:
    """pod-template-hash label value derived from the pod template, like the controller's.

    Defaulted fields and the hash label itself do not count (EqualIgnoreHash), so a template
    copied back from a ReplicaSet (`kubectl rollout undo`) maps to the same ReplicaSet.
    """
    normal = copy.deepcopy(template)
    normal.setdefault("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
    normal["metadata"].pop("creationTimestamp", None)
    normal["spec"] = pod_spec_defaults(normal.get("spec", {}))
    digest = hashlib.sha256(json.dumps(normal, sort_keys=True).encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:10])


def default_template(template: Obj) -> None:
    """Apply the apiserver's defaulting to a pod template in place."""
    restart = template.get("spec", {}).get("restartPolicy", "Always")
    template["spec"] = pod_spec_defaults(template.get("spec", {}), restart)


def meta(
    name: str,
    namespace: str,
    uid: str,
    ts: float,
    *,
    labels: dict[str, str] | None = None,
    generation: int | None = None,
) -> Obj:
    m: Obj = {"name": name, "namespace": namespace, "uid": uid, "resourceVersion": "0"}
    if generation is not None:
        m["generation"] = generation
    m["creationTimestamp"] = rfc3339(ts)
    if labels:
        m["labels"] = dict(labels)
    return m


def owner(api_version: str, kind: str, obj: Obj) -> Obj:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def container_defaults(container: Obj) -> Obj:
    c = copy.deepcopy(container)
    c.setdefault("resources", {})
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("imagePullPolicy", "IfNotPresent")
    return c


def pod_spec_defaults(spec: Obj, restart_policy: str = "Always") -> Obj:
    s = copy.deepcopy(spec)
    s["containers"] = [container_defaults(c) for c in s.get("containers", [])]
    s.setdefault("restartPolicy", restart_policy)
    s.setdefault("terminationGracePeriodSeconds", 30)
    s.setdefault("dnsPolicy", "ClusterFirst")
    s.setdefault("serviceAccountName", "default")
    s.setdefault("serviceAccount", s["serviceAccountName"])
    s.setdefault("securityContext", {})
    s.setdefault("schedulerName", "default-scheduler")
    return s


def new_pod(
    ident: Identity,
    name: str,
    namespace: str,
    *,
    template: Obj,
    owner_ref: Obj,
    ts: float,
    extra_labels: dict[str, str] | None = None,
) -> Obj:
    """A freshly scheduled pod (phase Pending, ContainerCreating)."""
    labels = {**(template.get("metadata", {}).get("labels") or {}), **(extra_labels or {})}
    metadata = meta(name, namespace, ident.uid(), ts, labels=labels)
    annotations = template.get("metadata", {}).get("annotations")
    if annotations:
        metadata["annotations"] = dict(annotations)
    metadata["ownerReferences"] = [owner_ref]
    restart = template.get("spec", {}).get("restartPolicy", "Always")
    spec = pod_spec_defaults(template.get("spec", {}), restart)
    spec["nodeName"] = NODE
    spec.update(
        {"enableServiceLinks": True, "preemptionPolicy": "PreemptLowerPriority", "priority": 0}
    )
    spec["tolerations"] = [
        {
            "key": f"node.kubernetes.io/{t}",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 300,
        }
        for t in ("not-ready", "unreachable")
    ]
    pod: Obj = {"kind": "Pod", "apiVersion": "v1", "metadata": metadata, "spec": spec, "status": {}}
    set_pod_pending(pod, ts)
    return pod


def _cond(kind: str, status: bool, ts: float, reason: str = "", message: str = "") -> Obj:
    c: Obj = {
        "type": kind,
        "status": "True" if status else "False",
        "lastProbeTime": None,
        "lastTransitionTime": rfc3339(ts),
    }
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def _container_names(pod: Obj) -> list[str]:
    return [c["name"] for c in pod["spec"]["containers"]]


def _status_base(pod: Obj, ts: float, phase: str) -> Obj:
    old = pod.get("status") or {}
    status: Obj = {"phase": phase, "hostIP": HOST_IP, "hostIPs": [{"ip": HOST_IP}]}
    if "podIP" in old:
        status["podIP"] = old["podIP"]
        status["podIPs"] = old["podIPs"]
    status["startTime"] = old.get("startTime", rfc3339(ts))
    status["qosClass"] = "BestEffort"
    return status


def set_pod_pending(pod: Obj, ts: float) -> None:
    status = _status_base(pod, ts, "Pending")
    names = _container_names(pod)
    unready = f"containers with unready status: [{' '.join(names)}]"
    status["conditions"] = [
        _cond("PodReadyToStartContainers", False, ts),
        _cond("Initialized", True, ts),
        _cond("Ready", False, ts, "ContainersNotReady", unready),
        _cond("ContainersReady", False, ts, "ContainersNotReady", unready),
        _cond("PodScheduled", True, ts),
    ]
    status["containerStatuses"] = [
        {
            "name": c["name"],
            "state": {"waiting": {"reason": "ContainerCreating"}},
            "lastState": {},
            "ready": False,
            "restartCount": 0,
            "image": c["image"],
            "imageID": "",
            "started": False,
        }
        for c in pod["spec"]["containers"]
    ]
    pod["status"] = status


def _image_id(image: str) -> str:
    digest = hashlib.sha256(image.encode()).hexdigest()
    return f"{image.split(':', maxsplit=1)[0]}@sha256:{digest}"


def set_pod_running(
    pod: Obj, ident: Identity, ts: float, ready: bool, restart_count: int = 0
) -> None:
    """Containers started; `ready` says whether the readiness probe passes."""
    old_ready = next((c for c in pod["status"].get("conditions", []) if c["type"] == "Ready"), None)
    status = _status_base(pod, ts, "Running")
    if "podIP" not in status:
        ip = ident.pod_ip()
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    names = _container_names(pod)
    unready = f"containers with unready status: [{' '.join(names)}]"
    ready_since = ts
    if old_ready and (old_ready["status"] == "True") == ready:
        ready_since = 0.0
    started = next(
        (
            c.get("state", {}).get("running", {}).get("startedAt")
            for c in pod["status"].get("containerStatuses", [])
        ),
        None,
    )
    conds = [_cond("PodReadyToStartContainers", True, ts), _cond("Initialized", True, ts)]
    if ready:
        conds += [_cond("Ready", True, ts), _cond("ContainersReady", True, ts)]
    else:
        conds += [
            _cond("Ready", False, ts, "ContainersNotReady", unready),
            _cond("ContainersReady", False, ts, "ContainersNotReady", unready),
        ]
    conds.append(_cond("PodScheduled", True, ts))
    if ready_since == 0.0 and old_ready:
        for c in conds:
            prev = next((p for p in pod["status"]["conditions"] if p["type"] == c["type"]), None)
            if prev:
                c["lastTransitionTime"] = prev["lastTransitionTime"]
    status["conditions"] = conds
    status["containerStatuses"] = [
        {
            "name": c["name"],
            "state": {"running": {"startedAt": started or rfc3339(ts)}},
            "lastState": {},
            "ready": ready,
            "restartCount": restart_count,
            "image": c["image"],
            "imageID": _image_id(c["image"]),
            "containerID": f"containerd://{ident.hex(64)}",
            "started": True,
        }
        for c in pod["spec"]["containers"]
    ]
    pod["status"] = status


def set_pod_terminated(pod: Obj, ident: Identity, ts: float, exit_code: int) -> None:
    """All containers exited (job pods): Succeeded on 0, Failed otherwise."""
    phase = "Succeeded" if exit_code == 0 else "Failed"
    status = _status_base(pod, ts, phase)
    started = pod["status"].get("startTime", rfc3339(ts))
    status["conditions"] = [
        _cond("PodReadyToStartContainers", False, ts),
        _cond("Initialized", True, ts),
        _cond("Ready", False, ts, "PodCompleted"),
        _cond("ContainersReady", False, ts, "PodCompleted"),
        _cond("PodScheduled", True, ts),
    ]
    reason = "Completed" if exit_code == 0 else "Error"
    status["containerStatuses"] = [
        {
            "name": c["name"],
            "state": {
                "terminated": {
                    "exitCode": exit_code,
                    "reason": reason,
                    "startedAt": started,
                    "finishedAt": rfc3339(ts),
                    "containerID": f"containerd://{ident.hex(64)}",
                }
            },
            "lastState": {},
            "ready": False,
            "restartCount": 0,
            "image": c["image"],
            "imageID": _image_id(c["image"]),
            "containerID": f"containerd://{ident.hex(64)}",
            "started": False,
        }
        for c in pod["spec"]["containers"]
    ]
    pod["status"] = status


def event(
    ident: Identity,
    namespace: str,
    involved: Obj,
    *,
    reason: str,
    message: str,
    ts: float,
    component: str,
    warning: bool = False,
) -> Obj:
    """A core/v1 Event about `involved`."""
    m = involved["metadata"]
    name = f"{m['name']}.{ident.hex(16)}"
    return {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": meta(name, namespace, ident.uid(), ts),
        "involvedObject": {
            "kind": involved["kind"],
            "namespace": namespace,
            "name": m["name"],
            "uid": m["uid"],
            "apiVersion": involved["apiVersion"],
            "resourceVersion": m.get("resourceVersion", ""),
        },
        "reason": reason,
        "message": message,
        "source": {"component": component},
        "firstTimestamp": rfc3339(ts),
        "lastTimestamp": rfc3339(ts),
        "count": 1,
        "type": "Warning" if warning else "Normal",
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": "",
    }
