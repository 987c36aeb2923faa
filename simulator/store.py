"""The object store: every API object of the simulated namespace, with resourceVersions.

Purpose: hold objects by (resource, namespace, name), stamp each write with a new global
`resourceVersion` like etcd would, keep a bounded history of watch events so a watch can resume
from a resourceVersion, and notify subscribers (watch streams) of every change.
Boundary: synchronous and in-memory; it knows nothing about HTTP, time or the platform.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class WatchEvent:
    """One change: `type` is ADDED, MODIFIED or DELETED; `obj` is a snapshot."""

    rv: int
    plural: str
    type: str
    obj: Obj


Listener = Callable[[WatchEvent], None]


class ObjectStore:
    """Objects keyed by resource plural, namespace and name."""

    def __init__(self, history: int = 5000) -> None:
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {}
        self._rv = 1000
        self._history: deque[WatchEvent] = deque(maxlen=history)
        self._listeners: list[Listener] = []

    @property
    def resource_version(self) -> int:
        return self._rv

    def oldest_replayable(self) -> int:
        """Lowest resourceVersion a watch may resume from."""
        return self._history[0].rv - 1 if len(self._history) == self._history.maxlen else 0

    def get(self, plural: str, namespace: str, name: str) -> Obj | None:
        """A deep copy of the stored object, or None."""
        obj = self._objects.get(plural, {}).get((namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def peek(self, plural: str, namespace: str, name: str) -> Obj | None:
        """The stored object itself (for the world's controllers; do not keep it)."""
        return self._objects.get(plural, {}).get((namespace, name))

    def items(self, plural: str, namespace: str | None = None) -> list[Obj]:
        """Stored objects (not copies) sorted by namespace and name, as etcd keys sort."""
        bucket = self._objects.get(plural, {})
        keys = sorted(k for k in bucket if namespace is None or k[0] == namespace)
        return [bucket[k] for k in keys]

    def copies(self, plural: str, namespace: str | None = None) -> list[Obj]:
        """Deep copies of `items`."""
        return [copy.deepcopy(o) for o in self.items(plural, namespace)]

    def _key(self, obj: Obj) -> tuple[str, str]:
        meta = obj["metadata"]
        return (meta.get("namespace", ""), meta["name"])

    def _emit(self, plural: str, kind: str, obj: Obj) -> None:
        event = WatchEvent(self._rv, plural, kind, copy.deepcopy(obj))
        self._history.append(event)
        for listener in list(self._listeners):
            listener(event)

    def create(self, plural: str, obj: Obj) -> Obj:
        """Store a new object (caller checked it does not exist)."""
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._objects.setdefault(plural, {})[self._key(obj)] = obj
        self._emit(plural, "ADDED", obj)
        return obj

    def update(self, plural: str, obj: Obj) -> Obj:
        """Record a change of a stored (or replaced) object."""
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._objects.setdefault(plural, {})[self._key(obj)] = obj
        self._emit(plural, "MODIFIED", obj)
        return obj

    def delete(self, plural: str, namespace: str, name: str) -> Obj | None:
        """Remove an object; returns it, or None when absent."""
        obj = self._objects.get(plural, {}).pop((namespace, name), None)
        if obj is None:
            return None
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._emit(plural, "DELETED", obj)
        return obj

    def events_since(self, plural: str, rv: int) -> list[WatchEvent] | None:
        """Events of `plural` after `rv`; None when `rv` is older than the kept history."""
        if rv < self.oldest_replayable():
            return None
        return [e for e in self._history if e.rv > rv and e.plural == plural]

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` on every change; returns the unsubscribe function."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe
