"""JSON errors: every failure the API answers is ``{"error": {"status", "message", ...}}``.

A client's mistake becomes a 4xx with a message saying what and where; a store that cannot
answer now becomes 503 with ``Retry-After``; anything unexpected is logged with the request id
and answered 500 without internals. A client's ``X-Request-Id`` is used only when it is a short
plain token (it goes into every log line and back to the client); otherwise one is made.
"""

from __future__ import annotations

import functools
import itertools
import re
import secrets
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from service.domain.redaction import redact
from service.store.base import StoreUnavailable

log = structlog.get_logger(__name__)

# Request ids: a random per-process prefix and a counter. Unique across restarts and replicas
# without a system call per request (uuid4 reads the kernel's random source each time).
_ID_COUNTER = itertools.count(1)
_CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
STORE_RETRY_AFTER_S = 5


@functools.cache
def _id_prefix() -> str:
    return secrets.token_hex(4)


def new_request_id() -> str:
    return f"{_id_prefix()}{next(_ID_COUNTER):08x}"


def request_id_for(request: web.Request) -> str:
    """The client's ``X-Request-Id`` when it is ``[A-Za-z0-9._-]{1,64}``, else a new one."""
    given = request.headers.get("X-Request-Id", "")
    return given if _CLIENT_ID.fullmatch(given) else new_request_id()


def error_response(status: int, message: str, **extra: Any) -> web.Response:
    body = {"error": {"status": status, "message": message, **extra}}
    return web.json_response(body, status=status)


class ApiError(web.HTTPException):
    """An HTTP error carrying a JSON body."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        self.status_code = status
        super().__init__(headers=headers)
        self.message = message
        self.extra = extra


def _keep_headers(response: web.Response, exc: web.HTTPException) -> web.Response:
    """The exception's own headers (Allow, WWW-Authenticate, Retry-After) on the JSON answer."""
    for name, value in exc.headers.items():
        if name.lower() not in ("content-type", "content-length"):
            response.headers[name] = value
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind a request id, turn every error into JSON, and never leak a traceback."""
    request_id = request_id_for(request)
    structlog.contextvars.bind_contextvars(request_id=request_id)
    try:
        response = await handler(request)
    except ApiError as exc:
        response = _keep_headers(error_response(exc.status_code, exc.message, **exc.extra), exc)
    except web.HTTPException as exc:
        if exc.status_code < 400:
            raise
        # aiohttp's own answers carry headers that are part of them (405: Allow).
        response = _keep_headers(error_response(exc.status_code, exc.text or exc.reason), exc)
    except ConnectionResetError:  # the client went away: nobody reads this answer
        log.info("request_aborted", path=request.path, method=request.method)
        response = error_response(400, "the client closed the connection")
    except StoreUnavailable as exc:  # a read handler's store is down: retry, not a bug
        log.error("request_store_unavailable", path=request.path, error=redact(str(exc)))
        response = error_response(503, "the store cannot answer right now; retry later")
        response.headers["Retry-After"] = str(STORE_RETRY_AFTER_S)
    except Exception:
        log.exception("request_failed", path=request.path, method=request.method)
        response = error_response(500, "internal error; see the service log", request_id=request_id)
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    response.headers["X-Request-Id"] = request_id
    return response
