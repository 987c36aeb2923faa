"""Injected time.

Everything that reads the time or waits takes a ``Clock``: production uses ``SystemClock``,
the demo a ``ScaledClock`` (simulated minutes pass in real seconds), tests a ``ManualClock``
they advance by hand, so a 30-minute threshold is tested in milliseconds.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol


class Clock(Protocol):
    """What the service needs of time: the current instant and a way to wait."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


# What a network retry waits on (kube requests and watches, database transactions): real
# time, as the request's own timeout, since it waits for a server, not for the incident's
# clock (a test's manual clock would hold it until the test moved time).
NETWORK_TIME = SystemClock()


class ScaledClock:
    """Time that runs ``speed`` times faster than the wall clock.

    ``now = start + (wall_time - anchor) * speed``: two processes given the same ``start``
    and ``anchor`` (wall-clock seconds) agree on the time, whenever each of them started; the
    demo and the end-to-end tests share one compressed time between the responder and the
    simulated cluster that way.
    """

    def __init__(self, speed: float, start: datetime | None = None,
                 anchor: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.anchor = time.time() if anchor is None else anchor
        self.start = start or datetime.fromtimestamp(self.anchor, UTC)

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self.anchor) * self.speed)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class ManualClock:
    """A clock that only moves when told to; sleepers wake when their time is reached.

    A test sees who waits: ``sleeping()`` and ``slept_until()`` return once a task sleeps on
    the clock, so it advances time when a loop is waiting, instead of sleeping itself.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 2, 26, 10, 0, tzinfo=UTC)
        self._changed = asyncio.Event()
        self._arrived = asyncio.Event()
        self._deadlines: Counter[datetime] = Counter()

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper so it can check its deadline."""
        self._now += timedelta(seconds=seconds)
        self._changed.set()
        self._changed = asyncio.Event()

    def advance_to(self, when: datetime) -> None:
        """Move time forward to ``when`` (never back)."""
        self.advance(max(0.0, (when - self._now).total_seconds()))

    def sleep(self, seconds: float) -> Coroutine[Any, Any, None]:
        # The deadline is taken at the call, not when the coroutine first runs: a task made
        # of it may start only after the clock was advanced.
        return self._sleep_until(self._now + timedelta(seconds=max(0.0, seconds)))

    async def sleeping(self) -> datetime:
        """Wait until a task sleeps on this clock past now; the earliest such deadline."""
        while True:
            ahead = [d for d in self._deadlines if d > self._now]
            if ahead:
                return min(ahead)
            await self._arrived.wait()

    async def slept_until(self, deadline: datetime) -> None:
        """Wait until a task sleeps on this clock until exactly ``deadline``."""
        while deadline not in self._deadlines:
            await self._arrived.wait()

    async def _sleep_until(self, deadline: datetime) -> None:
        self._deadlines[deadline] += 1
        arrived, self._arrived = self._arrived, asyncio.Event()
        arrived.set()
        try:
            while self._now < deadline:
                await self._changed.wait()
        finally:
            self._deadlines[deadline] -= 1
            if not self._deadlines[deadline]:
                del self._deadlines[deadline]
        # Yield once so a zero sleep still lets other tasks run, as asyncio.sleep(0) does.
        await asyncio.sleep(0)
