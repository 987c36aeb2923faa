"""The supervisor restarts a crashed loop after a delay on the injected clock, doubling it with
each crash in a row up to the cap; a one-shot job is not repeated. Time is a ``ManualClock``:
the test advances it when the supervisor waits, and never sleeps."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from service.runtime.clock import ManualClock
from service.runtime.supervisor import Supervisor


class Crashy:
    """Crashes ``crashes`` times, then runs until cancelled; each start is signalled."""

    def __init__(self, crashes: int) -> None:
        self.crashes, self.runs = crashes, 0
        self.started = asyncio.Queue[int]()

    async def __call__(self) -> None:
        self.runs += 1
        self.started.put_nowait(self.runs)
        if self.runs <= self.crashes:
            raise RuntimeError("crash")
        await asyncio.Event().wait()


async def test_a_crashed_loop_is_restarted_after_doubling_delays_up_to_the_cap() -> None:
    clock = ManualClock()
    supervisor = Supervisor(clock=clock, restart_delay_s=10, max_restart_delay_s=25)
    loop = Crashy(crashes=3)
    start = clock.now()
    supervisor.spawn("crashy", loop)
    try:
        assert await loop.started.get() == 1
        waits = []
        for run in (2, 3, 4):
            deadline = await clock.sleeping()  # the only sleeper: the restart's delay
            waits.append((deadline - clock.now()).total_seconds())
            assert loop.runs == run - 1  # not restarted before its time
            clock.advance_to(deadline)
            assert await loop.started.get() == run
        assert waits == [10, 20, 25]  # doubled, then capped
        assert clock.now() - start == timedelta(seconds=55)
        assert supervisor.healthy()
    finally:
        await supervisor.stop()
    assert not supervisor.healthy()

