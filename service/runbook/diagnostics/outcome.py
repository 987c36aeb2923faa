"""How a collector's work becomes a ``Collected`` outcome that never raises.

Purpose: run one collector's coroutine under its timeout, count its API attempts, and turn
whatever happened into ``ok | forbidden | error | timeout`` with its data: RBAC denials carry the
grant hint, a timeout keeps the partial data the collector had, and any unexpected exception is
an ``error`` (a bug in one collector must not cost the whole bundle).
Boundary: no Kubernetes knowledge beyond the adapter's error classes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from pydantic import BaseModel

from service.cluster.errors import KubeError, KubeForbidden
from service.cluster.scope import metering
from service.domain.evidence import Collected, CollectorStatus
from service.domain.redaction import Redactor

T = TypeVar("T", bound=BaseModel)
_ERROR_CHARS = 300
_REDACTOR = Redactor()


class Incomplete(Exception, Generic[T]):
    """Raised by a collector that has data but also a failure (a forbidden log tail...)."""

    def __init__(self, data: T, cause: Exception) -> None:
        super().__init__(str(cause))
        self.data = data
        self.cause = cause


def _text(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return _REDACTOR.redact(text)[:_ERROR_CHARS]


def _failed(exc: Exception) -> tuple[CollectorStatus, str | None]:
    if isinstance(exc, KubeForbidden):
        return CollectorStatus.FORBIDDEN, exc.hint
    if isinstance(exc, TimeoutError):
        return CollectorStatus.TIMEOUT, None
    return CollectorStatus.ERROR, None


async def run_collector(
    work: Callable[[], Awaitable[T]],
    *,
    timeout_s: float,
    partial: Callable[[], T | None] | None = None,
) -> Collected[T]:
    """Await ``work()`` within ``timeout_s``; ``partial()`` gives what a cut-off run had."""
    started = time.monotonic()
    data: T | None = None
    status, hint, error = CollectorStatus.OK, None, None
    with metering() as meter:
        try:
            async with asyncio.timeout(timeout_s):
                data = await work()
        except Incomplete as exc:
            data = exc.data
            status, hint = _failed(exc.cause)
            error = _text(exc.cause)
        except TimeoutError:
            status, error = CollectorStatus.TIMEOUT, f"no answer within {timeout_s:g}s"
            data = partial() if partial is not None else None
        except KubeError as exc:
            status, hint = _failed(exc)
            error = _text(exc)
            data = partial() if partial is not None else None
        except Exception as exc:  # never raise: the bundle must still come
            status, error = CollectorStatus.ERROR, f"{type(exc).__name__}: {_text(exc)}"
    return Collected[T](
        status=status,
        data=data,
        duration_s=round(time.monotonic() - started, 3),
        attempts=max(1, meter.most),
        error=error,
        hint=hint,
    )
