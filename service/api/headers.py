"""Response headers every answer carries, and content negotiation for the incident routes.

Purpose: one middleware sets the security headers on every answer, JSON and HTML, errors
included (a page reached through a link that carries a grant must not leak it through a
``Referer``, be framed, or run a script); ``preferred_type`` picks JSON or HTML from
``Accept`` with its q-values. Boundary: headers only; handlers decide what to answer.
"""

from __future__ import annotations

import mimeparse
from aiohttp import web
from aiohttp.typedefs import Handler

from service.api.errors import ApiError

# No script at all (the page works without one); styles only from the service itself; forms
# post only back to it; never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
HTML, JSON = "text/html", "application/json"
# In order of increasing preference: a tie (``*/*``, no Accept at all) answers JSON.
_OFFERED = [HTML, JSON]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Add the security headers; ``no-store`` unless the handler chose a cache policy."""
    response = await handler(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def preferred_type(request: web.Request) -> str:
    """``text/html`` or ``application/json``, whichever ``Accept`` prefers (q-values
    honoured; JSON on a tie or without ``Accept``); 406 when it accepts neither."""
    accept = request.headers.get("Accept", "").strip()
    if not accept:
        return JSON
    try:
        chosen: str = mimeparse.best_match(_OFFERED, accept)
    except (ValueError, IndexError):  # MimeTypeParseException is a ValueError
        raise ApiError(400, "the Accept header is not a list of media ranges",
                       field="Accept") from None
    if not chosen:
        raise ApiError(406, f"this resource is available as {JSON} or {HTML}; Accept "
                            f"allows neither", field="Accept")
    return chosen


def negotiated(response: web.StreamResponse) -> web.StreamResponse:
    """Mark an answer that depends on ``Accept`` (caches keep one copy per type)."""
    response.headers["Vary"] = "Accept"
    return response
