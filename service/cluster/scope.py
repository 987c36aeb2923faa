"""Scopes of Kubernetes calls, per task: how hard they had to try, and which GETs they share.

``metering()`` gives a collector an ``AttemptMeter`` that every ``KubeClient`` call made in its
task (and the tasks it starts) adds to; ``sharing_reads()`` lets concurrent collectors share
one request for an identical GET. ``service.cluster.client`` reads both through ``current_meter()``
and
``shared_reads()``. Boundary: context only; no I/O here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from service.cluster.errors import Json


# -- attempts --------------------------------------------------------------------------------
@dataclass
class AttemptMeter:
    """API calls made and attempts spent by one task (a collector)."""

    calls: int = 0
    attempts: int = 0
    most: int = 0  # the most attempts any one call needed

    def record(self, attempts: int) -> None:
        self.calls += 1
        self.attempts += attempts
        self.most = max(self.most, attempts)


_METER: ContextVar[AttemptMeter | None] = ContextVar("kube_attempt_meter", default=None)


def current_meter() -> AttemptMeter | None:
    return _METER.get()


@contextlib.contextmanager
def metering() -> Iterator[AttemptMeter]:
    """Count the attempts of the calls made inside the block (this task and its children)."""
    meter = AttemptMeter()
    token = _METER.set(meter)
    try:
        yield meter
    finally:
        _METER.reset(token)


# -- shared reads ----------------------------------------------------------------------------
_SHARED: ContextVar[dict[tuple[str, str], asyncio.Future[Json]] | None] = ContextVar(
    "kube_shared_reads", default=None)


def shared_reads() -> dict[tuple[str, str], asyncio.Future[Json]] | None:
    """The requests shared in this scope, by (path, query); None outside ``sharing_reads``."""
    return _SHARED.get()


@contextlib.contextmanager
def sharing_reads() -> Iterator[None]:
    """Inside the block (and the tasks it starts), identical GETs share one request.

    Concurrent collectors ask for the same pod list or Deployment; the API server gets asked
    once. The shared dicts must be treated as read-only.
    """
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)
