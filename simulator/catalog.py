"""The resource catalog: which Kubernetes resources the simulator serves, and discovery.

Purpose: one table of resources (group, version, kind, plural, verbs, short names) from which
both the discovery documents (`/api`, `/apis`, `/api/v1`, `/apis/apps/v1`, ...) and the request
router are derived, so the two can never disagree.
Boundary: static data and pure functions returning JSON-ready dicts; no HTTP here.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]


@dataclass(frozen=True)
class ResourceType:
    """One served resource (or subresource when `plural` contains a slash)."""

    group: str
    version: str
    plural: str
    kind: str
    singular: str
    namespaced: bool = True
    verbs: list[str] = field(default_factory=lambda: READ + WRITE)
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """Name as used in error messages: `pods`, `deployments.apps`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def discovery(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": "" if "/" in self.plural else self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": self.verbs,
        }
        if self.group and "/" in self.plural and self.kind in ("Scale",):
            entry["group"] = "autoscaling"
            entry["version"] = "v1"
        if self.short_names:
            entry["shortNames"] = self.short_names
        if self.categories:
            entry["categories"] = self.categories
        if "/" not in self.plural:
            digest = hashlib.sha256(f"{self.api_version}/{self.plural}".encode()).digest()
            entry["storageVersionHash"] = base64.b64encode(digest[:8]).decode()[:11]
        return entry


RESOURCES: list[ResourceType] = [
    ResourceType(
        "",
        "v1",
        "namespaces",
        "Namespace",
        "namespace",
        namespaced=False,
        verbs=["create", "delete", "get", "list", "patch", "update", "watch"],
        short_names=["ns"],
    ),
    ResourceType("", "v1", "pods", "Pod", "pod", short_names=["po"], categories=["all"]),
    ResourceType("", "v1", "pods/log", "Pod", "", verbs=["get"]),
    ResourceType("", "v1", "pods/status", "Pod", "", verbs=["get", "patch", "update"]),
    ResourceType("", "v1", "secrets", "Secret", "secret"),
    ResourceType("", "v1", "configmaps", "ConfigMap", "configmap", short_names=["cm"]),
    ResourceType("", "v1", "events", "Event", "event", short_names=["ev"]),
    ResourceType(
        "", "v1", "services", "Service", "service", short_names=["svc"], categories=["all"]
    ),
    ResourceType(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        "deployment",
        short_names=["deploy"],
        categories=["all"],
    ),
    ResourceType("apps", "v1", "deployments/scale", "Scale", "", verbs=["get", "patch", "update"]),
    ResourceType(
        "apps", "v1", "deployments/status", "Deployment", "", verbs=["get", "patch", "update"]
    ),
    ResourceType(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        "replicaset",
        short_names=["rs"],
        categories=["all"],
    ),
    ResourceType("batch", "v1", "jobs", "Job", "job", categories=["all"]),
    ResourceType("batch", "v1", "jobs/status", "Job", "", verbs=["get", "patch", "update"]),
    ResourceType(
        "batch", "v1", "cronjobs", "CronJob", "cronjob", short_names=["cj"], categories=["all"]
    ),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreview",
        namespaced=False,
        verbs=["create"],
    ),
]

GROUP_VERSIONS: list[tuple[str, str]] = [
    ("apps", "v1"),
    ("batch", "v1"),
    ("authorization.k8s.io", "v1"),
]

SERVER_VERSION: dict[str, str] = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4+k3s1",
    "gitCommit": "5d0a1b2ef7a0c4f1e2a3b4c5d6e7f8a9b0c1d2e3",
    "gitTreeState": "clean",
    "buildDate": "2025-04-23T18:22:01Z",
    "goVersion": "go1.23.8",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def find(group: str, version: str, plural: str) -> ResourceType | None:
    """The resource type served at group/version/plural, or None."""
    for res in RESOURCES:
        if res.group == group and res.version == version and res.plural == plural:
            return res
    return None


def by_plural(plural: str) -> ResourceType:
    """Resource type by plural name (plural names are unique here)."""
    for res in RESOURCES:
        if res.plural == plural:
            return res
    raise KeyError(plural)


def api_versions() -> dict[str, Any]:
    """`GET /api`: the legacy core group."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "10.0.0.1:6443"}
        ],
    }


def _group_entry(group: str, version: str) -> dict[str, Any]:
    gv = {"groupVersion": f"{group}/{version}", "version": version}
    return {"name": group, "versions": [gv], "preferredVersion": gv}


def api_group_list() -> dict[str, Any]:
    """`GET /apis`: every named group."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_entry(g, v) for g, v in GROUP_VERSIONS],
    }


def api_group(group: str) -> dict[str, Any] | None:
    """`GET /apis/{group}`."""
    for g, v in GROUP_VERSIONS:
        if g == group:
            return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(g, v)}
    return None


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    """`GET /api/v1` or `GET /apis/{group}/{version}`: APIResourceList."""
    items = [r.discovery() for r in RESOURCES if r.group == group and r.version == version]
    if not items:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": items,
    }
