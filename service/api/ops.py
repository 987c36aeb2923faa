"""Operational endpoints without auth: liveness, readiness, metrics, the OpenAPI document."""

from __future__ import annotations

import time
from importlib import resources

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.api.keys import KUBE_STATUS, METRICS, STORE, SUPERVISOR
from service.domain.lifecycle import State
from service.store.base import StoreUnavailable


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    problems = []
    try:
        await request.app[STORE].ping()
    except StoreUnavailable as exc:
        problems.append(f"store: {exc}")
    if not request.app[SUPERVISOR].healthy():
        problems.append("background workers are not all running")
    kube = request.app[KUBE_STATUS]
    if problems:
        return web.json_response({"status": "unready", "problems": problems, "kube": kube},
                                 status=503)
    # Without cluster access the intake still stores every alert: ready, with a warning.
    return web.json_response({"status": "ready", "kube": kube})


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[METRICS]
    started = time.perf_counter()
    try:
        counts = await request.app[STORE].count_by_state()
    except StoreUnavailable:
        counts = None
    registry.store_seconds.labels(op="count").observe(time.perf_counter() - started)
    if counts is not None:
        for state in State:
            registry.incidents.labels(state=state.value).set(counts.get(state.value, 0))
    body = generate_latest(registry.registry)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


def openapi_text() -> str:
    return (resources.files("service.api") / "openapi.json").read_text(encoding="utf-8")


async def openapi(request: web.Request) -> web.Response:
    return web.Response(text=openapi_text(), content_type="application/json")
