"""Operational endpoints without auth: liveness, readiness, metrics, the OpenAPI document.

Anyone can read them, so they answer fixed words; why a dependency is unavailable goes to the
log (redacted), never into the answer.
"""

from __future__ import annotations

import time
from importlib import resources

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.api.keys import KUBE_STATUS, METRICS, STORE, SUPERVISOR
from service.domain.lifecycle import State
from service.domain.redaction import redact
from service.store.base import StoreUnavailable

log = structlog.get_logger(__name__)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """``{"status": "ready"|"unready", "store", "workers", "kube"}``, each "ok" or a fixed
    word ("unavailable", "stopped", "starting"); 503 when the store or a worker is down."""
    store = "ok"
    try:
        await request.app[STORE].ping()
    except StoreUnavailable as exc:
        store = "unavailable"
        log.warning("readiness_store_unavailable", error=redact(str(exc)))
    workers = "ok" if request.app[SUPERVISOR].healthy() else "stopped"
    ready = store == "ok" and workers == "ok"
    # Without cluster access the intake still stores every alert: ready, with a warning.
    return web.json_response({"status": "ready" if ready else "unready", "store": store,
                              "workers": workers, "kube": request.app[KUBE_STATUS]},
                             status=200 if ready else 503)


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
