"""Watch streams (`?watch=true`) of the simulated apiserver.

Purpose: stream `{"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR", "object": ...}` lines
over chunked HTTP as kube-apiserver does: synthetic ADDED events for the current state when no
resourceVersion (or "0") is given or `sendInitialEvents=true` (then a bookmark marking the end of
initial events), replay from a resourceVersion, `410 Expired` when it is too old, selectors
applied to every event, `timeoutSeconds` honoured, connection drops on a `drop` fault.
Boundary: reads the store's history and subscribes to it; never changes the world.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import web

from service.simulator import status
from service.simulator.faults import FaultRule
from service.simulator.resource_api import ResourceApi
from service.simulator.responses import RequestInfo
from service.simulator.selectors import field_matcher, label_matcher
from service.simulator.store import WatchEvent

Obj = dict[str, Any]
DEFAULT_TIMEOUT = 1800.0


def _line(kind: str, obj: Obj) -> bytes:
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"


async def watch(api: ResourceApi, request: web.Request, info: RequestInfo,
                drop: FaultRule | None) -> web.StreamResponse:
    """Serve one watch request until timeout, client disconnect or an injected drop."""
    res = api.resource_type(info)
    store = api.world.store
    labels = label_matcher(request.query.get("labelSelector"))
    fields = field_matcher(info.plural, request.query.get("fieldSelector"))
    namespace = info.namespace if info.plural != "namespaces" else None

    def matches(obj: Obj) -> bool:
        if namespace is not None and obj["metadata"].get("namespace") != namespace:
            return False
        return labels(obj) and fields(obj)

    queue: asyncio.Queue[WatchEvent] = asyncio.Queue()
    unsubscribe = store.subscribe(
        lambda ev: queue.put_nowait(ev) if ev.plural == info.plural else None)
    rv_text = request.query.get("resourceVersion", "")
    initial = request.query.get("sendInitialEvents") == "true"
    backlog: list[tuple[str, Obj]] = []
    expired: Obj | None = None
    if not rv_text or rv_text == "0" or initial:
        backlog = [("ADDED", o) for o in store.list(info.plural, namespace) if matches(o)]
    else:
        try:
            since = int(rv_text)
        except ValueError:
            unsubscribe()
            raise status.bad_request(f'invalid resource version "{rv_text}"') from None
        replay = store.events_since(info.plural, since)
        if replay is None:
            expired = status.gone(
                f"too old resource version: {since} ({store.oldest_replayable() + 1})").body()
        else:
            backlog = [(e.type, e.obj) for e in replay if matches(e.obj)]
    timeout = float(request.query.get("timeoutSeconds", DEFAULT_TIMEOUT) or DEFAULT_TIMEOUT)
    response = web.StreamResponse(status=200)
    response.content_type = "application/json"
    response.enable_chunked_encoding()
    budget = drop.after_bytes if drop is not None else None
    sent = 0
    try:
        await response.prepare(request)
        if expired is not None:
            await response.write(_line("ERROR", expired))
            return response
        for kind, obj in backlog:
            sent += await _send(response, kind, obj)
        if initial:
            mark = {"kind": res.kind, "apiVersion": res.api_version, "metadata": {
                "resourceVersion": str(store.resource_version),
                "annotations": {"k8s.io/initial-events-end": "true"}}}
            sent += await _send(response, "BOOKMARK", mark)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if budget is not None and sent >= budget and request.transport is not None:
                request.transport.abort()
                return response
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                event = await asyncio.wait_for(queue.get(), timeout=left)
            except TimeoutError:
                break
            if matches(event.obj):
                sent += await _send(response, event.type, event.obj)
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
    except ConnectionError:
        pass
    finally:
        unsubscribe()
    return response


async def _send(response: web.StreamResponse, kind: str, obj: Obj) -> int:
    data = _line(kind, obj)
    await response.write(data)
    return len(data)
