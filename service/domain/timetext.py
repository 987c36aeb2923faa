"""How every message writes a moment and a span: ``2026-12-05 07:16:31 UTC`` and ``1 h 5 min``.

Purpose: one time format in every text the responder writes for people (messages, the
timeline, the policy's reasons), so on-call never reads ISO stamps with microseconds next to
bare clock times and ``0:03:00`` durations. Boundary: pure formatting; no clock is read here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def moment(value: datetime | None, missing: str = "unknown") -> str:
    """``value`` in UTC to the second (``2026-12-05 07:16:31 UTC``); ``missing`` when None."""
    if value is None:
        return missing
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def clock(value: datetime | None) -> str:
    """The time of day only (``07:16:31``), for log excerpts under a dated heading."""
    if value is None:
        return "--:--:--"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%H:%M:%S")


def span(value: timedelta | float) -> str:
    """A duration as people say it: its two largest units (``3 min``, ``1 h 5 min``,
    ``7 min 30 s``, ``45 s``); below a second, ``0 s``."""
    seconds = round(value.total_seconds() if isinstance(value, timedelta) else value)
    if seconds < 0:
        return f"-{span(-seconds)}"
    parts: list[tuple[int, str]] = []
    for unit, size in _UNITS:
        count, seconds = divmod(seconds, size)
        if count or parts:
            parts.append((count, unit))
    shown = [f"{count} {unit}" for count, unit in parts[:2] if count]
    return " ".join(shown) or "0 s"


def rough(seconds: float) -> str:
    """A duration at a glance (relative times, countdowns): ``45 s``, ``3 min``, ``2 h 5 min``,
    ``3 d 4 h``; ``span`` is the precise form messages and MTTR use."""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{int(seconds)} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
