"""The shared retry policy: what is retried, how long it waits, when it gives up.

Time is injected: the script is the policy's clock, each wait it is asked for is recorded and
moves its time on at once, so no test waits and the deadline is read off that clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.runtime.retry import (
    Permanent,
    Retryable,
    call_with_retry,
    classify_status,
    parse_retry_after,
)


class Script:
    """Fails with the given errors in order, then answers "ok"; as the policy's clock, it
    records each wait and moves its time on by it."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.waits: list[float] = []
        self.time = datetime(2026, 11, 29, 9, 0, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.time

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.time += timedelta(seconds=seconds)


async def test_5xx_429_and_timeouts_are_retried_until_success() -> None:
    script = Script(classify_status(503, "unavailable"), classify_status(429, "slow down"),
                    Retryable("timed out"))
    result, attempts = await call_with_retry(script, deadline_s=30, clock=script)
    assert (result, attempts) == ("ok", 4)
    assert len(script.waits) == 3 and all(0 < w <= 10 for w in script.waits)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
async def test_other_4xx_are_not_retried(status: int) -> None:
    script = Script(classify_status(status, "no"))
    with pytest.raises(Permanent):
        await call_with_retry(script, deadline_s=30, clock=script)
    assert script.calls == 1 and script.waits == []


async def test_retry_after_is_honoured_even_above_the_backoff_cap() -> None:
    script = Script(classify_status(429, "slow down", retry_after="15"))
    await call_with_retry(script, deadline_s=60, max_wait_s=10, clock=script)
    assert script.waits == [15.0]  # not cut to 10 s: sooner would only earn another 429


async def test_a_wait_past_the_deadline_ends_the_retries_with_the_error() -> None:
    script = Script(classify_status(429, "slow down", retry_after="30"))
    with pytest.raises(Retryable) as caught:
        await call_with_retry(script, deadline_s=10, clock=script)
    assert caught.value.retry_after_s == 30.0  # the caller can schedule the later try
    assert script.calls == 1 and script.waits == []


async def test_the_deadline_counts_the_waits_already_taken_on_the_clock() -> None:
    script = Script(*[classify_status(503, "down", retry_after="4")] * 5)
    with pytest.raises(Retryable):
        await call_with_retry(script, deadline_s=10, clock=script)
    assert script.waits == [4.0, 4.0] and script.calls == 3  # a third wait would end at 12 s


async def test_attempts_are_bounded() -> None:
    script = Script(*[Retryable("down")] * 10)
    with pytest.raises(Retryable):
        await call_with_retry(script, deadline_s=3600, max_attempts=3, clock=script)
    assert script.calls == 3 and len(script.waits) == 2


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 29, 9, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Sun, 29 Nov 2026 09:00:45 GMT", now) == 45.0
    assert parse_retry_after("Sun, 29 Nov 2026 08:00:00 GMT", now) == 0.0  # already past
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
