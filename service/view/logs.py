"""Container logs read once: a followed stream that resumes after its last line.

Purpose: ``LineCursor`` splits a ``timestamps=true`` log into lines, strips the kubelet's
timestamp and remembers the last one (and how many lines carried it), so that after a dropped
connection the stream is reopened with ``sinceTime`` at that second and the lines already read
are skipped: each line is fed to the scanner once. ``LogFollower`` follows one container with
``follow=true`` and reconnects through the shared tenacity policy until the pod is gone or done.
Boundary: reads through ``KubeClient``; what the lines mean is ``service.domain.logscan``.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from tenacity import RetryCallState

from service.domain.facts import GapPart
from service.kube import KubeClient
from service.kube_errors import KubeError, KubeNotFound, KubeStreamBroken
from service.retry import retrying
from service.settings import KubeSettings
from service.view.gaps import GapBook

Stamp = tuple[bytes, int]  # the RFC 3339 second, then the nanoseconds


def stamp_of(raw: bytes) -> Stamp:
    """``2026-02-26T10:00:00.123456789Z`` as a sortable key (kubelet writes UTC, ``Z``)."""
    second, frac = raw[:19], b""
    if raw[19:20] == b".":
        frac = raw[20:].rstrip(b"Z")
    digits = frac[:9].ljust(9, b"0")
    return second, int(digits) if digits.isdigit() else 0


class LineCursor:
    """Where a followed log stands; turns stamped chunks into new, unstamped lines."""

    def __init__(self, since: datetime | None, max_line_bytes: int) -> None:
        self.since = since
        self.last: Stamp | None = None
        self.lines = 0
        self._at_last = 0  # lines read carrying `last`
        self._skip = 0  # of those, how many a resumed stream sends again
        self._carry = b""
        self._cap = max_line_bytes + 64  # the stamp comes on top of a line's bytes
        self._skipping = False

    def resume_time(self) -> str | None:
        """``sinceTime`` for the next connection: the last line's second, else the start."""
        if self.last is not None:
            return self.last[0].decode() + "Z"
        if self.since is not None:
            return self.since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return None

    def reconnect(self) -> None:
        """A new stream starts: its first lines at ``last`` were read already."""
        self._carry, self._skipping = b"", False
        self._skip = self._at_last

    def take(self, chunk: bytes) -> bytes:
        """The new complete lines of ``chunk`` without their stamps, newline-terminated."""
        data = self._carry + chunk
        end = data.rfind(b"\n") + 1
        self._carry = data[end:]
        out = []
        start = 0
        if self._skipping and end:
            start, self._skipping = data.find(b"\n") + 1, False
        elif self._skipping:
            self._carry = b""
        for line in data[start:end].split(b"\n")[:-1]:
            stamp, _, body = line.partition(b" ")
            if self._fresh(stamp_of(stamp)):
                out.append(body)
        if len(self._carry) > self._cap:  # an over-long line: keep its head, drop the rest
            stamp, _, body = self._carry.partition(b" ")
            if self._fresh(stamp_of(stamp)):
                out.append(body[: self._cap])
            self._carry, self._skipping = b"", True
        return b"\n".join(out) + b"\n" if out else b""

    def _fresh(self, key: Stamp) -> bool:
        if self.last is not None and key < self.last:
            return False
        if self.last is not None and key == self.last:
            if self._skip > 0:
                self._skip -= 1
                return False
            self._at_last += 1
        else:
            self.last, self._at_last, self._skip = key, 1, 0
        self.lines += 1
        return True


class LogFollower:
    """Follows one container's log into ``sink`` until the pod is gone or finished."""

    def __init__(self, kube: KubeClient, pod: str, container: str | None, *,
                 cursor: LineCursor, sink: Callable[[bytes], None], alive: Callable[[], bool],
                 part: GapPart, gaps: GapBook, now: Callable[[], datetime],
                 settings: KubeSettings, notify: Callable[[], None]) -> None:
        self.pod, self.container, self.cursor = pod, container, cursor
        self.bytes_read = self.connections = 0
        self._kube, self._sink, self._alive = kube, sink, alive
        self._part, self._gaps, self._now = part, gaps, now
        self._settings, self._notify = settings, notify
        self._since = now()

    async def run(self) -> None:
        """Until the pod is gone (404) or its stream ended with the pod no longer running."""
        while True:
            controller = retrying(deadline_s=math.inf, max_attempts=sys.maxsize,
                                  retry_on=(KubeError,), max_wait_s=self._settings.watch_silence_s,
                                  on_retry=self._failed)
            try:
                async for attempt in controller:
                    with attempt:
                        await self._once()
            except KubeNotFound:
                return  # the pod went away: its log with it
            if not self._alive():
                return

    def _failed(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        if (exc is not None and not isinstance(exc, KubeStreamBroken | KubeNotFound)
                and self._gaps.fail(self._part, exc, self._since)):
            self._notify()

    async def _once(self) -> None:
        self._since = self._now()
        self.connections += 1
        self.cursor.reconnect()
        stream = self._kube.stream_pod_log(
            self.pod, self.container, timestamps=True, follow=True,
            since_time=self.cursor.resume_time(), read_timeout=self._settings.log_follow_read_s)
        progressed = False
        try:
            async with contextlib.aclosing(stream) as chunks:
                async for chunk in chunks:
                    self.bytes_read += len(chunk)
                    if not progressed and self._gaps.clear(self._part):
                        self._notify()
                    progressed = True
                    fresh = self.cursor.take(chunk)
                    if fresh:
                        self._sink(fresh)
        except KubeStreamBroken:
            if not progressed:
                raise
