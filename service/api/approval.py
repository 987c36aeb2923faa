"""``POST /incidents/<id>/approve``: the Owner approves the pending kill switch."""

from __future__ import annotations

import structlog
from aiohttp import web

from service.api.auth import require_bearer
from service.api.errors import ApiError
from service.api.keys import RUNBOOK, SETTINGS
from service.domain.switch_record import NothingToApprove
from service.store.base import StaleUpdate

log = structlog.get_logger(__name__)


async def post_approve(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    require_bearer(request, settings.auth.owner_token, realm="owner")
    incident_id = request.match_info["incident_id"]
    runbook = request.app.get(RUNBOOK)
    if runbook is None:
        raise ApiError(503, "the runbook is not running (no cluster access); nothing can be "
                            "applied", headers={"Retry-After": "30"})
    try:
        incident = await runbook.approve(incident_id, settings.auth.owner_name)
    except KeyError:
        raise ApiError(404, f"no incident with id {incident_id[:80]!r}",
                       field="incident_id") from None
    except NothingToApprove as exc:
        raise ApiError(409, str(exc)) from None
    except StaleUpdate:
        raise ApiError(409, "the incident changed while approving; read it and retry") \
            from None
    log.info("mitigation_approved", incident_id=incident_id, approved_by=settings.auth.owner_name)
    return web.json_response({"status": "approved", "incident_id": incident_id,
                              "approved_by": settings.auth.owner_name,
                              "mitigation": incident.policy.mitigation.model_dump(mode="json")})
