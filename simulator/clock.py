"""Simulated time for the Kubernetes simulator.

Purpose: give the world one notion of "now" (float seconds since the Unix epoch) that is either
driven by tests (`ManualClock.advance`) or follows real time multiplied by a speed factor
(`ScaledClock`, or `AnchoredClock` to share the responder's compressed clock). Also holds the
timestamp formats Kubernetes uses on the wire.
Boundary: no asyncio, no I/O; the server decides when to move the world forward.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """What the world needs from a clock."""

    def now(self) -> float:
        """Current simulated time, seconds since the epoch."""
        ...

    def advance(self, seconds: float) -> float:
        """Jump forward by `seconds` of simulated time; returns the new now."""
        ...


class ManualClock:
    """A clock that only moves when told to: deterministic tests."""

    def __init__(self, start: float) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._now += seconds
        return self._now


class ScaledClock:
    """Real time multiplied by `speed`, starting at `start`, plus manual jumps."""

    def __init__(self, start: float, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._start = float(start)
        self._speed = speed
        self._origin = time.monotonic()
        self._offset = 0.0

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> float:
        return self._start + (time.monotonic() - self._origin) * self._speed + self._offset

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._offset += seconds
        return self.now()


class AnchoredClock:
    """The responder's compressed clock: ``start + (wall - anchor) * speed``, plus manual jumps.

    Given the same start, anchor and speed as the responder's ``runtime.time_origin``,
    ``runtime.time_anchor`` and ``runtime.time_scale``, the simulator and a responder in another
    process agree on the time (the demo, the crash tests). Wall time on purpose: two processes
    share no monotonic origin.
    """

    def __init__(self, start: float, anchor: float, speed: float) -> None:
        self._start, self._anchor, self._speed, self._offset = start, anchor, speed, 0.0

    def now(self) -> float:
        return self._start + (time.time() - self._anchor) * self._speed + self._offset

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._offset += seconds
        return self.now()


def rfc3339(ts: float) -> str:
    """Kubernetes metav1.Time format: seconds precision, UTC, `Z` suffix."""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_millis(ts: float) -> str:
    """Go slog time format as the platform writes it: millisecond precision."""
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def rfc3339_nano(ts: float) -> str:
    """kubelet log timestamp prefix (`timestamps=true`): nanosecond precision."""
    whole = int(ts)
    nanos = round((ts - whole) * 1_000_000) * 1000
    base = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{nanos:09d}Z"


def parse_time(text: str) -> float:
    """Parse an RFC3339 timestamp (with or without fraction, `Z` or offset)."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    if "." in value:
        head, rest = value.split(".", 1)
        digits = "".join(ch for ch in rest if ch.isdigit())
        tz = rest[len(digits) :]
        value = f"{head}.{digits[:6].ljust(6, '0')}{tz}"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def human_duration(seconds: float) -> str:
    """kube's duration.HumanDuration, as used in AGE and DURATION columns."""
    s = int(seconds)
    s = max(s, 0)
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rem = s % 60
        return f"{minutes}m{rem}s" if rem else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rem_m = (s % 3600) // 60
        return f"{hours}h{rem_m}m" if rem_m else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rem_h = hours % 24
        return f"{hours // 24}d{rem_h}h" if rem_h else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        return f"{hours // 24 // 365}y{(hours // 24) % 365}d"
    return f"{hours // 24 // 365}y"
