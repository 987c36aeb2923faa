"""Read API: ``GET /incidents`` and ``GET /incidents/<id>``: JSON, or HTML for browsers.

The answer's type follows ``Accept`` (q-values honoured, ``Vary: Accept``). The list needs the
read or Owner token; one incident also opens with the grant its message's link carries
(``service.api.access``).
"""

from __future__ import annotations

import json
import re

from aiohttp import web
from aiohttp.typedefs import Handler

from service.api.access import incident_access
from service.api.auth import require_bearer
from service.api.errors import ApiError
from service.api.headers import HTML, JSON, negotiated, preferred_type
from service.api.keys import CLOCK, SETTINGS, STORE
from service.api.page import render_error, render_incident, render_list, stylesheet
from service.config.wording import runbook_text
from service.domain.lifecycle import State
from service.runbook.pipeline import policy_config

MAX_LIMIT = 500
# An incident id's characters (service.domain.incidents.new_incident_id), with room to spare.
_INCIDENT_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def _authorize_read(request: web.Request) -> None:
    auth = request.app[SETTINGS].auth
    require_bearer(request, auth.read_token, auth.owner_token, realm="incidents")


def _query_limit(request: web.Request) -> int:
    raw = request.query.get("limit", "50")
    try:
        limit = int(raw)
    except ValueError:
        raise ApiError(400, f"limit must be an integer, got {raw[:40]!r}", field="limit") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


def _query_state(request: web.Request) -> State | None:
    raw = request.query.get("state")
    if raw is None:
        return None
    try:
        return State(raw)
    except ValueError:
        allowed = ", ".join(s.value for s in State)
        raise ApiError(400, f"state must be one of {allowed}", field="state") from None


def _query_before(request: web.Request) -> str | None:
    raw = request.query.get("before")
    if raw is None:
        return None
    if not _INCIDENT_ID.fullmatch(raw):
        raise ApiError(400, "before must be an incident id, as next_before gives it",
                       field="before")
    return raw


async def list_incidents(request: web.Request) -> web.StreamResponse:
    """A page of incidents, newest first; ``next_before`` pages on (keyset: no incident is
    skipped or shown twice while new ones arrive), null on the last page."""
    _authorize_read(request)
    kind = preferred_type(request)
    state, limit, before = _query_state(request), _query_limit(request), _query_before(request)
    try:
        rows = await request.app[STORE].list_incidents(state, limit + 1, before)
    except KeyError:
        raise ApiError(404, f"before names no incident: {before!r}", field="before") from None
    more = len(rows) > limit
    rows = rows[:limit]
    next_before = rows[-1].id if more else None
    if kind == HTML:
        page = render_list(rows, now=request.app[CLOCK].now(), state=state,
                           limit=limit, before=before, next_before=next_before)
        return negotiated(web.Response(text=page, content_type=HTML))
    return negotiated(web.json_response(
        {"incidents": [r.model_dump(mode="json") for r in rows], "next_before": next_before}))


async def get_incident(request: web.Request) -> web.StreamResponse:
    incident_id = request.match_info["incident_id"]
    access = incident_access(request, incident_id)
    kind = preferred_type(request)
    incident = await request.app[STORE].get_incident(incident_id)
    if incident is None:
        raise ApiError(404, f"no incident with id {incident_id[:80]!r}", field="incident_id")
    if kind == HTML:
        settings = request.app[SETTINGS]
        page = render_incident(incident, now=request.app[CLOCK].now(),
                               config=policy_config(settings), text=runbook_text(settings),
                               owner_name=settings.auth.owner_name, access=access)
        return negotiated(web.Response(text=page, content_type=HTML))
    return negotiated(web.json_response(text=incident.model_dump_json()))


async def get_stylesheet(request: web.Request) -> web.Response:
    """The pages' stylesheet: public, cacheable (it holds no incident data)."""
    return web.Response(text=stylesheet(), content_type="text/css",
                        headers={"Cache-Control": "public, max-age=3600"})


@web.middleware
async def browser_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An error on the incident pages, for a browser, as a page saying the same thing (an
    expired link reads as one); status and headers stay, API clients keep the JSON."""
    response = await handler(request)
    if (response.status < 400 or not request.path.startswith("/incidents")
            or not isinstance(response, web.Response) or response.content_type != JSON
            or not _prefers_html(request)):
        return response
    try:
        error = json.loads(response.text or "")["error"]
        message = str(error["message"])
    except (ValueError, KeyError, TypeError):
        return response
    page = render_error(response.status, message, now=request.app[CLOCK].now(),
                        request_id=response.headers.get("X-Request-Id"))
    answer = web.Response(status=response.status, text=page, content_type=HTML)
    for name, value in response.headers.items():
        if name.lower() not in {"content-type", "content-length"}:
            answer.headers[name] = value
    return negotiated(answer)


def _prefers_html(request: web.Request) -> bool:
    try:
        return preferred_type(request) == HTML
    except web.HTTPException:  # an unusable Accept: keep the JSON error
        return False
