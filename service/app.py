"""``create_app(settings)``: the one place that wires the service together.

Shared resources (store, supervisor of background loops) live in ``cleanup_ctx`` under typed
``web.AppKey``s, so they open before the first request and close after the last.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from service.api import incidents, ops, webhook
from service.api.errors import error_middleware
from service.api.keys import CLOCK, METRICS, SETTINGS, STORE, SUPERVISOR, WORK
from service.clock import Clock, SystemClock
from service.domain.incidents import IdentityRules
from service.metrics import Metrics
from service.settings import Settings
from service.store.base import Store
from service.store.sqlite import SqliteStore
from service.supervisor import Supervisor
from service.workqueue import WorkQueue


def build_store(settings: Settings) -> Store:
    """The configured store backend."""
    inc = settings.incidents
    rules = IdentityRules(
        default_namespace=inc.default_namespace, namespace_label=inc.namespace_label,
        signature_label=inc.signature_label, job_kind_label=inc.job_kind_label,
        alert_signatures={name: sig.name for sig in settings.diagnostics.signatures
                          for name in sig.alertnames},
    )
    if settings.store.backend == "postgres":
        raise NotImplementedError("the PostgreSQL backend is not built yet")
    return SqliteStore(
        settings.store.sqlite_path, rules=rules, related_issue=inc.related_issue,
        batch_max=settings.store.batch_max, timeout_s=settings.store.timeout_s,
    )


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    store = app[STORE]
    await store.open()
    yield
    await store.close()


async def _supervisor_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[SUPERVISOR].stop(app[SETTINGS].server.shutdown_timeout_s)


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    """Build the aiohttp application for ``settings`` (no I/O until it starts)."""
    app = web.Application(
        client_max_size=settings.server.max_body_bytes, middlewares=[error_middleware]
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock()
    app[METRICS] = Metrics()
    app[STORE] = build_store(settings)
    app[SUPERVISOR] = Supervisor()
    app[WORK] = WorkQueue()
    # Order matters: the store opens first and closes last, after the loops stopped.
    app.cleanup_ctx.append(_store_ctx)
    app.cleanup_ctx.append(_supervisor_ctx)
    app.router.add_post("/webhook", webhook.post_webhook)
    app.router.add_get("/incidents", incidents.list_incidents)
    app.router.add_get("/incidents/{incident_id}", incidents.get_incident)
    app.router.add_get("/healthz", ops.healthz)
    app.router.add_get("/readyz", ops.readyz)
    app.router.add_get("/metrics", ops.metrics)
    app.router.add_get("/openapi.json", ops.openapi)
    return app
