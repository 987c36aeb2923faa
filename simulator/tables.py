"""`meta.k8s.io/v1` Table responses, column for column as kube-apiserver prints them.

Purpose: what `kubectl get` (and `-o wide`) shows comes from the server: the columns and cell
values of the apiserver's printers for pods, jobs, deployments, replicasets, events, secrets,
configmaps, services, cronjobs and namespaces, with `includeObject` (None/Metadata/Object).
Boundary: pure functions of objects and "now".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulator import printers as pr

Obj = dict[str, Any]
Row = list[Any]
Column = tuple[str, str, int]


S, N = "string", "integer"
Printer = Callable[[Obj, float], Row]
PRINTERS: dict[str, tuple[list[Column], Printer]] = {
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
        pr.pod_row,
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
        pr.job_row,
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
        pr.deployment_row,
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
        pr.replicaset_row,
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
        pr.event_row,
    ),
    "secrets": (
        [("Name", S, 0), ("Type", S, 0), ("Data", S, 0), ("Age", S, 0)],
        lambda o, n: [
            o["metadata"]["name"],
            o.get("type", "Opaque"),
            len(o.get("data") or {}),
            pr.age(o, n),
        ],
    ),
    "configmaps": (
        [("Name", S, 0), ("Data", S, 0), ("Age", S, 0)],
        lambda o, n: [o["metadata"]["name"], len(o.get("data") or {}), pr.age(o, n)],
    ),
    "namespaces": (
        [("Name", S, 0), ("Status", S, 0), ("Age", S, 0)],
        lambda o, n: [o["metadata"]["name"], o.get("status", {}).get("phase", ""), pr.age(o, n)],
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
        pr.service_row,
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
        pr.cronjob_row,
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
        plural,
        ([("Name", S, 0), ("Age", S, 0)], lambda o, n: [o["metadata"]["name"], pr.age(o, n)]),
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
