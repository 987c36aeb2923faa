"""Container logs: where the simulated lines live and how a log request is answered.

Purpose: per-component journals (lines the platform writes as things happen), periodic noise
computed on demand, scripted job-pod output, and lazily generated huge logs; plus the rendering
of a `pods/log` request (`sinceSeconds`/`sinceTime`, `tailLines`, `timestamps`, `limitBytes`)
into byte chunks so that no log, however large, is ever held in memory.
Boundary: no HTTP and no store; the world says which source backs which pod.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from simulator import phrasebook
from simulator.clock import rfc3339_nano

Line = tuple[float, str]
CHUNK = 64 * 1024


@dataclass(frozen=True)
class LogOptions:
    """A pods/log request, already validated."""

    since: float | None = None
    tail: int | None = None
    timestamps: bool = False
    limit_bytes: int | None = None


class LogSource(Protocol):
    """Anything that can render the log of one container between two instants."""

    def render(self, lo: float, hi: float, opts: LogOptions) -> Iterator[bytes]: ...


class Journal:
    """Lines of one component in time order, bounded in size."""

    def __init__(self, cap: int = 200_000) -> None:
        self._times: list[float] = []
        self._lines: list[str] = []
        self._cap = cap

    def add(self, ts: float, line: str) -> None:
        if self._times and ts < self._times[-1]:
            index = bisect.bisect_right(self._times, ts)
            self._times.insert(index, ts)
            self._lines.insert(index, line)
        else:
            self._times.append(ts)
            self._lines.append(line)
        if len(self._times) > self._cap:
            del self._times[: self._cap // 2]
            del self._lines[: self._cap // 2]

    def between(self, lo: float, hi: float) -> Iterator[Line]:
        index = bisect.bisect_left(self._times, lo)
        while index < len(self._times) and self._times[index] <= hi:
            yield self._times[index], self._lines[index]
            index += 1

    def __len__(self) -> int:
        return len(self._times)


class NoiseTrack:
    """A line every `period` seconds, computed on demand."""

    def __init__(self, kind: str, period: float, offset: float = 0.0) -> None:
        self._kind = kind
        self._period = period
        self._offset = offset

    def between(self, lo: float, hi: float) -> Iterator[Line]:
        first = math.ceil((lo - self._offset) / self._period)
        last = math.floor((hi - self._offset) / self._period)
        for k in range(first, last + 1):
            ts = self._offset + k * self._period
            yield ts, phrasebook.noise(self._kind, ts, k)


def _encode(lines: Iterator[Line], timestamps: bool) -> Iterator[bytes]:
    parts: list[str] = []
    size = 0
    for ts, text in lines:
        line = f"{rfc3339_nano(ts)} {text}\n" if timestamps else text + "\n"
        parts.append(line)
        size += len(line)
        if size >= CHUNK:
            yield "".join(parts).encode()
            parts, size = [], 0
    if parts:
        yield "".join(parts).encode()


class LineSource:
    """Journal lines merged with noise (deployment pods) or a fixed script (job pods)."""

    def __init__(
        self,
        journal: Journal | None = None,
        noise: NoiseTrack | None = None,
        script: list[Line] | None = None,
    ) -> None:
        self.journal = journal
        self.noise = noise
        self.script = script or []

    def lines(self, lo: float, hi: float) -> Iterator[Line]:
        streams: list[Iterator[Line]] = []
        if self.journal is not None:
            streams.append(self.journal.between(lo, hi))
        if self.noise is not None:
            streams.append(self.noise.between(lo, hi))
        if self.script:
            streams.append(iter([(t, s) for t, s in self.script if lo <= t <= hi]))
        return heapq.merge(*streams, key=lambda item: item[0])

    def render(self, lo: float, hi: float, opts: LogOptions) -> Iterator[bytes]:
        lines = self.lines(lo, hi)
        if opts.tail is not None:
            lines = iter(list(lines)[-opts.tail :] if opts.tail > 0 else [])
        return _encode(lines, opts.timestamps)


class HugeSource:
    """A log of about `size` bytes spread evenly over the container's life, never stored.

    Lines come in blocks of 997 that share a millisecond timestamp (a burst of relayed job
    output); the first line of every block is a relayed kaniko failure carrying
    `MANIFEST_UNKNOWN`. Blocks are rendered from a few seeded templates by substituting the
    timestamp, so generation runs at memory speed and nothing accumulates.
    """

    BLOCK = 997
    TS_MARK = b"@" * 24
    PREFIX_MARK = b"#" * 30
    VARIANTS = 8
    INFO = (
        '{"time":"%s","level":"INFO","msg":"relayed job output","job":'
        '"codex-k8s-kaniko-%s-%08x","line":%d,"text":"%s"}'
    )
    ERROR = (
        '{"time":"%s","level":"ERROR","msg":"kaniko build failed: error building image: '
        'Error while retrieving image from cache: MANIFEST_UNKNOWN: manifest unknown",'
        '"job":"codex-k8s-kaniko-%s-%08x"}'
    )
    TEXTS = (
        "INFO[0003] Unpacking rootfs as cmd RUN go build requires it",
        "INFO[0012] RUN go build -o /out/app ./cmd/app",
        "INFO[0019] Taking snapshot of full filesystem...",
        "INFO[0001] Checking for cached layer",
    )

    def __init__(self, size: int, start: float, seed: int = 205) -> None:
        self.start = start
        self._plain = [self._template(v, seed, stamped=False) for v in range(self.VARIANTS)]
        self._stamped = [self._template(v, seed, stamped=True) for v in range(self.VARIANTS)]
        average = self._plain[0][1][-1] / self.BLOCK
        self.count = max(1, int(size / average))

    def _template(self, variant: int, seed: int, stamped: bool) -> tuple[bytes, list[int]]:
        component = ("api-gateway", "control-plane", "worker", "web-console")[variant % 4]
        job = (seed * 7919 + variant * 104729) & 0xFFFFFFFF
        mark = self.TS_MARK.decode()
        lines = [self.ERROR % (mark, component, job)]
        for index in range(1, self.BLOCK):
            text = self.TEXTS[(index + variant) % len(self.TEXTS)]
            lines.append(self.INFO % (mark, component, job, index, text))
        if stamped:
            lines = [f"{self.PREFIX_MARK.decode()} {line}" for line in lines]
        offsets = [0]
        for line in lines:
            offsets.append(offsets[-1] + len(line) + 1)
        return ("\n".join(lines) + "\n").encode(), offsets

    def render(self, lo: float, hi: float, opts: LogOptions) -> Iterator[bytes]:
        step = max(hi - self.start, 1e-3) / self.count
        span = step * self.BLOCK
        first_block = max(0, math.ceil((lo - self.start) / span - 0.5))
        first = first_block * self.BLOCK
        if opts.tail is not None:
            first = max(first, self.count - opts.tail)
        return self._blocks(first, span, opts.timestamps)

    def _blocks(self, first: int, span: float, stamped: bool) -> Iterator[bytes]:
        templates = self._stamped if stamped else self._plain
        last_block = (self.count - 1) // self.BLOCK
        for block in range(first // self.BLOCK, last_block + 1):
            ts = self.start + (block + 0.5) * span
            sec = int(ts)
            base = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            text, offsets = templates[block % self.VARIANTS]
            text = text.replace(self.TS_MARK, f"{base}.{int((ts - sec) * 1000):03d}Z".encode())
            if stamped:
                nanos = f"{base}.{int((ts - sec) * 1e9):09d}Z".encode()
                text = text.replace(self.PREFIX_MARK, nanos)
            low = first - block * self.BLOCK if block == first // self.BLOCK else 0
            high = min(self.BLOCK, self.count - block * self.BLOCK)
            yield text if low == 0 and high == self.BLOCK else text[offsets[low] : offsets[high]]


def limited(chunks: Iterator[bytes], limit: int | None) -> Iterator[bytes]:
    """Cut a chunk stream after `limit` bytes (`limitBytes`)."""
    if limit is None:
        yield from chunks
        return
    left = limit
    for chunk in chunks:
        if left <= 0:
            return
        if len(chunk) > left:
            yield chunk[:left]
            return
        left -= len(chunk)
        yield chunk
