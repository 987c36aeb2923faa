"""Resource endpoints of the simulated apiserver: get, list, patch, update, delete, scale, SSAR.

Purpose: serve `/api/v1/...` and `/apis/{group}/{version}/...` for the catalog's resources with
the apiserver's semantics: lists with `labelSelector`/`fieldSelector`/`limit`/`continue` and a
list resourceVersion, Table output on request, the three patch types, optimistic concurrency on
PUT, the `scale` subresource, and SelfSubjectAccessReview answers that agree with the 403
faults. Watches and logs are delegated to their stream modules.
Boundary: HTTP in, world calls out; no business rules of the platform.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from aiohttp import web

from simulator import catalog, protowire, status, tables
from simulator.faults import FaultEngine
from simulator.patches import apply_patch, check_env
from simulator.responses import RequestInfo, json_response, table_include
from simulator.selectors import field_matcher, format_selector, label_matcher
from simulator.world import World

Obj = dict[str, Any]
CLUSTER_SCOPED_READ = {"namespaces"}


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    if request.headers.get("Content-Type", "").startswith(protowire.PROTOBUF):
        try:
            return protowire.decode(raw)
        except (ValueError, IndexError) as exc:
            raise status.unsupported_media(request.headers["Content-Type"]) from exc
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise status.bad_request(f"couldn't get version/kind; json parse error: {exc}") from exc


class ResourceApi:
    """Dispatches resource requests to the world."""

    def __init__(self, world: World, faults: FaultEngine, user: str) -> None:
        self.world = world
        self.faults = faults
        self.user = user

    def resource_type(self, info: RequestInfo) -> catalog.ResourceType:
        res = catalog.find(info.group, info.version, info.plural)
        if res is None:
            raise status.route_not_found()
        return res

    def _namespace_ok(self, info: RequestInfo) -> bool:
        return info.namespace in (None, self.world.namespace)

    # -- reads -------------------------------------------------------------------------------
    def get(self, request: web.Request, info: RequestInfo) -> web.Response:
        res = self.resource_type(info)
        assert info.name is not None
        ns = "" if not res.namespaced else (info.namespace or "")
        obj = self.world.store.get(info.plural, ns, info.name) if self._namespace_ok(info) else None
        if obj is None:
            raise status.not_found(info.plural, res.group, info.name)
        include = table_include(request)
        if include is not None:
            meta = {"resourceVersion": obj["metadata"]["resourceVersion"]}
            return json_response(tables.table(info.plural, [obj], self.world.now, include, meta))
        return json_response(obj)

    def select(self, request: web.Request, info: RequestInfo) -> list[Obj]:
        labels = label_matcher(request.query.get("labelSelector"))
        fields = field_matcher(info.plural, request.query.get("fieldSelector"))
        ns = info.namespace if info.plural not in CLUSTER_SCOPED_READ else None
        if not self._namespace_ok(info) and info.plural not in CLUSTER_SCOPED_READ:
            return []
        return [o for o in self.world.store.copies(info.plural, ns) if labels(o) and fields(o)]

    def list(self, request: web.Request, info: RequestInfo) -> web.Response:
        res = self.resource_type(info)
        items = self.select(request, info)
        rv = str(self.world.store.resource_version)
        meta: Obj = {"resourceVersion": rv}
        start = 0
        token = request.query.get("continue")
        if token:
            try:
                state = json.loads(base64.b64decode(token))
                start, rv = int(state["start"]), str(state["rv"])
            except (ValueError, KeyError) as exc:
                raise status.bad_request("continue key is not valid") from exc
            meta["resourceVersion"] = rv
        limit = int(request.query.get("limit", "0") or 0)
        page = items[start : start + limit] if limit > 0 else items[start:]
        if limit > 0 and start + limit < len(items):
            meta["continue"] = base64.b64encode(
                json.dumps({"start": start + limit, "rv": rv}).encode()
            ).decode()
            meta["remainingItemCount"] = len(items) - start - limit
        include = table_include(request)
        if include is not None:
            return json_response(tables.table(info.plural, page, self.world.now, include, meta))
        for item in page:
            item.pop("kind", None)
            item.pop("apiVersion", None)
        return json_response(
            {"kind": res.list_kind, "apiVersion": res.api_version, "metadata": meta, "items": page}
        )

    # -- writes ------------------------------------------------------------------------------
    def _current(self, info: RequestInfo) -> tuple[catalog.ResourceType, Obj]:
        res = self.resource_type(info)
        assert info.name is not None
        obj = (
            self.world.store.get(info.plural, info.namespace or "", info.name)
            if self._namespace_ok(info)
            else None
        )
        if obj is None:
            raise status.not_found(info.plural, res.group, info.name)
        return res, obj

    async def patch(self, request: web.Request, info: RequestInfo) -> web.Response:
        res, obj = self._current(info)
        body = await read_json(request)
        patched = apply_patch(request.headers.get("Content-Type", ""), obj, body)
        check_env(res.kind, res.group, info.name or "", patched)
        if request.query.get("dryRun") == "All":
            return json_response(patched)
        wanted_rv = (patched.get("metadata") or {}).get("resourceVersion")
        if wanted_rv == obj["metadata"]["resourceVersion"]:
            wanted_rv = None
        assert info.name is not None
        result = self.world.replace(info.plural, info.name, patched, wanted_rv)
        return json_response(result)

    async def update(self, request: web.Request, info: RequestInfo) -> web.Response:
        res, _ = self._current(info)
        body = await read_json(request)
        if not isinstance(body, dict):
            raise status.bad_request("the body of the request was in an unknown format")
        rv = (body.get("metadata") or {}).get("resourceVersion")
        if not rv:
            raise status.invalid(
                res.kind,
                res.group,
                info.name or "",
                "metadata.resourceVersion",
                "Invalid value: 0x0: must be specified for an update",
            )
        assert info.name is not None
        return json_response(self.world.replace(info.plural, info.name, body, rv))

    def delete(self, info: RequestInfo) -> web.Response:
        _, obj = self._current(info)
        if info.plural not in ("pods", "jobs", "events", "configmaps"):
            raise status.method_not_allowed()
        assert info.name is not None
        self.world.delete(info.plural, info.name)
        return json_response(obj)

    # -- subresources ------------------------------------------------------------------------
    def _scale_of(self, deploy: Obj) -> Obj:
        m = deploy["metadata"]
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: m[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            },
            "spec": {"replicas": deploy["spec"].get("replicas", 1)},
            "status": {
                "replicas": deploy.get("status", {}).get("replicas", 0),
                "selector": format_selector(deploy["spec"]["selector"]),
            },
        }

    async def scale(self, request: web.Request, info: RequestInfo) -> web.Response:
        _, deploy = self._current(info)
        scale = self._scale_of(deploy)
        if request.method == "GET":
            return json_response(scale)
        body = await read_json(request)
        if request.method == "PATCH":
            scale = apply_patch(request.headers.get("Content-Type", ""), scale, body)
        elif isinstance(body, dict):
            scale = body
        updated = copy.deepcopy(deploy)
        updated["spec"]["replicas"] = int(scale.get("spec", {}).get("replicas", 1))
        assert info.name is not None
        result = self.world.replace("deployments", info.name, updated)
        return json_response(self._scale_of(result))

    async def access_review(self, request: web.Request) -> web.Response:
        body = await read_json(request)
        if not isinstance(body, dict) or "spec" not in body:
            raise status.bad_request("SelfSubjectAccessReview without spec")
        spec = body["spec"]
        attrs = spec.get("resourceAttributes")
        allowed = True
        if attrs:
            resource = attrs.get("resource", "")
            if attrs.get("subresource"):
                resource = f"{resource}/{attrs['subresource']}"
            allowed = not self.faults.denies(attrs.get("verb", ""), resource, attrs.get("name"))
        review_status: Obj = {"allowed": allowed}
        if allowed:
            review_status["reason"] = (
                f'RBAC: allowed by RoleBinding "aislot-responder/{self.world.namespace}" of Role '
                f'"aislot-responder" to ServiceAccount "aislot-responder/{self.world.namespace}"'
            )
        return json_response(
            {
                "kind": "SelfSubjectAccessReview",
                "apiVersion": "authorization.k8s.io/v1",
                "metadata": {"creationTimestamp": None},
                "spec": spec,
                "status": review_status,
            },
            status=201,
        )
