"""Credentials as Alertmanager's ``http_config`` and our clients send them.

Bearer tokens and basic-auth pairs are compared with ``hmac.compare_digest`` (constant time);
a missing or wrong credential is a 401 that never says which part was wrong.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from aiohttp import web
from pydantic import SecretStr

from service.api.errors import ApiError


def _same(given: str, expected: SecretStr) -> bool:
    return hmac.compare_digest(given.encode(), expected.get_secret_value().encode())


def _credentials(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if not value:
        return None
    return scheme.lower(), value.strip()


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
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            given_user, sep, given_password = decoded.partition(":")
            # Both compared always, so timing does not tell which one was wrong.
            user_ok = hmac.compare_digest(given_user.encode(), user.encode())
            ok = bool(sep) and _same(given_password, password) and user_ok
    if not ok:
        raise ApiError(401, "missing or invalid credentials",
                       headers={"WWW-Authenticate": 'Bearer realm="webhook"'})
