"""The collector plugin: one runbook diagnostic, and the registry that runs them all at once.

Purpose: a ``Collector[T]`` reads one part of the evidence (or of the watch's facts) over a
time ``Window``. It is built from its own settings section and knows nothing of the others or
of the root settings. ``Collectors`` maps typed ``Part`` keys to collectors and runs them all
concurrently, each through ``run_collector`` (its timeout, its attempts, never raises); the
``Outcomes`` are read back by the same typed keys, as ``web.AppKey`` does for an app.
Boundary: no Kubernetes knowledge; the ``KubeClient`` is passed through to the collectors.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, cast

from pydantic import BaseModel

from service.cluster.client import KubeClient
from service.domain.evidence import Collected
from service.runbook.diagnostics.outcome import run_collector

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class Window:
    """What a collector looks at: ``since`` to ``now`` (a snapshot collector ignores it)."""

    since: datetime
    now: datetime

    @property
    def since_seconds(self) -> int:
        """``--since`` as the API wants it: whole seconds, at least 1."""
        return max(1, math.ceil((self.now - self.since).total_seconds()))


@dataclass(frozen=True)
class Reading(Generic[T]):
    """One run of a collector: the work, and what it had when cut off (``partial``)."""

    work: Callable[[], Awaitable[T]]
    partial: Callable[[], T | None] | None = None


class Collector(Protocol[T]):
    """One runbook diagnostic. ``reading`` starts nothing: the registry awaits ``work``
    under the timeout. ``work`` may raise ``KubeError`` or ``Incomplete``; the outcome
    says so."""

    def reading(self, kube: KubeClient, window: Window) -> Reading[T]: ...


@dataclass(frozen=True)
class Part(Generic[T]):
    """A typed key: the part of the bundle (or of the facts) a collector fills."""

    name: str


async def collect(collector: Collector[T], kube: KubeClient, window: Window, *,
                  timeout_s: float) -> Collected[T]:
    """One collector's outcome within ``timeout_s`` (never raises)."""
    reading = collector.reading(kube, window)
    return await run_collector(reading.work, timeout_s=timeout_s, partial=reading.partial)


class Outcomes:
    """What a registry run gave, by part."""

    def __init__(self, got: dict[str, Collected[Any]]) -> None:
        self._got = got

    def __getitem__(self, part: Part[T]) -> Collected[T]:
        return cast(Collected[T], self._got[part.name])


class Collectors:
    """The registry: one collector per part, run all at once."""

    def __init__(self) -> None:
        self._entries: dict[str, Collector[Any]] = {}

    def register(self, part: Part[T], collector: Collector[T]) -> None:
        if part.name in self._entries:
            raise ValueError(f"a collector for {part.name!r} is registered already")
        self._entries[part.name] = collector

    def entries(self) -> list[tuple[str, Collector[Any]]]:
        """Each part's name and its collector, in registration order."""
        return list(self._entries.items())

    async def collect(self, kube: KubeClient, window: Window, *,
                      timeout_s: float) -> Outcomes:
        """Every part at once, each cut at ``timeout_s`` (so the whole is bounded by it)."""
        names = list(self._entries)
        done = await asyncio.gather(*(collect(self._entries[n], kube, window,
                                              timeout_s=timeout_s) for n in names))
        return Outcomes(dict(zip(names, done, strict=True)))
