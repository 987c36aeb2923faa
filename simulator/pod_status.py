"""Pod status as the kubelet reports it, phase by phase.

Purpose: Pending (ContainerCreating), Running (ready or failing readiness), and terminated
(Succeeded/Completed or Failed/Error) pod status blocks with the conditions
(PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled), container
statuses, IPs and image ids a 1.32 node writes.
Boundary: mutates the given pod dict; ids come from an `Identity`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from simulator.clock import rfc3339
from simulator.identity import Identity

Obj = dict[str, Any]
HOST_IP = "10.0.0.11"


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
    # The kubelet's reason: PodCompleted when every container succeeded, PodFailed otherwise.
    ended = "PodCompleted" if exit_code == 0 else "PodFailed"
    status["conditions"] = [
        _cond("PodReadyToStartContainers", False, ts),
        _cond("Initialized", True, ts),
        _cond("Ready", False, ts, ended),
        _cond("ContainersReady", False, ts, ended),
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
