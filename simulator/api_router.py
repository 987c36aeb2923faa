"""Routing of Kubernetes API paths to discovery documents and resource handlers.

Purpose: answer `/api`, `/apis`, `/api/v1`, `/apis/{group}[/{version}]` from the catalog and
send resource requests to the right handler: pods/log streams, watches, access reviews, the
scale subresource, get/list/delete/patch/update.
Boundary: HTTP routing only; authentication and faults run before (in the server middleware).
"""

from __future__ import annotations

import json

from aiohttp import web

from simulator import catalog, discovery_v2, status
from simulator.faults import FaultEngine, FaultRule
from simulator.log_stream import stream_log
from simulator.resource_api import ResourceApi
from simulator.responses import RequestInfo, json_response, parse_request, truthy
from simulator.watch_stream import watch

DROP = web.RequestKey("sim_drop", FaultRule)


class ApiRouter:
    """Dispatches `/api...` and `/apis...` requests."""

    def __init__(self, api: ResourceApi, faults: FaultEngine) -> None:
        self.api = api
        self.faults = faults

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/")
        parts = [p for p in path.split("/") if p]
        if path in ("/api", "/apis"):
            if discovery_v2.wants_aggregated(request.headers.get("Accept", "")):
                doc = discovery_v2.discovery_list(legacy=path == "/api")
                body = json.dumps(doc, separators=(",", ":")).encode()
                return web.Response(body=body, headers={"Content-Type": discovery_v2.MEDIA_TYPE})
            legacy = catalog.api_versions() if path == "/api" else catalog.api_group_list()
            return json_response(legacy)
        if path == "/api/v1" or (len(parts) == 3 and parts[0] == "apis"):
            group, version = ("", "v1") if path == "/api/v1" else (parts[1], parts[2])
            found = catalog.resource_list(group, version)
            if found is None:
                raise status.route_not_found()
            return json_response(found)
        if len(parts) == 2 and parts[0] == "apis":
            group_doc = catalog.api_group(parts[1])
            if group_doc is None:
                raise status.route_not_found()
            return json_response(group_doc)
        watching = truthy(request.query.get("watch"))
        info = parse_request(request.method, request.path, watching)
        if info is None:
            raise status.route_not_found()
        return await self.resource(request, info)

    async def resource(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        api = self.api
        api.resource_type(info)
        if info.plural == "pods" and info.subresource == "log" and info.verb == "get":
            huge = self.faults.huge_log_bytes(info.name or "")
            return await stream_log(self.api.world, request, info, huge, request.get(DROP))
        if info.plural == "selfsubjectaccessreviews" and info.verb == "create":
            return await api.access_review(request)
        if info.plural == "deployments" and info.subresource == "scale":
            return await api.scale(request, info)
        handlers = {
            "get": lambda: api.get(request, info),
            "list": lambda: api.list(request, info),
            "delete": lambda: api.delete(info),
        }
        if info.verb == "watch":
            return await watch(api, request, info, request.get(DROP))
        if info.subresource and info.verb != "get":
            raise status.method_not_allowed()
        if info.verb in handlers:
            return handlers[info.verb]()
        if info.verb == "patch":
            return await api.patch(request, info)
        if info.verb == "update":
            return await api.update(request, info)
        raise status.method_not_allowed()
