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
from typing import Any

from simulator.clock import rfc3339
from simulator.identity import SAFE, Identity
from simulator.pod_status import set_pod_pending

Obj = dict[str, Any]
NODE = "codex-k8s-prod-node-1"


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
    return "".join(SAFE[b % len(SAFE)] for b in digest[:10])


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
    metadata = {"name": name, "generateName": name.rsplit("-", 1)[0] + "-", **metadata}
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


def env_conflict(template: Obj) -> tuple[str, str] | None:
    """The apiserver's check of a pod template's env: ``value`` and ``valueFrom`` together are
    invalid (a strategic merge that sets ``value`` keeps ``valueFrom``). (field, detail) or None."""
    for i, container in enumerate((template.get("spec") or {}).get("containers") or []):
        for j, entry in enumerate(container.get("env") or []):
            if entry.get("valueFrom") and entry.get("value"):
                return (f"spec.template.spec.containers[{i}].env[{j}].valueFrom",
                        'Invalid value: "": may not be specified when `value` is not empty')
    return None
