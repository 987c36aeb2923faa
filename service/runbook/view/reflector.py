"""List+watch of one collection into an in-memory cache, as a Kubernetes reflector does.

Purpose: list the collection, then watch from the list's resourceVersion with bookmarks; apply
each ADDED/MODIFIED/DELETED to a dict by name; re-watch from the last resourceVersion when the
server ends the watch (``timeoutSeconds``) or the connection drops or goes silent; list again on
410 Gone (an answer or an ERROR event). Reconnections go through the shared tenacity policy
(``service.runtime.retry``), forever: the view is a supervised background task. A failure to list
or to
reconnect opens a gap for the part; a read clears it.
Boundary: reads through ``KubeClient``; what the objects mean is ``service.runbook.diagnostics``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

from tenacity import RetryCallState

from service.cluster.client import KubeClient
from service.cluster.errors import Json, KubeError, KubeRetryable, KubeStreamBroken
from service.cluster.objects import items, name_of
from service.config.settings import KubeSettings
from service.domain.facts import GapPart
from service.runbook.view.gaps import GapBook
from service.runtime.clock import NETWORK_TIME, Clock
from service.runtime.retry import retrying

Notify = Callable[[], None]


class _Expired(Exception):
    """410 Gone: the resourceVersion is too old to watch from; list again."""


class Reflector:
    """The cached objects of one collection (``items`` by name) kept current."""

    def __init__(self, kube: KubeClient, resource: str, group: str, *, part: GapPart,
                 gaps: GapBook, clock: Clock, settings: KubeSettings, notify: Notify) -> None:
        self.resource, self.group, self.part = resource, group, part
        self.items: dict[str, dict[str, Any]] = {}
        self.synced = False  # listed at least once
        self.resource_version: str | None = None
        self.lists = self.watches = 0
        self._kube, self._gaps, self._clock = kube, gaps, clock
        self._settings, self._notify = settings, notify
        self._started = clock.now()

    async def run(self) -> None:
        """List and watch until cancelled; never raises anything else."""
        while True:
            controller = retrying(clock=NETWORK_TIME, deadline_s=math.inf, max_attempts=sys.maxsize,
                                  retry_on=(KubeError,), max_wait_s=self._settings.watch_silence_s,
                                  on_retry=self._failed)
            async for attempt in controller:
                with attempt:
                    await self._cycle()

    def _failed(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        # A stream cut after its answer is a reconnection, not a part we cannot read.
        if (exc is not None and not isinstance(exc, KubeStreamBroken)
                and self._gaps.fail(self.part, exc, self._started)):
            self._notify()

    def _fine(self) -> None:
        if self._gaps.clear(self.part):
            self._notify()

    async def _cycle(self) -> None:
        """One list (when needed) and one watch; returns to be called again at once."""
        self._started = self._clock.now()
        if self._gaps.has(self.part):
            # after a failure, list: a quiet watch would say nothing of being back for minutes
            self.resource_version = None
        if self.resource_version is None:
            self.lists += 1
            self._replace(await self._kube.list_collection(self.resource, self.group))
            self._fine()
        await self._watch()

    async def _watch(self) -> None:
        self.watches += 1
        progressed = False
        try:
            async for event in self._kube.watch(
                    self.resource, self.group, timeout_s=self._settings.watch_timeout_s,
                    resource_version=self.resource_version, bookmarks=True,
                    silence_s=self._settings.watch_silence_s):
                self._apply(event)
                progressed = True
                self._fine()
        except _Expired:
            self.resource_version = None
            return
        except KubeError as exc:
            if exc.status != 410:
                raise
            self.resource_version = None  # 410 as the answer itself, not as an event
            return
        except KubeStreamBroken:
            if not progressed:
                raise  # back off: it broke before giving anything
            return
        self._fine()  # the server ended the watch at its timeout: fine, watch again

    def _replace(self, listing: Json) -> None:
        fresh = {name_of(obj): obj for obj in items(listing)}
        before = {name: _rv(obj) for name, obj in self.items.items()}
        self.items = fresh
        self.resource_version = str((listing.get("metadata") or {}).get("resourceVersion") or "")
        if not self.resource_version:
            self.resource_version = None
        first, self.synced = not self.synced, True
        if first or before != {name: _rv(obj) for name, obj in fresh.items()}:
            self._notify()

    def _apply(self, event: Json) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise _Expired
            raise KubeRetryable(f"watch {self.resource}: {obj.get('message') or obj}",
                                status=obj.get("code"))
        version = _rv(obj)
        if kind == "BOOKMARK":
            self.resource_version = version or self.resource_version
            return
        if kind == "DELETED":
            self.items.pop(name_of(obj), None)
        elif kind in ("ADDED", "MODIFIED"):
            self.items[name_of(obj)] = obj
        else:
            return
        self.resource_version = version or self.resource_version
        self._notify()


def _rv(obj: Json) -> str | None:
    value = (obj.get("metadata") or {}).get("resourceVersion")
    return str(value) if value is not None else None
