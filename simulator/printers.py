"""Row printers: the cells kube-apiserver's printers produce for each kind.

Purpose: one function per kind (pods, jobs, deployments, replicasets, events, services,
cronjobs) computing the cell values `kubectl get` shows: READY, STATUS reasons (Completed,
Error, ContainerCreating, Terminating), RESTARTS, AGE and DURATION in kube's human format,
CONTAINERS/IMAGES/SELECTOR for `-o wide`.
Boundary: pure functions of an object and "now"; column definitions live in `tables`.
"""

from __future__ import annotations

from typing import Any

from simulator.clock import human_duration, parse_time
from simulator.jobs import job_state
from simulator.selectors import format_selector

Obj = dict[str, Any]
Row = list[Any]


def age(obj: Obj, now: float) -> str:
    created = obj["metadata"].get("creationTimestamp")
    return human_duration(now - parse_time(created)) if created else "<unknown>"


def _containers(spec: Obj) -> tuple[str, str]:
    containers = spec.get("containers", [])
    return (
        ",".join(c["name"] for c in containers),
        ",".join(c.get("image", "") for c in containers),
    )


def _pod_status(pod: Obj) -> tuple[str, int, int]:
    status = pod.get("status", {})
    reason = status.get("reason") or status.get("phase", "Unknown")
    ready = restarts = 0
    has_running = False
    for cs in reversed(status.get("containerStatuses", [])):
        restarts += int(cs.get("restartCount", 0))
        state = cs.get("state", {})
        if state.get("waiting", {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif "terminated" in state:
            term = state["terminated"]
            reason = term.get("reason") or f"ExitCode:{term.get('exitCode', 0)}"
        else:
            has_running = True
            ready += 1 if cs.get("ready") else 0
    if reason == "Completed" and has_running:
        reason = "Running"
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    return reason, ready, restarts


def pod_row(pod: Obj, now: float) -> Row:
    reason, ready, restarts = _pod_status(pod)
    status, spec = pod.get("status", {}), pod.get("spec", {})
    gates = spec.get("readinessGates")
    return [
        pod["metadata"]["name"],
        f"{ready}/{len(spec.get('containers', []))}",
        reason,
        str(restarts),
        age(pod, now),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        f"0/{len(gates)}" if gates else "<none>",
    ]


def job_row(job: Obj, now: float) -> Row:
    status, spec = job.get("status", {}), job["spec"]
    completions = f"{status.get('succeeded', 0)}/{spec.get('completions', 1)}"
    start = status.get("startTime")
    done = status.get("completionTime")
    took = ""
    if start:
        took = human_duration((parse_time(done) if done else now) - parse_time(start))
    names, images = _containers(spec["template"]["spec"])
    return [
        job["metadata"]["name"],
        job_state(job),
        completions,
        took,
        age(job, now),
        names,
        images,
        format_selector(spec.get("selector", {})),
    ]


def deployment_row(d: Obj, now: float) -> Row:
    status, spec = d.get("status", {}), d["spec"]
    names, images = _containers(spec["template"]["spec"])
    return [
        d["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        age(d, now),
        names,
        images,
        format_selector(spec.get("selector", {})),
    ]


def replicaset_row(rs: Obj, now: float) -> Row:
    status, spec = rs.get("status", {}), rs["spec"]
    names, images = _containers(spec["template"]["spec"])
    return [
        rs["metadata"]["name"],
        spec.get("replicas", 0),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        age(rs, now),
        names,
        images,
        format_selector(spec.get("selector", {})),
    ]


def event_row(ev: Obj, now: float) -> Row:
    inv = ev.get("involvedObject", {})
    last = ev.get("lastTimestamp") or ev["metadata"]["creationTimestamp"]
    first = ev.get("firstTimestamp") or last
    return [
        human_duration(now - parse_time(last)),
        ev.get("type", ""),
        ev.get("reason", ""),
        f"{inv.get('kind', '').lower()}/{inv.get('name', '')}",
        inv.get("fieldPath", ""),
        ev.get("source", {}).get("component", ""),
        ev.get("message", ""),
        human_duration(now - parse_time(first)),
        ev.get("count", 1),
        ev["metadata"]["name"],
    ]


def service_row(svc: Obj, now: float) -> Row:
    spec = svc["spec"]
    ports = ",".join(f"{p['port']}/{p.get('protocol', 'TCP')}" for p in spec.get("ports", []))
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    return [
        svc["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP", ""),
        "<none>",
        ports,
        age(svc, now),
        selector or "<none>",
    ]


def cronjob_row(cj: Obj, now: float) -> Row:
    spec = cj["spec"]
    last = cj.get("status", {}).get("lastScheduleTime")
    names, images = _containers(spec["jobTemplate"]["spec"]["template"]["spec"])
    return [
        cj["metadata"]["name"],
        spec["schedule"],
        spec.get("timeZone") or "<none>",
        str(spec.get("suspend", False)).capitalize(),
        len(cj.get("status", {}).get("active", [])),
        human_duration(now - parse_time(last)) if last else "<none>",
        age(cj, now),
        names,
        images,
        "<none>",
    ]
