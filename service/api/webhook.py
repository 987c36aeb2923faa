"""``POST /webhook``: Alertmanager intake.

Authenticate, validate, persist, answer: 200 only once the store has committed the
notification; 4xx (no retry) for the client's mistakes, with a message naming the field;
503 when the store cannot commit, so Alertmanager retries. Nothing else happens inline:
investigation is handed to background work after the commit.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from aiohttp import web
from pydantic import ValidationError

from service.api.auth import require_webhook_auth
from service.api.errors import ApiError, error_response
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
    """Intake; every outcome is logged once and counted in ``aislot_webhooks_total``, so a
    notification Alertmanager gives up on (4xx) or retries (5xx) is never silent."""
    metrics = request.app[METRICS]
    try:
        return await _intake(request)
    except ApiError as exc:
        outcome = "store_unavailable" if exc.status_code == 503 else f"rejected_{exc.status_code}"
        metrics.webhooks.labels(outcome=outcome).inc()
        if exc.status_code != 503:  # the store's failure was logged where it happened
            log.warning("webhook_rejected", status=exc.status_code, reason=exc.message,
                        body_bytes=request.content_length)
        raise
    except web.HTTPRequestEntityTooLarge:
        # The whole group is lost: Alertmanager does not retry a 4xx. Say how big it was.
        limit = request.app[SETTINGS].server.max_body_bytes
        size = request.content_length  # None when chunked: then only "over the limit" is known
        metrics.webhooks.labels(outcome="rejected_413").inc()
        metrics.webhook_body_bytes.observe(size or limit + 1)
        log.error("webhook_rejected", status=413, reason="body over the limit",
                  body_bytes=size, limit_bytes=limit)
        raise ApiError(413, f"body of {size if size is not None else 'more than ' + str(limit)} "
                            f"bytes is over the limit of {limit} bytes (server.max_body_bytes)",
                       field="(body)") from None
    except ConnectionResetError:  # the sender went away mid-upload; it retries, if it lives
        metrics.webhooks.labels(outcome="aborted").inc()
        log.info("webhook_aborted", body_bytes=request.content_length)
        return error_response(400, "the client closed the connection before its body ended")
    except web.HTTPException as exc:  # aiohttp's own answer, e.g. a malformed chunked body
        metrics.webhooks.labels(outcome=f"rejected_{exc.status_code}").inc()
        log.warning("webhook_rejected", status=exc.status_code, reason=exc.reason)
        raise
    except Exception:
        metrics.webhooks.labels(outcome="failed").inc()
        log.exception("webhook_failed", status=500, body_bytes=request.content_length)
        raise ApiError(500, "internal error; see the service log",
                       request_id=structlog.contextvars.get_contextvars().get("request_id")
                       ) from None


async def _intake(request: web.Request) -> web.Response:
    app = request.app
    settings, metrics = app[SETTINGS], app[METRICS]
    auth = settings.auth
    require_webhook_auth(request, auth.webhook_token, auth.webhook_basic_user,
                         auth.webhook_basic_password)
    notification, body = await _parse(request, settings.server.body_timeout_s)
    metrics.webhook_body_bytes.observe(len(body))
    started = time.perf_counter()
    try:
        result = await app[STORE].ingest(notification, body, app[CLOCK].now())
    except StoreUnavailable as exc:
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
             incidents=result.incidents, opened=result.opened, body_bytes=len(body))
    if result.incidents:
        app[WORK].incidents_changed(result.incidents)
    return web.json_response({
        "status": "stored",
        "notification_id": result.notification_id,
        "redelivery": result.redelivery,
        "incidents": result.incidents,
        "alerts": [{"action": p.action, "incident_id": p.incident_id} for p in result.plans],
    })


async def _parse(request: web.Request, body_timeout_s: float) -> tuple[Notification, bytes]:
    if request.content_type != "application/json":
        raise ApiError(415, f"content type must be application/json, got "
                            f"{request.content_type or 'none'}")
    try:
        async with asyncio.timeout(body_timeout_s):  # a slow sender holds no connection forever
            body = await request.read()
    except TimeoutError:
        raise ApiError(408, f"body not received whole within {body_timeout_s:g}s "
                            "(server.body_timeout_s)", field="(body)") from None
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
