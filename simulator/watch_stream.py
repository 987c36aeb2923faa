"""Watch streams (`?watch=true`) of the simulated apiserver.

Purpose: stream `{"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR", "object": ...}` lines
over chunked HTTP as kube-apiserver does: synthetic ADDED events for the current state when no
resourceVersion (or "0") is given or `sendInitialEvents=true` (then a bookmark marking the end of
initial events), replay from a resourceVersion, `410 Expired` when it is too old, selectors
applied to every event, `timeoutSeconds` honoured; on a fault, the connection dropped (`drop`),
an ERROR 410 event (`gone`), or nothing sent ever again (`silent`).
Boundary: reads the store's history and subscribes to it; never changes the world.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from simulator import status, tables
from simulator.faults import FaultRule
from simulator.resource_api import ResourceApi
from simulator.responses import RequestInfo, table_include, truthy
from simulator.selectors import field_matcher, label_matcher
from simulator.store import ObjectStore, WatchEvent

Obj = dict[str, Any]
DEFAULT_TIMEOUT = 1800.0
SILENT_POLL = 0.05
Matcher = Callable[[Obj], bool]


def _line(kind: str, obj: Obj) -> bytes:
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"


def _matcher(request: web.Request, info: RequestInfo, namespace: str | None) -> Matcher:
    labels = label_matcher(request.query.get("labelSelector"))
    fields = field_matcher(info.plural, request.query.get("fieldSelector"))

    def matches(obj: Obj) -> bool:
        if namespace is not None and obj["metadata"].get("namespace") != namespace:
            return False
        return labels(obj) and fields(obj)

    return matches


def _backlog(
    store: ObjectStore,
    request: web.Request,
    plural: str,
    namespace: str | None,
    matches: Matcher,
) -> tuple[list[tuple[str, Obj]], Obj | None]:
    """Events to send before live ones, or an `Expired` Status when the version is too old."""
    rv_text = request.query.get("resourceVersion", "")
    if not rv_text or rv_text == "0" or truthy(request.query.get("sendInitialEvents")):
        return [("ADDED", o) for o in store.copies(plural, namespace) if matches(o)], None
    try:
        since = int(rv_text)
    except ValueError:
        raise status.bad_request(f'invalid resource version "{rv_text}"') from None
    replay = store.events_since(plural, since)
    if replay is None:
        message = f"too old resource version: {since} ({store.oldest_replayable() + 1})"
        return [], status.gone(message).body()
    return [(e.type, e.obj) for e in replay if matches(e.obj)], None


async def watch(
    api: ResourceApi, request: web.Request, info: RequestInfo, drop: FaultRule | None
) -> web.StreamResponse:
    """Serve one watch request until timeout, client disconnect or an injected drop."""
    res = api.resource_type(info)
    store = api.world.store
    namespace = info.namespace if info.plural != "namespaces" else None
    matches = _matcher(request, info, namespace)
    backlog, expired = _backlog(store, request, info.plural, namespace, matches)
    queue: asyncio.Queue[WatchEvent] = asyncio.Queue()
    unsubscribe = store.subscribe(
        lambda ev: queue.put_nowait(ev) if ev.plural == info.plural else None
    )
    timeout = float(request.query.get("timeoutSeconds", DEFAULT_TIMEOUT) or DEFAULT_TIMEOUT)
    include = table_include(request)

    def shape(obj: Obj) -> Obj:
        """Objects as they are, or one-row Tables when the client watches in Table form."""
        if include is None:
            return obj
        meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
        return tables.table(info.plural, [obj], api.world.now, include, meta)

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
            if budget is not None and sent >= budget:
                break
            sent += await _send(response, kind, shape(obj))
        if truthy(request.query.get("sendInitialEvents")):
            mark = {
                "kind": res.kind,
                "apiVersion": res.api_version,
                "metadata": {
                    "resourceVersion": str(store.resource_version),
                    "annotations": {"k8s.io/initial-events-end": "true"},
                },
            }
            sent += await _send(response, "BOOKMARK", mark)
        deadline = asyncio.get_running_loop().time() + timeout
        while budget is None or sent < budget:
            left = deadline - asyncio.get_running_loop().time()
            try:
                event = await asyncio.wait_for(queue.get(), timeout=max(left, 0.0))
            except TimeoutError:
                with contextlib.suppress(ConnectionError):
                    await response.write_eof()
                return response
            if matches(event.obj):
                sent += await _send(response, event.type, shape(event.obj))
        if drop is not None:
            await _cut(request, response, drop, store)
    except ConnectionError:
        pass
    finally:
        unsubscribe()
    return response


async def _cut(request: web.Request, response: web.StreamResponse, rule: FaultRule,
               store: ObjectStore) -> None:
    """End the watch as the fault says: drop the connection, 410 Gone, or hang up never."""
    if rule.kind == "gone":
        message = f"too old resource version: {store.resource_version - 1}"
        await response.write(_line("ERROR", status.gone(message).body()))
        await response.write_eof()
        return
    if rule.kind == "silent":
        # A hung proxy: the connection stays open, nothing more comes, timeoutSeconds or not.
        # aiohttp has no "client went away" event for a handler: poll the transport.
        while request.transport is not None and not request.transport.is_closing():  # noqa: ASYNC110
            await asyncio.sleep(SILENT_POLL)
        return
    if request.transport is not None:
        request.transport.abort()


async def _send(response: web.StreamResponse, kind: str, obj: Obj) -> int:
    data = _line(kind, obj)
    await response.write(data)
    return len(data)
