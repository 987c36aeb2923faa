"""How the simulated apiserver writes responses and reads requests.

Purpose: JSON bodies with `Content-Type: application/json` (no charset, like the apiserver),
`Status` error responses with their headers, Accept negotiation for Table output, and the
parsing of a request path into Kubernetes request attributes (verb, group, version, namespace,
resource, name, subresource), as the apiserver's RequestInfoFactory does.
Boundary: aiohttp plumbing only; no world knowledge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from simulator.negotiation import accepts
from simulator.status import ApiError


def json_response(
    obj: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    body = json.dumps(obj, separators=(",", ":")).encode()
    response = web.Response(body=body, status=status, headers=headers)
    response.content_type = "application/json"
    return response


def truthy(value: str | None) -> bool:
    """A boolean query parameter as Go's strconv.ParseBool reads it."""
    return value in ("1", "t", "T", "TRUE", "true", "True")


def error_response(error: ApiError) -> web.Response:
    return json_response(error.body(), error.code, error.headers or None)


def table_include(request: web.Request) -> str | None:
    """`includeObject` value when the client asks for a meta.k8s.io/v1 Table, else None."""
    if accepts(request.headers.get("Accept", ""), group="meta.k8s.io", version="v1",
               kind="Table"):
        return request.query.get("includeObject", "Metadata")
    return None


@dataclass(frozen=True)
class RequestInfo:
    """Kubernetes attributes of a resource request."""

    verb: str
    group: str
    version: str
    namespace: str | None
    plural: str
    name: str | None
    subresource: str

    @property
    def resource(self) -> str:
        return f"{self.plural}/{self.subresource}" if self.subresource else self.plural


def parse_request(method: str, path: str, watch: bool) -> RequestInfo | None:
    """Attributes of a resource path under /api/v1 or /apis/G/V; None for discovery paths."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    sub = "/".join(rest[2:])
    if plural == "namespaces" and name is not None and namespace is None:
        namespace = name
    verbs = {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}
    if method == "GET":
        verb = "get" if name else ("watch" if watch else "list")
    else:
        verb = verbs.get(method, method.lower())
        if verb == "delete" and name is None:
            verb = "deletecollection"
    return RequestInfo(verb, group, version, namespace, plural, name, sub)
