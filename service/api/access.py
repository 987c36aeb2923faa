"""Who may read or approve one incident: a bearer token, or the grant a message's link carries.

Purpose: the HTTP side of ``service.api.grants``. ``incident_access`` lets a request read one
incident with the read or Owner token (``Authorization: Bearer``, as before) or with a valid
grant for that incident in the ``grant`` query parameter; ``approval_access`` lets it approve
with the Owner token or an ``owner`` grant (query or form field, from the page's form). A
grant opens nothing else: not the list, not another incident. A wrong, altered or expired
grant is a 401. Boundary: authorization only; the grant is never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from service.api.auth import require_bearer
from service.api.errors import ApiError
from service.api.grants import GRANT_PARAM, Scope
from service.api.keys import GRANTS, SETTINGS

Via = Literal["token", "grant"]


@dataclass(frozen=True)
class Access:
    """How a request may see an incident: by token, or by a grant of ``scope``."""

    via: Via
    scope: Scope
    grant: str | None = None  # the grant itself, to carry on in the page's links and form


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": 'Bearer realm="incidents"'})


def _check_grant(request: web.Request, grant: str, incident_id: str) -> Access:
    signer = request.app.get(GRANTS)
    if signer is None:
        raise _unauthorized("links with grants are not enabled here (no auth.link_key); "
                            "use the read token")
    verdict = signer.verify(grant, incident_id)
    if verdict.scope is None:
        if verdict.problem == "expired":
            raise _unauthorized("this link has expired; open the incident from a newer "
                                "message or use the read token")
        raise _unauthorized("this link's grant is not valid for this incident")
    return Access("grant", verdict.scope, grant)


def incident_access(request: web.Request, incident_id: str) -> Access:
    """Read access to ``incident_id``: the read/Owner token, else a grant for it; 401 else."""
    auth = request.app[SETTINGS].auth
    grant = request.query.get(GRANT_PARAM)
    if grant is not None and "Authorization" not in request.headers:
        return _check_grant(request, grant, incident_id)
    require_bearer(request, auth.read_token, auth.owner_token, realm="incidents")
    owner = auth.owner_token is not None and _is_owner(request)
    return Access("token", "owner" if owner else "read")


def _is_owner(request: web.Request) -> bool:
    try:
        require_bearer(request, request.app[SETTINGS].auth.owner_token, realm="owner")
    except ApiError:
        return False
    return True


def approval_access(request: web.Request, incident_id: str, form_grant: str | None) -> Access:
    """The Owner's token, or an ``owner`` grant for ``incident_id`` (form field or query)."""
    grant = form_grant if form_grant is not None else request.query.get(GRANT_PARAM)
    if grant is not None and "Authorization" not in request.headers:
        access = _check_grant(request, grant, incident_id)
        if access.scope != "owner":
            raise _unauthorized("this link lets you read the incident, not approve; the "
                                "Owner approves from the approval request's link")
        return access
    require_bearer(request, request.app[SETTINGS].auth.owner_token, realm="owner")
    return Access("token", "owner")
