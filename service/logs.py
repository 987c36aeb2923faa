"""structlog set-up: JSON lines when not on a terminal, readable console output otherwise.

Events are snake_case names with key/value fields; ``request_id`` and ``incident_id`` come from
contextvars. ``drop_secrets`` is the last line of defence: any field whose name says it holds a
secret is masked, whatever a caller passed.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from aiohttp.http_exceptions import HttpProcessingError

_SECRET_KEY = re.compile(r"(token|password|secret|authorization|dsn|api_key|cookie)", re.I)


def drop_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Mask values of fields whose names mark them as secrets."""
    for key in list(event):
        if key != "event" and _SECRET_KEY.search(key):
            event[key] = "[REDACTED]"
    return event


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    """Configure structlog (and stdlib logging that libraries use) for the whole process."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    numeric = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            drop_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        # Called once per process, before any event: a logger may keep its configuration.
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr,
                        format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("aiohttp.server").addFilter(_malformed_request_filter)


def _malformed_request_filter(record: logging.LogRecord) -> bool:
    """aiohttp logs a request it cannot parse (a NUL in a header, a broken request line) at
    error level with a traceback, though it is the client's mistake, answered 400: make it
    one info line (the parser's first line of explanation) and drop the record."""
    exc = record.exc_info[1] if record.exc_info else None
    if not isinstance(exc, HttpProcessingError):
        return True
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    structlog.get_logger("aiohttp.server").info("request_malformed", error=message[:200])
    return False
