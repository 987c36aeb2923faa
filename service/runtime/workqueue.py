"""Hand-off from the webhook to background work: which incidents changed.

The webhook only records ids here after its commit; the worker loops drain them. Losing this
in-memory set on a crash loses nothing: the store holds the incidents, and the loops rescan
open incidents at start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


class WorkQueue:
    """A set of incident ids with a wake-up signal (coalesces bursts of the same id)."""

    def __init__(self) -> None:
        self._ids: dict[str, None] = {}
        self._ready = asyncio.Event()

    def incidents_changed(self, incident_ids: Iterable[str]) -> None:
        for incident_id in incident_ids:
            self._ids[incident_id] = None
        if self._ids:
            self._ready.set()

    async def take(self) -> list[str]:
        """Wait until something changed, then return (and forget) the changed ids in order."""
        await self._ready.wait()
        ids = list(self._ids)
        self._ids.clear()
        self._ready.clear()
        return ids
