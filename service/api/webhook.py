"""``POST /webhook``: Alertmanager intake.

Authenticate, validate, persist, answer: 200 only once the store has committed the
notification; 4xx (no retry) for the client's mistakes, with a message naming the field;
503 when the store cannot commit, so Alertmanager retries. Nothing else happens inline:
investigation is handed to background work after the commit.
"""

from __future__ import annotations

import time

import structlog
from aiohttp import web
from pydantic import ValidationError

from service.api.auth import require_webhook_auth
from service.api.errors import ApiError
from service.api.keys import CLOCK, METRICS, SETTINGS, STORE, WORK
from service.domain.alerts import Notification
from service.store.base import StoreUnavailable

log = structlog.get_logger(__name__)


def describe_validation(exc: ValidationError) -> tuple[str, str]:
    """The first error as (field path, message), e.g. ('alerts.0.startsAt', '...')."""
    err = exc.errors(include_url=False)[0]
    path = ".".join(str(p) for p in err["loc"]) or "(body)"
    return path, str(err["msg"])


async def post_webhook(request: web.Request) -> web.Response:
    app = request.app
    settings, metrics = app[SETTINGS], app[METRICS]
    try:
        auth = settings.auth
        require_webhook_auth(request, auth.webhook_token, auth.webhook_basic_user,
                             auth.webhook_basic_password)
        notification, body = await _parse(request)
    except ApiError as exc:
        metrics.webhooks.labels(outcome=f"rejected_{exc.status_code}").inc()
        log.info("webhook_rejected", status=exc.status_code, reason=exc.message)
        raise
    started = time.perf_counter()
    try:
        result = await app[STORE].ingest(notification, body, app[CLOCK].now())
    except StoreUnavailable as exc:
        metrics.webhooks.labels(outcome="store_unavailable").inc()
        log.error("webhook_store_unavailable", error=str(exc))
        raise ApiError(503, "the store cannot commit right now; retry later",
                       headers={"Retry-After": "5"}) from exc
    finally:
        metrics.store_seconds.labels(op="ingest").observe(time.perf_counter() - started)
    for plan in result.plans:
        metrics.alerts.labels(action=plan.action).inc()
    if notification.truncatedAlerts and not result.redelivery:  # counted once, when stored
        metrics.truncated_alerts.inc(notification.truncatedAlerts)
        log.warning("webhook_group_truncated", group_key=notification.groupKey,
                    truncated_alerts=notification.truncatedAlerts)
    metrics.webhooks.labels(outcome="redelivery" if result.redelivery else "stored").inc()
    log.info("webhook_stored", notification_id=result.notification_id,
             redelivery=result.redelivery, alerts=len(notification.alerts),
             incidents=result.incidents, opened=result.opened)
    if result.incidents:
        app[WORK].incidents_changed(result.incidents)
    return web.json_response({
        "status": "stored",
        "notification_id": result.notification_id,
        "redelivery": result.redelivery,
        "incidents": result.incidents,
        "alerts": [{"action": p.action, "incident_id": p.incident_id} for p in result.plans],
    })


async def _parse(request: web.Request) -> tuple[Notification, bytes]:
    if request.content_type != "application/json":
        raise ApiError(415, f"content type must be application/json, got "
                            f"{request.content_type or 'none'}")
    body = await request.read()
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"body is not valid UTF-8 (byte {exc.start})", field="(body)") from exc
    try:
        notification = Notification.model_validate_json(body)
    except ValidationError as exc:
        field, message = describe_validation(exc)
        raise ApiError(400, f"invalid Alertmanager payload at {field}: {message}",
                       field=field) from exc
    return notification, body
