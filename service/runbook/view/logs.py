"""Container logs read once: caught up with timestamps, then followed plain, resumed exactly.

Purpose: ``LineCursor`` plans each connection to one container's log and turns what arrives
into new lines, each handed on once. It catches up with ``timestamps=true`` (no follow) from
the start, so it knows the last line's kubelet timestamp; then it follows without timestamps
(they would add ~31 bytes to every line) from that second, skipping the lines of that second
already read. After a followed stream is cut, it catches up again, with timestamps, from a
margin before the last line arrived, and recognises where it was by the last lines read; not
found, it looks twice as far back, up to the last timestamp it read; not found there either (a
restarted container writes a new log), every line of the catch-up is new.
``LogFollower`` runs those connections for one pod, through the shared tenacity policy, until
the pod is gone or done.
Boundary: reads through ``KubeClient``; what the lines mean is ``service.domain.logscan``.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tenacity import RetryCallState

from service.cluster.client import KubeClient
from service.cluster.errors import KubeError, KubeNotFound, KubeStreamBroken
from service.config.settings import KubeSettings
from service.domain.facts import GapPart
from service.runbook.view.gaps import GapBook
from service.runtime.clock import NETWORK_TIME, Clock
from service.runtime.retry import retrying

Stamp = tuple[bytes, int]  # the RFC 3339 second, then the nanoseconds
_HISTORY = 16  # lines remembered to recognise the place after a cut
_PENDING_BYTES = 8 * 1024 * 1024  # re-sent lines held while looking for the place


def stamp_of(raw: bytes) -> Stamp:
    """``2026-02-26T10:00:00.123456789Z`` as a sortable key (kubelet writes UTC, ``Z``)."""
    second, frac = raw[:19], b""
    if raw[19:20] == b".":
        frac = raw[20:].rstrip(b"Z")
    digits = frac[:9].ljust(9, b"0")
    return second, int(digits) if digits.isdigit() else 0


def _second(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Plan:
    """The next request for the log: from when, followed or not, with timestamps or not."""

    since_time: str | None
    follow: bool
    timestamps: bool


class LineCursor:
    """Where a followed log stands; see the module docstring."""

    def __init__(self, since: datetime | None, max_line_bytes: int,
                 margin_s: float = 120.0) -> None:
        self.since = since
        self.last: Stamp | None = None  # the last line's timestamp, when known
        self.lines = 0
        self.live = False  # the current stream is the plain follow
        self._margin = timedelta(seconds=margin_s)
        self._at_last = 0  # lines read carrying `last`
        self._in_second = 0  # lines read within `last`'s second
        self._skip = 0  # stamped: lines at `last` a resumed stream sends again
        self._skip_plain = 0  # plain: lines of `last`'s second the follow sends again
        self._history: deque[bytes] = deque(maxlen=_HISTORY)
        self._received: datetime | None = None  # when the last plain line came
        self._pending: list[tuple[Stamp, bytes]] | None = None  # re-sent, place not found
        self._pending_bytes = 0
        self._carry = b""
        self._cap = max_line_bytes + 64  # a stamp comes on top of a line's bytes
        self._skipping = False
        self._catch_up = True
        self._floor: str | None = None  # where the last catch-up began, when it found no line
        self._exact: Stamp | None = None  # the last stamp read, kept through the plain follow
        self._widen = 0  # windows doubled so far looking for the place
        self._final = False  # this window reaches back to `_exact`: not found means new

    def plan(self) -> Plan:
        """The next connection; call once before each."""
        self._carry, self._skipping, self._pending = b"", False, None
        self.live = not self._catch_up
        start = _second(self.since) if self.since is not None else None
        if self.live:
            self._skip_plain = self._in_second if self.last is not None else 0
            since = self.last[0].decode() + "Z" if self.last is not None else self._floor or start
            return Plan(since, follow=True, timestamps=False)
        if self._received is not None:  # cut while following plain: find the place again
            self._pending, self._pending_bytes = [], 0
            # counted afresh from the window's first second, which holds every line of it
            self.last, self._at_last, self._in_second = None, 0, 0
            begin = self._received - self._margin * (2 ** self._widen)
            exact = self._exact[0].decode() + "Z" if self._exact is not None else start
            # the window reaching back to the last stamp read is the last try
            self._final = exact is None or _second(begin) <= exact
            self._floor = exact if self._final else _second(begin)
            return Plan(self._floor, follow=False, timestamps=True)
        self._skip = self._at_last
        since = self.last[0].decode() + "Z" if self.last is not None else start
        return Plan(since, follow=False, timestamps=True)

    def ended(self, clean: bool) -> bytes:
        """The stream ended (``clean``: at its end, not cut); returns lines now known new."""
        out = b""
        if self._pending is not None and clean and not self._final:
            self._widen += 1  # the place lies further back (the follow lagged): look wider
            self._pending = None
            return out
        if self._pending is not None and clean:  # not since the last stamp: a new log
            out = self._emit_pending(self._pending)
        if clean and not self.live:
            self._catch_up = False  # caught up: follow from here
        elif self.live:
            self._catch_up = True
        return out

    def take(self, chunk: bytes, now: datetime) -> bytes:
        """The new complete lines of ``chunk`` without stamps, newline-terminated."""
        data = self._carry + chunk
        end = data.rfind(b"\n") + 1
        self._carry = data[end:]
        start = 0
        if self._skipping and end:
            start, self._skipping = data.find(b"\n") + 1, False
        elif self._skipping:
            self._carry = b""
        out: list[bytes] = []
        for line in data[start:end].split(b"\n")[:-1]:
            self._line(line, out, now)
        if len(self._carry) > self._cap:  # an over-long line: keep its head, drop the rest
            self._line(self._carry[: self._cap], out, now)
            self._carry, self._skipping = b"", True
        return b"\n".join(out) + b"\n" if out else b""

    def _line(self, line: bytes, out: list[bytes], now: datetime) -> None:
        if self.live:
            if self._skip_plain > 0:
                self._skip_plain -= 1
                return
            self._received = now
            self._keep(line[: self._cap - 64], out)
            return
        raw, _, body = line.partition(b" ")
        body = body[: self._cap - 64]
        if self._pending is not None:
            self._look_for_place(stamp_of(raw), body)
            return
        if self._fresh(stamp_of(raw)):
            self._keep(body, out)

    def _keep(self, body: bytes, out: list[bytes]) -> None:
        self.lines += 1
        self._history.append(body)
        out.append(body)

    def _look_for_place(self, key: Stamp, body: bytes) -> None:
        assert self._pending is not None
        self._pending.append((key, body))
        self._pending_bytes += len(body)
        known = list(self._history)
        bodies = [b for _, b in self._pending[-len(known):]]
        if known and bodies == known[-len(bodies):] and (
                len(bodies) == len(known) or len(bodies) == len(self._pending)):
            # every re-sent line so far was read already: the place is found
            for stamp, _ in self._pending:
                self._advance(stamp)
            self._pending, self._received, self._widen = None, None, 0
        elif self._pending_bytes > _PENDING_BYTES:
            self._emit_pending(self._pending)  # lost: rather twice than never

    def _emit_pending(self, pending: list[tuple[Stamp, bytes]]) -> bytes:
        self._pending, self._received, self._widen = None, None, 0
        out: list[bytes] = []
        for stamp, body in pending:
            self._advance(stamp)
            self._keep(body, out)
        return b"\n".join(out) + b"\n" if out else b""

    def _advance(self, key: Stamp) -> None:
        """Move ``last`` to ``key`` (a line read), counting lines per stamp and second."""
        if self.last is not None and key == self.last:
            self._exact = key
            self._at_last += 1
            self._in_second += 1
            return
        same_second = self.last is not None and key[0] == self.last[0]
        self.last, self._exact, self._at_last = key, key, 1
        self._in_second = self._in_second + 1 if same_second else 1

    def _fresh(self, key: Stamp) -> bool:
        if self.last is not None and key < self.last:
            return False
        if self.last is not None and key == self.last and self._skip > 0:
            self._skip -= 1
            return False
        self._advance(key)
        return True


class LogFollower:
    """Follows one container's log into ``sink`` until the pod is gone or finished."""

    def __init__(self, kube: KubeClient, pod: str, container: str | None, *,
                 cursor: LineCursor, sink: Callable[[bytes], None], alive: Callable[[], bool],
                 part: GapPart, gaps: GapBook, clock: Clock,
                 settings: KubeSettings, notify: Callable[[], None]) -> None:
        self.pod, self.container, self.cursor = pod, container, cursor
        self.bytes_read = self.connections = 0
        self._kube, self._sink, self._alive = kube, sink, alive
        self._part, self._gaps, self._clock = part, gaps, clock
        self._settings, self._notify = settings, notify
        self._since = clock.now()

    async def run(self) -> None:
        """Until the pod is gone (404) or its stream ended with the pod no longer running."""
        while True:
            controller = retrying(clock=NETWORK_TIME, deadline_s=math.inf, max_attempts=sys.maxsize,
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
        self._since = self._clock.now()
        self.connections += 1
        plan = self.cursor.plan()
        if plan.follow:
            self._notify()  # caught up: the log is read up to now (the evidence waits for it)
        stream = self._kube.stream_pod_log(
            self.pod, self.container, timestamps=plan.timestamps, follow=plan.follow,
            since_time=plan.since_time, read_timeout=self._settings.log_follow_read_s)
        progressed, clean = False, False
        try:
            async with contextlib.aclosing(stream) as chunks:
                async for chunk in chunks:
                    self.bytes_read += len(chunk)
                    if not progressed and self._gaps.clear(self._part):
                        self._notify()
                    progressed = True
                    fresh = self.cursor.take(chunk, self._clock.now())
                    if fresh:
                        self._sink(fresh)
            clean = True
            if self._gaps.clear(self._part):  # read to its end: readable, even if empty
                self._notify()
        except KubeStreamBroken:
            if not progressed:
                raise
        finally:
            fresh = self.cursor.ended(clean)  # cut, failed or cancelled: not clean
        if fresh:
            self._sink(fresh)
