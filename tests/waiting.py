"""Waiting for a condition without a clock: the event loop turns until it holds.

Tests never sleep for a while and hope: they wait for what they need (an event, a sleeper on
the manual clock, a count going up). Where the only sign is a state to look at, ``until``
looks again after each turn of the event loop, bounded by a number of turns, not by time, so
a slow machine makes the wait longer, never the test flaky.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

# Generous: a turn is tens of microseconds when nothing is ready, and a condition that needs
# a database or a subprocess to answer may need many.
TURNS = 500_000


async def until(condition: Callable[[], bool | Awaitable[bool]], what: str, *,
                turns: int = TURNS) -> None:
    """Return once ``condition()`` (sync or async) is true; fail saying ``what`` did not
    happen within ``turns`` turns of the event loop."""
    for _ in range(turns):
        result = condition()
        if await result if inspect.isawaitable(result) else result:
            return
        await asyncio.sleep(0)  # one turn: every ready task and I/O callback runs
    raise AssertionError(f"{what}: not within {turns} turns of the event loop")


async def first(*waits: Coroutine[Any, Any, Any]) -> None:
    """Until the first of ``waits`` is done (the others are cancelled and awaited)."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
