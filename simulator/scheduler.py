"""A discrete-event agenda: things the world will do at given simulated instants.

Purpose: the world advances by running due actions in time order (ties in insertion order),
so moving a test clock by an hour replays exactly what an hour of real time would have done.
Boundary: no clock of its own; `run_until` is told the target instant.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

Action = Callable[[], None]


class Agenda:
    """A priority queue of (time, action)."""

    def __init__(self, start: float) -> None:
        self._heap: list[tuple[float, int, Action]] = []
        self._seq = itertools.count()
        self.now = start

    def at(self, ts: float, action: Action) -> None:
        """Run `action` at `ts` (or at the next step if `ts` is already past)."""
        heapq.heappush(self._heap, (max(ts, self.now), next(self._seq), action))

    def after(self, delay: float, action: Action) -> None:
        self.at(self.now + delay, action)

    def run_until(self, target: float) -> int:
        """Run every action due at or before `target`; `now` ends at `target`."""
        ran = 0
        while self._heap and self._heap[0][0] <= target:
            ts, _, action = heapq.heappop(self._heap)
            self.now = max(self.now, ts)
            action()
            ran += 1
        self.now = max(self.now, target)
        return ran

    def next_at(self) -> float | None:
        """When the next action is due (None: nothing planned)."""
        return self._heap[0][0] if self._heap else None

    def pending(self) -> int:
        return len(self._heap)
