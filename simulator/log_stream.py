"""`GET .../pods/{name}/log`: container logs streamed in chunks.

Purpose: validate PodLogOptions like the apiserver and kubelet do (`container`, `previous`,
`sinceSeconds` xor `sinceTime`, `tailLines`, `limitBytes`, waiting containers), then stream the
pod's lines between its container start and now (or its end) with chunked transfer, lazily, so
a gigabyte log never sits in memory; `timestamps=true` prefixes RFC3339Nano times; `follow=true`
keeps streaming as simulated time passes; a `drop` fault cuts the connection mid-stream.
Boundary: reads the world; the line content comes from the logbook.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from simulator import status
from simulator.clock import parse_time
from simulator.faults import FaultRule
from simulator.logbook import HugeSource, LineSource, LogOptions, LogSource, limited
from simulator.responses import RequestInfo, truthy
from simulator.status import ApiError
from simulator.world import World

Obj = dict[str, Any]
FOLLOW_POLL = 0.2


def _invalid(pod: str, field: str, detail: str) -> ApiError:
    return ApiError(
        422,
        "Invalid",
        f'PodLogOptions "{pod}" is invalid: {field}: {detail}',
        {
            "name": pod,
            "kind": "PodLogOptions",
            "causes": [{"reason": "FieldValueInvalid", "message": detail, "field": field}],
        },
    )


def _int(query: Any, key: str) -> int | None:
    raw = query.get(key)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise status.bad_request(f'strconv.ParseInt: parsing "{raw}": invalid syntax') from exc


def _bounds(pod: Obj, container: str, now: float) -> tuple[float, float]:
    name = pod["metadata"]["name"]
    cs = next(
        (c for c in pod.get("status", {}).get("containerStatuses", []) if c["name"] == container),
        None,
    )
    state = (cs or {}).get("state", {})
    if "running" in state:
        return parse_time(state["running"]["startedAt"]), now
    if "terminated" in state:
        term = state["terminated"]
        return parse_time(term["startedAt"]), parse_time(term["finishedAt"])
    reason = state.get("waiting", {}).get("reason", "ContainerCreating")
    raise status.bad_request(
        f'container "{container}" in pod "{name}" is waiting to start: {reason}'
    )


def prepare(
    world: World, huge: int | None, pod: Obj, query: Any
) -> tuple[LogSource, float, float, LogOptions]:
    """Validate the request; returns the source, its window and the options."""
    name = pod["metadata"]["name"]
    names = [c["name"] for c in pod["spec"]["containers"]]
    container = query.get("container") or ""
    if not container:
        if len(names) > 1:
            raise status.bad_request(
                f"a container name must be specified for pod {name}, "
                f"choose one of: [{' '.join(names)}]"
            )
        container = names[0]
    elif container not in names:
        raise status.bad_request(f"container {container} is not valid for pod {name}")
    since_seconds = _int(query, "sinceSeconds")
    since_time = query.get("sinceTime")
    tail = _int(query, "tailLines")
    limit = _int(query, "limitBytes")
    if since_seconds is not None and since_time:
        raise _invalid(
            name,
            "sinceSeconds",
            "Forbidden: at most one of sinceTime or sinceSeconds may be specified",
        )
    if since_seconds is not None and since_seconds < 1:
        raise _invalid(
            name, "sinceSeconds", f"Invalid value: {since_seconds}: must be greater than 0"
        )
    if tail is not None and tail < 0:
        raise _invalid(
            name, "tailLines", f"Invalid value: {tail}: must be greater than or equal to 0"
        )
    if limit is not None and limit < 1:
        raise _invalid(name, "limitBytes", f"Invalid value: {limit}: must be greater than 0")
    if truthy(query.get("previous")):
        raise status.bad_request(
            f'previous terminated container "{container}" in pod "{name}" not found'
        )
    lo, hi = _bounds(pod, container, world.now)
    since: float | None = None
    if since_seconds is not None:
        since = world.now - since_seconds
    elif since_time:
        try:
            since = parse_time(since_time)
        except ValueError as exc:
            raise status.bad_request(f"parsing time {since_time!r}: {exc}") from exc
    opts = LogOptions(
        since=since,
        tail=tail,
        timestamps=truthy(query.get("timestamps")),
        limit_bytes=limit,
    )
    source: LogSource = HugeSource(huge, lo) if huge else world.log_source(pod)
    return source, max(lo, since) if since is not None else lo, hi, opts


async def stream_log(
    world: World, request: web.Request, info: RequestInfo, huge: int | None, drop: FaultRule | None
) -> web.StreamResponse:
    assert info.name is not None
    pod = (
        world.store.get("pods", info.namespace or "", info.name)
        if info.namespace == world.namespace
        else None
    )
    if pod is None:
        raise status.not_found("pods", "", info.name)
    source, lo, hi, opts = prepare(world, huge, pod, request.query)
    response = web.StreamResponse(status=200)
    response.content_type = "text/plain"
    response.enable_chunked_encoding()
    await response.prepare(request)
    budget = _Budget(request, drop.after_bytes if drop is not None else None)
    try:
        for chunk in limited(source.render(lo, hi, opts), opts.limit_bytes):
            if not await budget.write(response, chunk):
                return response
        if truthy(request.query.get("follow")) and isinstance(source, LineSource):
            await _follow(
                world, request, response, source=source, last=hi, opts=opts, name=info.name,
                budget=budget,
            )
        await response.write_eof()
    except ConnectionError:
        pass
    return response


class _Budget:
    """What a `drop` fault lets through before the connection is cut (mid-line, as it goes)."""

    def __init__(self, request: web.Request, left: int | None) -> None:
        self.request = request
        self.left = left

    async def write(self, response: web.StreamResponse, chunk: bytes) -> bool:
        """Send `chunk`, or what is left of the budget and cut; False once cut."""
        if self.left is not None and len(chunk) > self.left:
            await response.write(chunk[: self.left])
            if self.request.transport is not None:
                self.request.transport.abort()
            return False
        await response.write(chunk)
        if self.left is not None:
            self.left -= len(chunk)
        return True


async def _follow(
    world: World,
    request: web.Request,
    response: web.StreamResponse,
    *,
    source: LineSource,
    last: float,
    opts: LogOptions,
    name: str,
    budget: _Budget,
) -> None:
    """Keep sending new lines until the pod ends or goes away, the client hangs up or a `drop`
    fault's budget is spent."""
    plain = LogOptions(timestamps=opts.timestamps)
    while request.transport is not None and not request.transport.is_closing():
        await world.moved(FOLLOW_POLL)  # a manual clock moves on advance; a real one, anyway
        now = world.sync()
        for chunk in source.render(last + 1e-6, now, plain):
            if not await budget.write(response, chunk):
                return
        last = now
        pod = world.store.peek("pods", world.namespace, name)
        if pod is None or pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return
