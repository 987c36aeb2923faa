"""Aggregated discovery (`apidiscovery.k8s.io/v2`), as kubectl 1.32 asks for it first.

Purpose: answer `GET /api` and `GET /apis` with an APIGroupDiscoveryList when the client's
Accept names `as=APIGroupDiscoveryList;g=apidiscovery.k8s.io;v=v2`, so kubectl learns every
resource in two requests like against a real 1.32 apiserver (legacy per-group documents are
still served for clients that ask for them).
Boundary: derived from the catalog; no HTTP here beyond the media type constant.
"""

from __future__ import annotations

from typing import Any

from simulator.catalog import GROUP_VERSIONS, RESOURCES, ResourceType
from simulator.negotiation import accepts

MEDIA_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def wants_aggregated(accept: str) -> bool:
    """Whether the Accept header asks for the v2 aggregated discovery document."""
    return accepts(accept, group="apidiscovery.k8s.io", version="v2",
                   kind="APIGroupDiscoveryList")


def _kind(res: ResourceType) -> dict[str, str]:
    if res.kind == "Scale":
        return {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    return {"group": res.group, "version": res.version, "kind": res.kind}


def _resources(group: str, version: str) -> list[dict[str, Any]]:
    served = [r for r in RESOURCES if r.group == group and r.version == version]
    out: list[dict[str, Any]] = []
    for res in served:
        if "/" in res.plural:
            continue
        entry: dict[str, Any] = {
            "resource": res.plural,
            "responseKind": _kind(res),
            "scope": "Namespaced" if res.namespaced else "Cluster",
            "singularResource": res.singular,
            "verbs": res.verbs,
        }
        if res.short_names:
            entry["shortNames"] = res.short_names
        if res.categories:
            entry["categories"] = res.categories
        subs = [
            {"subresource": s.plural.split("/", 1)[1], "responseKind": _kind(s), "verbs": s.verbs}
            for s in served
            if s.plural.startswith(res.plural + "/")
        ]
        if subs:
            entry["subresources"] = subs
        out.append(entry)
    return out


def _group(name: str, version: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "creationTimestamp": None},
        "versions": [
            {"version": version, "resources": _resources(name, version), "freshness": "Current"}
        ],
    }


def discovery_list(legacy: bool) -> dict[str, Any]:
    """`/api` (legacy core group) or `/apis` (named groups) as APIGroupDiscoveryList."""
    items = [_group("", "v1")] if legacy else [_group(g, v) for g, v in GROUP_VERSIONS]
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }
