"""What the simulated apiserver is answering: requests in flight by verb, the most at once,
requests answered and the bytes sent by "verb resource", and the latest requests in order.
Tests observe a client's concurrency, progress and traffic here instead of timing it."""

from __future__ import annotations

import collections
import itertools
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


_KEPT = 100_000


@dataclass(frozen=True)
class Request:
    """One request received: its verb, resource and object name."""

    verb: str
    resource: str
    name: str | None


class Traffic:
    """Counters kept by the simulator's middleware for every API request."""

    def __init__(self) -> None:
        self.in_flight: collections.Counter[str] = collections.Counter()
        self.peak = 0
        self.served: collections.Counter[str] = collections.Counter()
        self.received: collections.Counter[str] = collections.Counter()  # served or still open
        self._sent: collections.Counter[str] = collections.Counter()
        self.requests: deque[Request] = deque(maxlen=_KEPT)  # the latest, in order
        self._open: dict[int, tuple[str, Callable[[], int]]] = {}
        self._tokens = itertools.count()

    def sent(self, verb: str, resource: str, size: int) -> None:
        """Count the bytes of an answer written after its handler returned (a plain body)."""
        self._sent[f"{verb} {resource}"] += size

    def bytes_sent(self) -> collections.Counter[str]:
        """Bytes sent so far by "verb resource", streams still open included."""
        total = collections.Counter(self._sent)
        for key, written in self._open.values():
            total[key] += written()
        return total

    async def count(self, verb: str, resource: str, answer: Awaitable[T],
                    written: Callable[[], int] | None = None, name: str | None = None) -> T:
        """Await the handler's ``answer``; ``written`` reads the bytes a stream has sent;
        ``name``: the object asked for (a pod whose log is read), kept in ``requests``."""
        key = f"{verb} {resource}"
        self.received[key] += 1
        self.requests.append(Request(verb, resource, name))
        token = next(self._tokens)
        if written is not None:
            self._open[token] = (key, written)
        self.in_flight[verb] += 1
        self.peak = max(self.peak, self.in_flight.total())
        try:
            result = await answer
        finally:
            self.in_flight[verb] -= 1
            if written is not None:
                del self._open[token]
                self._sent[key] += written()  # a stream's bytes (0 for a plain answer)
        self.served[key] += 1
        return result
