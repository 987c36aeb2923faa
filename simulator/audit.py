"""The audit log of write requests the simulated apiserver received.

Purpose: let tests and the demo see exactly what a client changed: method, path, query,
patch type, parsed body, response code, user and the simulated and wall-clock time.
Boundary: in-memory, append-only, bounded.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from pydantic import BaseModel

from simulator.clock import rfc3339

PATCH_TYPES = {
    "application/strategic-merge-patch+json": "strategic",
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/apply-patch+yaml": "apply",
}


class AuditEntry(BaseModel):
    """One write request."""

    time: str
    sim_time: float
    wall_time: float
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    patch_type: str | None
    body: Any
    status: int
    user: str


class AuditLog:
    """Append-only list of write requests."""

    def __init__(self, cap: int = 10_000) -> None:
        self._entries: deque[AuditEntry] = deque(maxlen=cap)

    def record(
        self,
        sim_time: float,
        method: str,
        path: str,
        *,
        query: dict[str, str],
        content_type: str,
        body: Any,
        status: int,
        user: str,
    ) -> AuditEntry:
        media = content_type.split(";", maxsplit=1)[0].strip().lower()
        entry = AuditEntry(
            time=rfc3339(sim_time),
            sim_time=sim_time,
            wall_time=time.time(),
            method=method,
            path=path,
            query=query,
            content_type=media,
            patch_type=PATCH_TYPES.get(media) if method == "PATCH" else None,
            body=body,
            status=status,
            user=user,
        )
        self._entries.append(entry)
        return entry

    def entries(self) -> list[AuditEntry]:
        return list(self._entries)

    def clear(self) -> None:
        self._entries.clear()
