"""``create_app(settings)``: the one place that wires the service together.

Shared resources (store, HTTP session, kube client, sinks, background loops) live in
``cleanup_ctx`` under typed ``web.AppKey``s: they open before the first request and close after
the last, in reverse order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import structlog
from aiohttp import web

from service.api import approval, incidents, ops, webhook
from service.api.errors import error_middleware
from service.api.grants import GrantSigner
from service.api.headers import security_headers
from service.api.keys import (
    CLOCK,
    GRANTS,
    HTTP,
    KUBE_STATUS,
    METRICS,
    RUNBOOK,
    SETTINGS,
    STORE,
    SUPERVISOR,
    WORK,
)
from service.api.page import STATIC_URL
from service.cluster.client import KubeClient
from service.cluster.errors import KubeConfigError
from service.config.settings import Settings
from service.config.wording import runbook_text
from service.domain.incidents import IdentityRules
from service.domain.redaction import redact
from service.notify.notifier import Notifier
from service.notify.outbox import OutboxWorker
from service.notify.routing import SinkRegistry
from service.notify.sinks.transport import Http
from service.runbook.mitigator import Mitigator
from service.runbook.observer import BlindObserver, ClusterObserver, Observer, ViewObserver
from service.runbook.pipeline import Runbook
from service.runbook.view import NamespaceView
from service.runtime.clock import Clock, ScaledClock, SystemClock
from service.runtime.metrics import Metrics
from service.runtime.supervisor import Supervisor
from service.runtime.workqueue import WorkQueue
from service.store.base import Store, StoreUnavailable
from service.store.sqlite import SqliteStore

log = structlog.get_logger(__name__)


def identity_rules(settings: Settings) -> IdentityRules:
    inc = settings.incidents
    return IdentityRules(
        default_namespace=inc.default_namespace, namespace_label=inc.namespace_label,
        signature_label=inc.signature_label, job_kind_label=inc.job_kind_label,
        alert_signatures={name: sig.name for sig in settings.diagnostics.signatures
                          for name in sig.alertnames},
    )


def build_store(settings: Settings) -> Store:
    """The configured store backend."""
    if settings.store.backend == "postgres":
        from service.store.postgres import PostgresStore

        assert settings.store.postgres_dsn is not None
        return PostgresStore(settings.store.postgres_dsn.get_secret_value(),
                             rules=identity_rules(settings),
                             related_issue=settings.incidents.related_issue,
                             timeout_s=settings.store.timeout_s,
                             pool_size=settings.store.postgres_pool_size,
                             claim_lease_s=settings.store.claim_lease_s,
                             migrate_timeout_s=settings.store.postgres_migrate_timeout_s)
    return SqliteStore(
        settings.store.sqlite_path, rules=identity_rules(settings),
        related_issue=settings.incidents.related_issue,
        batch_max=settings.store.batch_max, timeout_s=settings.store.timeout_s,
        busy_timeout_ms=settings.store.sqlite_busy_timeout_ms,
        claim_lease_s=settings.store.claim_lease_s,
    )


def build_clock(settings: Settings) -> Clock:
    run = settings.runtime
    if run.time_scale == 1.0 and run.time_origin is None:
        return SystemClock()
    return ScaledClock(run.time_scale, start=run.time_origin, anchor=run.time_anchor)


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    store = app[STORE]
    await store.open()
    yield
    await store.close()


async def _http_ctx(app: web.Application) -> AsyncIterator[None]:
    app[HTTP] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    yield
    await app[HTTP].close()


async def _workers_ctx(app: web.Application) -> AsyncIterator[None]:
    """The kube client, the sinks and the background loops that use them."""
    settings, supervisor = app[SETTINGS], app[SUPERVISOR]
    registry = SinkRegistry.from_settings(settings.sinks, Http(app[HTTP], app[CLOCK]))
    metrics = app[METRICS]
    outbox = OutboxWorker(
        app[STORE], registry, app[CLOCK], policy=settings.outbox,
        record=lambda sink, outcome: metrics.deliveries.labels(sink=sink,
                                                               outcome=outcome).inc(),
        link=app[GRANTS].for_message if GRANTS in app else None)
    notifier = Notifier(route=lambda m: registry.sinks_for(m.event, m.audience),
                        wake_outbox=outbox.wake, text=runbook_text(settings),
                        public_url=settings.server.public_url,
                        rollback_plan=settings.escalation.rollback_plan)
    kube: KubeClient | None = None
    view: NamespaceView | None = None
    observer: Observer
    mitigator: Mitigator | None = None
    try:
        kube = await KubeClient.from_settings(settings.kube)
    except KubeConfigError as exc:  # a missing kubeconfig must not stop the intake
        app[KUBE_STATUS] = "unavailable"  # /readyz is public: the reason goes to the log
        reason = redact(str(exc))
        log.error("kube_unavailable", error=reason)
        # Blind, not silent: each incident is investigated, and on-call is told at once.
        observer = BlindObserver(reason, settings, app[CLOCK])
    else:
        app[KUBE_STATUS] = "ok"
        if settings.kube.observe == "watch":
            # Logs from as far back as the evidence reads them: an incident open before a
            # restart is watched as if there had been none.
            view = NamespaceView(kube, settings, app[CLOCK], log_since=app[CLOCK].now()
                                 - timedelta(seconds=settings.diagnostics.log_window_s))
            observer = ViewObserver(view, kube, settings, app[CLOCK])
        else:
            observer = ClusterObserver(kube, settings, app[CLOCK])
        mitigator = Mitigator(settings=settings, store=app[STORE], kube=kube, metrics=metrics,
                              notifier=notifier)
    runbook = Runbook(settings=settings, store=app[STORE], observer=observer,
                      mitigator=mitigator, clock=app[CLOCK], work=app[WORK], notifier=notifier,
                      metrics=metrics)
    app[RUNBOOK] = runbook

    async def lead_then_run() -> None:
        # Replicas sharing a database elect one to run the loops and to send: the others
        # take webhooks and serve the API (the leader hears of their incidents as they
        # commit). One sender means a delivery's claim never runs out under a slow drain
        # while another replica takes it and sends it again.
        while not await app[STORE].lead():
            await app[CLOCK].sleep(settings.escalation.monitor_interval_s)
        log.info("runbook_leader")
        supervisor.spawn("outbox", outbox.run)
        try:
            await app[STORE].follow_changes(app[WORK].incidents_changed)
        except StoreUnavailable as exc:  # the watch pass still finds them, later
            log.warning("incident_changes_unfollowed", error=str(exc))
        if view is not None:
            supervisor.spawn("view", view.run)
        supervisor.spawn("investigations", runbook.run_investigations)
        supervisor.spawn("watch", runbook.run_watch)

    supervisor.spawn_once("leadership", lead_then_run)
    yield
    await supervisor.stop(settings.server.shutdown_timeout_s)
    if kube is not None:
        await kube.close()


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    """Build the aiohttp application for ``settings`` (no I/O until it starts)."""
    app = web.Application(
        client_max_size=settings.server.max_body_bytes,
        middlewares=[security_headers, incidents.browser_errors, error_middleware],
        # aiohttp closes a connection still waiting for a request head after its keep-alive
        # timeout (armed from the connection's start): that is the head's read timeout. The
        # body's is in service.api.webhook (server.body_timeout_s).
        handler_args={"keepalive_timeout": settings.server.request_head_timeout_s},
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock or build_clock(settings)
    if settings.auth.link_key is not None:
        app[GRANTS] = GrantSigner(settings.auth.link_key, ttl_s=settings.auth.link_ttl_s,
                                  clock=app[CLOCK])
    app[METRICS] = Metrics(settings.server.max_body_bytes)
    app[METRICS].precreate(settings.incidents.default_namespace,
                           [s.name for s in settings.diagnostics.signatures])
    app[STORE] = build_store(settings)
    app[SUPERVISOR] = Supervisor(
        clock=app[CLOCK], restart_delay_s=settings.server.task_restart_delay_s,
        max_restart_delay_s=settings.server.task_restart_delay_max_s)
    app[WORK] = WorkQueue()
    app[KUBE_STATUS] = "starting"
    # Order matters: the store opens first and closes last, after the loops stopped.
    app.cleanup_ctx.append(_store_ctx)
    app.cleanup_ctx.append(_http_ctx)
    app.cleanup_ctx.append(_workers_ctx)
    app.router.add_post("/webhook", webhook.post_webhook)
    app.router.add_get("/incidents", incidents.list_incidents)
    app.router.add_get("/incidents/{incident_id}", incidents.get_incident)
    app.router.add_post("/incidents/{incident_id}/approve", approval.post_approve)
    app.router.add_get(STATIC_URL, incidents.get_stylesheet)
    app.router.add_get("/healthz", ops.healthz)
    app.router.add_get("/readyz", ops.readyz)
    app.router.add_get("/metrics", ops.metrics)
    app.router.add_get("/openapi.json", ops.openapi)
    return app
