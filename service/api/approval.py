"""``POST /incidents/<id>/approve``: the Owner approves the pending kill switch.

With the Owner token (API, JSON answer), or from the incident page's form with the Owner's
grant (the approval request's link carries it): then the answer is a 303 back to the page.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

import structlog
from aiohttp import web

from service.api.access import approval_access
from service.api.errors import ApiError
from service.api.grants import GRANT_PARAM
from service.api.keys import RUNBOOK, SETTINGS
from service.domain.switch_record import NothingToApprove
from service.store.base import StaleUpdate

log = structlog.get_logger(__name__)


_FORM = "application/x-www-form-urlencoded"


async def post_approve(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    incident_id = request.match_info["incident_id"]
    from_page = request.content_type == _FORM
    form_grant = None
    if from_page:
        form = await request.post()
        field = form.get(GRANT_PARAM)
        form_grant = field if isinstance(field, str) else None
    access = approval_access(request, incident_id, form_grant)
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
    log.info("mitigation_approved", incident_id=incident_id, approved_by=settings.auth.owner_name,
             via=access.via)
    if from_page:
        query = f"?{urlencode({GRANT_PARAM: access.grant})}" if access.grant else ""
        return web.Response(status=303,
                            headers={"Location": f"/incidents/{quote(incident_id)}{query}"})
    return web.json_response({"status": "approved", "incident_id": incident_id,
                              "approved_by": settings.auth.owner_name,
                              "mitigation": incident.policy.mitigation.model_dump(mode="json")})
