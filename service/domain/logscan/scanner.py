"""Public entry points of the log scanner.

Purpose: `LogScanner` compiles a source's patterns once and scans any number of logs of that
source: an async byte stream (collectors), sync chunks (benchmarks) or text lines (tests).
Boundary: pure; the caller owns the stream and its deadline.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Sequence

from service.domain.logscan.models import ScanLimits, ScanResult
from service.domain.logscan.rules import compile_plan
from service.domain.logscan.state import ScanState
from service.domain.redaction import Redactor
from service.domain.signatures import SignatureConfig


class LogScanner:
    """Scans logs of one source for the given signatures."""

    def __init__(
        self,
        signatures: Sequence[SignatureConfig],
        source: str,
        *,
        limits: ScanLimits | None = None,
        redactor: Redactor | None = None,
        default_job: str | None = None,
        default_run_id: str | None = None,
    ) -> None:
        # default_job / default_run_id: a job pod's own log names no job on each line, so the
        # collector that knows which pod it reads passes them.
        self.plan = compile_plan(
            signatures,
            source,
            limits=limits or ScanLimits(),
            redactor=redactor or Redactor(),
            default_job=default_job,
            default_run_id=default_run_id,
        )

    @property
    def source(self) -> str:
        """Source name this scanner was built for."""
        return self.plan.source

    def new_state(self) -> ScanState:
        """Fresh per-scan state, for callers that feed chunks themselves."""
        return ScanState(self.plan)

    async def scan(self, chunks: AsyncIterable[bytes]) -> ScanResult:
        """Scan a byte stream to its end (or to `max_bytes`) and summarise it."""
        state = self.new_state()
        async for chunk in chunks:
            if not state.feed(chunk):
                break
        return state.result()

    def scan_chunks(self, chunks: Iterable[bytes]) -> ScanResult:
        """Synchronous twin of `scan`, same core."""
        state = self.new_state()
        for chunk in chunks:
            if not state.feed(chunk):
                break
        return state.result()

    def scan_lines(self, lines: Iterable[str]) -> ScanResult:
        """Scan text lines (tests, small logs); same core as the byte path.

        `bytes_scanned` counts characters here.
        """
        state = self.new_state()
        cap = self.plan.limits.max_line_bytes
        for line in lines:
            state.lines += 1
            state.bytes += len(line)
            if self.plan.prefilter.is_candidate(line):
                raw = line.rstrip("\r\n").encode("utf-8", "replace")
                state.line(raw[:cap], state.lines, len(raw) > cap)
        return state.result()


async def scan_stream(
    chunks: AsyncIterable[bytes],
    signatures: Sequence[SignatureConfig],
    source: str,
    *,
    limits: ScanLimits | None = None,
    default_job: str | None = None,
) -> ScanResult:
    """One-shot helper: build a scanner for `source` and scan `chunks`."""
    scanner = LogScanner(signatures, source, limits=limits, default_job=default_job)
    return await scanner.scan(chunks)
