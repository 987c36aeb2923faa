"""What the simulated apiserver is answering: requests in flight by verb, the most at once, and
requests answered by "verb resource". Tests observe a client's concurrency and progress here
instead of timing it."""

from __future__ import annotations

import collections
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


class Traffic:
    """Counters kept by the simulator's middleware for every API request."""

    def __init__(self) -> None:
        self.in_flight: collections.Counter[str] = collections.Counter()
        self.peak = 0
        self.served: collections.Counter[str] = collections.Counter()

    async def count(self, verb: str, resource: str, answer: Awaitable[T]) -> T:
        self.in_flight[verb] += 1
        self.peak = max(self.peak, self.in_flight.total())
        try:
            result = await answer
        finally:
            self.in_flight[verb] -= 1
        self.served[f"{verb} {resource}"] += 1
        return result
