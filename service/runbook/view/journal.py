"""The control-plane lines the evidence needs, kept as read: a bounded journal for one window.

Purpose: the view scans each control-plane line once as it arrives, cumulatively since it
started; the evidence wants the runbook's scan of the last ``log_window_s`` only (``kubectl logs
--since=6h | grep``), with its excerpts and context. ``LineJournal`` keeps the few lines that can
matter to it (a signature's defining lines, its recovery markers, and the context lines of a
signature that names a cause: rare lines, not the chatter), each with its time, so the evidence
scans exactly those of its window with the collector's own scanner, and no log is read again.
Bounded: lines older than the window are dropped as new ones come, and past ``max_bytes`` the
oldest go first (``dropped`` says so).
Boundary: pure bookkeeping over bytes; the scan itself is ``service.domain.logscan``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import datetime, timedelta

from service.domain.logscan import parse_line
from service.domain.logscan.prefilter import build_prefilter
from service.domain.signatures import SignatureConfig


def journal_patterns(signatures: Iterable[SignatureConfig], source: str) -> list[str]:
    """What a line must (may) hold to be kept: defining patterns, recovery markers, and the
    context patterns of signatures whose ``cause`` is read from the lines."""
    out: list[str] = []
    for sig in signatures:
        for config in (sig, sig.recovery_marker()):
            if config is None:
                continue
            patterns = config.for_source(source)
            out += patterns.defining
            if config.cause is not None:
                out += patterns.context
    return list(dict.fromkeys(out))


class LineJournal:
    """The lines worth keeping, by arrival, each with its time (its own, else its arrival)."""

    def __init__(self, patterns: list[str], *, window_s: float, max_bytes: int) -> None:
        self._filter = build_prefilter(patterns) if patterns else None
        self._window = timedelta(seconds=window_s)
        self._max_bytes = max_bytes
        self._lines: deque[tuple[datetime, datetime, bytes]] = deque()
        self._bytes = 0
        self.dropped = 0  # lines dropped for room while still in the window

    def feed(self, lines: bytes, now: datetime) -> None:
        """``lines``: complete, newline-terminated lines, as the view's follower hands them."""
        if self._filter is None or not lines:
            return
        for start, stop, _ in self._filter.candidates(lines, len(lines)):
            raw = lines[start:stop]
            when = parse_line(raw.decode("utf-8", "replace")).timestamp or now
            self._lines.append((now, when, raw))
            self._bytes += len(raw) + 1
        self._trim(now)

    def _trim(self, now: datetime) -> None:
        # By arrival: a catch-up's old lines arrive at once and leave a window later, which
        # bounds memory to a window's worth; ``lines`` filters by each line's own time.
        while self._lines and self._lines[0][0] < now - self._window:
            self._bytes -= len(self._lines.popleft()[2]) + 1
        while self._bytes > self._max_bytes and self._lines:
            self._bytes -= len(self._lines.popleft()[2]) + 1
            self.dropped += 1

    def lines(self, since: datetime) -> bytes:
        """The kept lines of time ``since`` or later, oldest first, newline-terminated."""
        kept = sorted(((when, raw) for _, when, raw in self._lines if when >= since),
                      key=lambda item: item[0])
        return b"".join(raw + b"\n" for _, raw in kept)
