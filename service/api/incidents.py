"""Read API: ``GET /incidents`` and ``GET /incidents/<id>`` (JSON, or HTML for browsers)."""

from __future__ import annotations

import re

from aiohttp import web

from service.api.auth import require_bearer
from service.api.errors import ApiError
from service.api.keys import SETTINGS, STORE
from service.api.page import render_incident
from service.domain.lifecycle import State

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


async def list_incidents(request: web.Request) -> web.Response:
    """A page of incidents, newest first; ``next_before`` pages on (keyset: no incident is
    skipped or shown twice while new ones arrive), null on the last page."""
    _authorize_read(request)
    state, limit, before = _query_state(request), _query_limit(request), _query_before(request)
    try:
        rows = await request.app[STORE].list_incidents(state, limit + 1, before)
    except KeyError:
        raise ApiError(404, f"before names no incident: {before!r}", field="before") from None
    more = len(rows) > limit
    rows = rows[:limit]
    return web.json_response({"incidents": [r.model_dump(mode="json") for r in rows],
                              "next_before": rows[-1].id if more else None})


def _wants_html(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "text/html" in accept and accept.find("text/html") < (
        accept.find("application/json") if "application/json" in accept else len(accept)
    )


async def get_incident(request: web.Request) -> web.Response:
    _authorize_read(request)
    incident_id = request.match_info["incident_id"]
    incident = await request.app[STORE].get_incident(incident_id)
    if incident is None:
        raise ApiError(404, f"no incident with id {incident_id[:80]!r}", field="incident_id")
    if _wants_html(request):
        return web.Response(text=render_incident(incident), content_type="text/html")
    return web.json_response(text=incident.model_dump_json())
