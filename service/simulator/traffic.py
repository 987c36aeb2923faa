"""What the simulated apiserver is answering: requests in flight by verb, the most at once, and
requests answered and the bytes of their bodies by "verb resource". Tests observe a client's
concurrency, progress and traffic here instead of timing it."""

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
        self.bytes_sent: collections.Counter[str] = collections.Counter()

    def sent(self, verb: str, resource: str, size: int) -> None:
        """Count the bytes of an answer's body (a stream's, once it ended)."""
        self.bytes_sent[f"{verb} {resource}"] += size

    async def count(self, verb: str, resource: str, answer: Awaitable[T]) -> T:
        self.in_flight[verb] += 1
        self.peak = max(self.peak, self.in_flight.total())
        try:
            result = await answer
        finally:
            self.in_flight[verb] -= 1
        self.served[f"{verb} {resource}"] += 1
        return result
