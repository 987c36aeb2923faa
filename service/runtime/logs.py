"""structlog set-up: JSON lines when not on a terminal, readable console output otherwise.

Events are snake_case names with key/value fields; ``request_id`` and ``incident_id`` come from
contextvars. ``drop_secrets`` is the last line of defence: any field whose name says it holds a
secret is masked, whatever a caller passed. Libraries' stdlib ``logging`` records (aiohttp,
kubernetes_asyncio, asyncio) and Python's warnings go through structlog's
``ProcessorFormatter`` with the same processors, so in JSON mode every line the process writes
is one JSON object.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from aiohttp.http_exceptions import HttpProcessingError

_SECRET_KEY = re.compile(r"(token|password|secret|authorization|dsn|api_key|link_key|grant|cookie)",
                         re.I)


def drop_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Mask values of fields whose names mark them as secrets."""
    for key in list(event):
        if key != "event" and _SECRET_KEY.search(key):
            event[key] = "[REDACTED]"
    return event


def _shared() -> list[Any]:
    """What every event gets, ours and the libraries' alike."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        drop_secrets,
    ]


class _LibraryHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours, to be told apart from handlers others put on the root logger (pytest's)."""


def _library_handler(renderer: Any) -> logging.Handler:
    """A stderr handler that renders stdlib records as structlog renders its own events."""
    handler = _LibraryHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *_shared()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, renderer],
    ))
    return handler


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
        processors=[*_shared(), structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        # Called once per process, before any event: a logger may keep its configuration.
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _LibraryHandler)]:
        root.removeHandler(old)  # configured again (tests, the demo): one handler, not two
    root.addHandler(_library_handler(renderer))
    # Libraries speak at warning and above unless debugging: their info is chatter.
    root.setLevel(max(numeric, logging.WARNING))
    logging.captureWarnings(True)  # a DeprecationWarning is a log line too, not raw text
    logging.getLogger("aiohttp.server").addFilter(_malformed_request_filter)  # idempotent
    sys.excepthook = _log_uncaught


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


def _log_uncaught(kind: type[BaseException], value: BaseException, trace: Any) -> None:
    """A crash's traceback as one event, not raw lines (a KeyboardInterrupt stays quiet)."""
    if issubclass(kind, KeyboardInterrupt):
        return
    structlog.get_logger("service").critical("process_crashed", exc_info=(kind, value, trace))
