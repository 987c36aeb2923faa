"""The one retry policy of every adapter (kube, sinks): tenacity, classified errors, a deadline.

Adapters translate their failures into ``Retryable`` (5xx, 408, 429, connection errors,
timeouts) or ``Permanent`` (other 4xx, bad data); ``retrying()`` retries only the former, with
jittered exponential backoff, honouring a server's ``Retry-After`` (never sooner than it
asked), and gives up rather than sleep past the deadline: a wait the deadline cannot hold
ends the retries with the last error, for the caller to schedule later (the outbox does).
Waits and the deadline run on the caller's injected ``Clock``, so a test advances time
instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from service.runtime.clock import Clock

T = TypeVar("T")


class AdapterError(Exception):
    """A failure talking to something outside; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Retryable(AdapterError):
    """Worth another try: 5xx, 408, 429, connection errors, timeouts."""

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after_s = retry_after_s


class Permanent(AdapterError):
    """Another try gives the same answer: 4xx other than 408 and 429 (403 and 404 among them)."""


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


RETRYABLE_4XX = frozenset({
    408,  # Request Timeout: the server gave up waiting for the request; it may be repeated
    429,  # Too Many Requests: later, after its Retry-After
})


def classify_status(status: int, message: str, retry_after: str | None = None,
                    now: datetime | None = None) -> AdapterError:
    """The error class of an HTTP answer that was not a success (the one table of it).

    ``now``: when the answer came, to read a ``Retry-After`` HTTP date against.
    """
    if status in RETRYABLE_4XX or status >= 500:
        return Retryable(message, status=status,
                         retry_after_s=parse_retry_after(retry_after, now))
    return Permanent(message, status=status)


class _Wait:
    """Jittered exponential backoff (up to ``max_s``), or the server's Retry-After when it
    gave one, however long: retrying sooner than asked only earns another 429."""

    def __init__(self, initial_s: float, max_s: float) -> None:
        self._backoff = wait_exponential_jitter(multiplier=initial_s, max=max_s, jitter=initial_s)

    def __call__(self, state: RetryCallState) -> float:
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, Retryable) and exc.retry_after_s is not None:
            return max(exc.retry_after_s, 0.0)
        return float(self._backoff(state))


class _StopBeforeDeadline(stop_base):
    """Stop when the next wait would end past ``deadline_s`` from the first attempt, both read
    on ``clock`` (tenacity's own ``stop_before_delay`` reads the process's monotonic time)."""

    def __init__(self, clock: Clock, deadline_s: float) -> None:
        self._clock, self._deadline_s = clock, deadline_s
        self._start = clock.now()

    def __call__(self, state: RetryCallState) -> bool:
        elapsed = (self._clock.now() - self._start).total_seconds()
        return elapsed + (state.upcoming_sleep or 0.0) >= self._deadline_s


def retrying(*, clock: Clock, deadline_s: float, max_attempts: int = 8, initial_s: float = 0.2,
             max_wait_s: float = 10.0,
             retry_on: tuple[type[BaseException], ...] = (Retryable,),
             on_retry: Callable[[RetryCallState], None] | None = None) -> AsyncRetrying:
    """A tenacity controller for ``async for attempt in retrying(...): with attempt: ...``.

    ``retry_on``: what counts as worth another try, for an adapter whose driver raises its
    own classes (the PostgreSQL store: lost races and connections); ``Retryable`` otherwise.
    """
    return AsyncRetrying(
        retry=retry_if_exception_type(retry_on),
        wait=_Wait(initial_s, max_wait_s),
        stop=_StopBeforeDeadline(clock, deadline_s) | stop_after_attempt(max_attempts),
        sleep=clock.sleep,
        before_sleep=on_retry,
        reraise=True,
    )


async def call_with_retry(fn: Callable[[], Awaitable[T]], *, clock: Clock, deadline_s: float,
                          max_attempts: int = 8, initial_s: float = 0.2,
                          max_wait_s: float = 10.0) -> tuple[T, int]:
    """Run ``fn`` under the policy; returns its result and how many attempts it took."""
    attempts = 0
    async for attempt in retrying(clock=clock, deadline_s=deadline_s, max_attempts=max_attempts,
                                  initial_s=initial_s, max_wait_s=max_wait_s):
        with attempt:
            attempts += 1
            result = await fn()
    return result, attempts
