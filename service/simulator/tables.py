"""`meta.k8s.io/v1` Table responses, column for column as kube-apiserver prints them.

Purpose: what `kubectl get` (and `-o wide`) shows comes from the server: the columns and cell
values of the apiserver's printers for pods, jobs, deployments, replicasets, events, secrets,
configmaps, services, cronjobs and namespaces, with `includeObject` (None/Metadata/Object).
Boundary: pure functions of objects and "now".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from service.simulator.clock import human_duration, parse_time
from service.simulator.jobs import job_state
from service.simulator.selectors import format_selector

Obj = dict[str, Any]
Row = list[Any]
Column = tuple[str, str, int]


def _age(obj: Obj, now: float) -> str:
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


def _pod(pod: Obj, now: float) -> Row:
    reason, ready, restarts = _pod_status(pod)
    status, spec = pod.get("status", {}), pod.get("spec", {})
    gates = spec.get("readinessGates")
    return [
        pod["metadata"]["name"],
        f"{ready}/{len(spec.get('containers', []))}",
        reason,
        str(restarts),
        _age(pod, now),
        status.get("podIP") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        f"0/{len(gates)}" if gates else "<none>",
    ]


def _job(job: Obj, now: float) -> Row:
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
        _age(job, now),
        names,
        images,
        format_selector(spec.get("selector", {})),
    ]


def _deployment(d: Obj, now: float) -> Row:
    status, spec = d.get("status", {}), d["spec"]
    names, images = _containers(spec["template"]["spec"])
    return [
        d["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(d, now),
        names,
        images,
        format_selector(spec.get("selector", {})),
    ]


def _replicaset(rs: Obj, now: float) -> Row:
    status, spec = rs.get("status", {}), rs["spec"]
    names, images = _containers(spec["template"]["spec"])
    return [
        rs["metadata"]["name"],
        spec.get("replicas", 0),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _age(rs, now),
        names,
        images,
        format_selector(spec.get("selector", {})),
    ]


def _event(ev: Obj, now: float) -> Row:
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


def _service(svc: Obj, now: float) -> Row:
    spec = svc["spec"]
    ports = ",".join(f"{p['port']}/{p.get('protocol', 'TCP')}" for p in spec.get("ports", []))
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    return [
        svc["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP", ""),
        "<none>",
        ports,
        _age(svc, now),
        selector or "<none>",
    ]


def _cronjob(cj: Obj, now: float) -> Row:
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
        _age(cj, now),
        names,
        images,
        "<none>",
    ]


S, N = "string", "integer"
PRINTERS: dict[str, tuple[list[Column], Callable[[Obj, float], Row]]] = {
    "pods": (
        [
            ("Name", S, 0),
            ("Ready", S, 0),
            ("Status", S, 0),
            ("Restarts", S, 0),
            ("Age", S, 0),
            ("IP", S, 1),
            ("Node", S, 1),
            ("Nominated Node", S, 1),
            ("Readiness Gates", S, 1),
        ],
        _pod,
    ),
    "jobs": (
        [
            ("Name", S, 0),
            ("Status", S, 0),
            ("Completions", S, 0),
            ("Duration", S, 0),
            ("Age", S, 0),
            ("Containers", S, 1),
            ("Images", S, 1),
            ("Selector", S, 1),
        ],
        _job,
    ),
    "deployments": (
        [
            ("Name", S, 0),
            ("Ready", S, 0),
            ("Up-to-date", N, 0),
            ("Available", N, 0),
            ("Age", S, 0),
            ("Containers", S, 1),
            ("Images", S, 1),
            ("Selector", S, 1),
        ],
        _deployment,
    ),
    "replicasets": (
        [
            ("Name", S, 0),
            ("Desired", N, 0),
            ("Current", N, 0),
            ("Ready", N, 0),
            ("Age", S, 0),
            ("Containers", S, 1),
            ("Images", S, 1),
            ("Selector", S, 1),
        ],
        _replicaset,
    ),
    "events": (
        [
            ("Last Seen", S, 0),
            ("Type", S, 0),
            ("Reason", S, 0),
            ("Object", S, 0),
            ("Subobject", S, 1),
            ("Source", S, 1),
            ("Message", S, 0),
            ("First Seen", S, 1),
            ("Count", N, 1),
            ("Name", S, 1),
        ],
        _event,
    ),
    "secrets": (
        [("Name", S, 0), ("Type", S, 0), ("Data", S, 0), ("Age", S, 0)],
        lambda o, n: [
            o["metadata"]["name"],
            o.get("type", "Opaque"),
            len(o.get("data") or {}),
            _age(o, n),
        ],
    ),
    "configmaps": (
        [("Name", S, 0), ("Data", S, 0), ("Age", S, 0)],
        lambda o, n: [o["metadata"]["name"], len(o.get("data") or {}), _age(o, n)],
    ),
    "namespaces": (
        [("Name", S, 0), ("Status", S, 0), ("Age", S, 0)],
        lambda o, n: [o["metadata"]["name"], o.get("status", {}).get("phase", ""), _age(o, n)],
    ),
    "services": (
        [
            ("Name", S, 0),
            ("Type", S, 0),
            ("Cluster-IP", S, 0),
            ("External-IP", S, 0),
            ("Port(s)", S, 0),
            ("Age", S, 0),
            ("Selector", S, 1),
        ],
        _service,
    ),
    "cronjobs": (
        [
            ("Name", S, 0),
            ("Schedule", S, 0),
            ("Timezone", S, 0),
            ("Suspend", S, 0),
            ("Active", N, 0),
            ("Last Schedule", S, 0),
            ("Age", S, 0),
            ("Containers", S, 1),
            ("Images", S, 1),
            ("Selector", S, 1),
        ],
        _cronjob,
    ),
}


def _column(name: str, kind: str, priority: int) -> Obj:
    return {
        "name": name,
        "type": kind,
        "format": "name" if name == "Name" else "",
        "description": f"{name} of the object",
        "priority": priority,
    }


def table(plural: str, objects: list[Obj], now: float, include: str, meta: Obj) -> Obj:
    """A Table for `objects` (full objects carrying kind and apiVersion)."""
    columns, printer = PRINTERS.get(
        plural, ([("Name", S, 0), ("Age", S, 0)], lambda o, n: [o["metadata"]["name"], _age(o, n)])
    )
    rows: list[Obj] = []
    for obj in objects:
        row: Obj = {"cells": printer(obj, now)}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": [_column(*c) for c in columns],
        "rows": rows,
    }
