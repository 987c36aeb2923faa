"""Credentials as Alertmanager's ``http_config`` and our clients send them.

The ``Authorization`` header is read strictly: ``<scheme> <credential>`` where the credential
is an RFC 6750 b64token (ASCII letters, digits and ``-._~+/``, then ``=`` padding). Anything
else (a non-ASCII byte, Unicode whitespace, an empty credential) is no credential, so a 401,
never a 500. Bearer tokens and basic-auth pairs are compared as bytes with
``hmac.compare_digest`` (constant time); a missing or wrong credential is a 401 that never says
which part was wrong.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re

from aiohttp import web
from pydantic import SecretStr

from service.api.errors import ApiError

# RFC 6750 section 2.1 (also RFC 7235's token68). re's ASCII classes: no Unicode slips in.
_CREDENTIAL = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def _same(given: bytes, expected: SecretStr) -> bool:
    return hmac.compare_digest(given, expected.get_secret_value().encode())


def _credentials(request: web.Request) -> tuple[str, bytes] | None:
    """(scheme in lower case, credential bytes), or None when absent or malformed."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.lstrip(" ")  # RFC 7235: 1*SP; only ASCII space, nothing Unicode calls blank
    if not _CREDENTIAL.fullmatch(value):
        return None
    return scheme.lower(), value.encode("ascii")


def require_bearer(request: web.Request, *tokens: SecretStr | None, realm: str) -> None:
    """Pass when the bearer token equals one of ``tokens``; 401 otherwise."""
    creds = _credentials(request)
    if creds is not None and creds[0] == "bearer":
        for token in tokens:
            if token is not None and _same(creds[1], token):
                return
    raise ApiError(401, "missing or invalid bearer token",
                   headers={"WWW-Authenticate": f'Bearer realm="{realm}"'})


def require_webhook_auth(
    request: web.Request, token: SecretStr | None, user: str | None, password: SecretStr | None
) -> None:
    """Accept Alertmanager's bearer token or basic auth, whichever is configured."""
    creds = _credentials(request)
    ok = False
    if creds is not None:
        scheme, value = creds
        if scheme == "bearer" and token is not None:
            ok = _same(value, token)
        elif scheme == "basic" and user is not None and password is not None:
            try:
                decoded = base64.b64decode(value, validate=True)
            except binascii.Error:
                decoded = b""
            given_user, sep, given_password = decoded.partition(b":")
            # Both compared always, so timing does not tell which one was wrong.
            user_ok = hmac.compare_digest(given_user, user.encode())
            ok = bool(sep) and _same(given_password, password) and user_ok
    if not ok:
        raise ApiError(401, "missing or invalid credentials",
                       headers={"WWW-Authenticate": 'Bearer realm="webhook"'})
