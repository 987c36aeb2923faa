"""Per-scan state: the partial line between chunks, classification, bounded aggregates.

Purpose: the core shared by every entry point (async stream, sync chunks, text lines). Memory is
one partial line (<= `max_line_bytes`) plus bounded aggregates, whatever the log size.
Boundary: pure; the caller feeds bytes. Excerpts are redacted here, when a `LogMatch` is built.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from service.domain.logscan.lines import LineFields, parse_line
from service.domain.logscan.models import (
    LogMatch,
    Occurrence,
    ScanLimits,
    ScanResult,
    SignatureStats,
)
from service.domain.logscan.rules import CompiledRule, ScanPlan, Verdicts

_MIN = datetime.min.replace(tzinfo=UTC)


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").rstrip("\r")


@dataclass(slots=True)
class _Kept:
    """A kept line; redacted and turned into a LogMatch only when the result is built."""

    rule: CompiledRule
    group: int
    defining: bool
    line_no: int
    raw: bytes
    truncated: bool
    fields: LineFields | None  # parsed for defining lines (needed for occurrences), else lazily


class _Keep:
    """The first and last few items of a stream, and how many fell in between."""

    def __init__(self, first: int, last: int) -> None:
        self.first_n, self.seen = first, 0
        self.first: list[_Kept] = []
        self.last: deque[_Kept] = deque(maxlen=last)

    def add(self, item: _Kept) -> None:
        self.seen += 1
        if len(self.first) < self.first_n:
            self.first.append(item)
        elif self.last.maxlen:
            self.last.append(item)

    def items(self) -> list[_Kept]:
        return [*self.first, *self.last]


@dataclass(slots=True)
class _Occ:
    job: str | None
    run_id: str | None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    lines: int = 0


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None or (b is not None and b < a) else a


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None or (b is not None and b > a) else a


class _SigState:
    """Running aggregate of one signature: counts, occurrences, kept lines."""

    def __init__(self, limits: ScanLimits) -> None:
        self.limit = limits.max_occurrences
        self.lines = self.context_lines = self.unattributed = 0
        self.first_seen: datetime | None = None
        self.last_seen: datetime | None = None
        self.occ: dict[str, _Occ] = {}
        self.alias: dict[str, str] = {}  # run id -> key of a job line that carried it
        self.capped = False
        self.excerpts = _Keep(limits.keep_first, limits.keep_last)
        self.context = _Keep(limits.keep_context, limits.keep_context)

    def record(self, f: LineFields) -> None:
        self.lines += 1
        self.first_seen = _earliest(self.first_seen, f.timestamp)
        self.last_seen = _latest(self.last_seen, f.timestamp)
        key = self._key(f)
        if key is None:
            self.unattributed += 1
            return
        occ = self.occ.get(key)
        if occ is None:
            if len(self.occ) >= self.limit:
                self.capped = True
                return
            occ = self.occ[key] = _Occ(f.job, f.run_id)
        occ.lines += 1
        occ.run_id = occ.run_id or f.run_id
        occ.first_seen = _earliest(occ.first_seen, f.timestamp)
        occ.last_seen = _latest(occ.last_seen, f.timestamp)

    def _key(self, f: LineFields) -> str | None:
        # An occurrence is a build: its job name, else its run id. A run id first seen alone
        # and later next to a job name is folded into that job, so one build counts once.
        if f.job:
            key = f"job:{f.job}"
            if f.run_id:
                run_key = f"run:{f.run_id}"
                if run_key in self.occ and key not in self.occ:
                    self.occ[key] = self.occ.pop(run_key)
                    self.occ[key].job = f.job
                if len(self.alias) < self.limit:
                    self.alias.setdefault(f.run_id, key)
            return key
        if f.run_id:
            return self.alias.get(f.run_id, f"run:{f.run_id}")
        return None


class ScanState:
    """Per-scan state: the partial line between chunks and the aggregates."""

    def __init__(self, plan: ScanPlan, *, emit: bool = False) -> None:
        self.plan, self.limits = plan, plan.limits
        self.lines = self.bytes = self.lines_truncated = 0
        self.stopped = False
        self._carry = b""
        self._skipping = False  # inside an over-long line whose head was already scanned
        self._sigs = {rule.signature: _SigState(self.limits) for rule in plan.rules}
        self._emit = emit
        self._out: list[LogMatch] = []

    def feed(self, chunk: bytes) -> bool:
        """Consume one chunk; returns False once `max_bytes` is reached (stop reading)."""
        if self.stopped:
            return False
        budget = self.limits.max_bytes
        if budget is not None and self.bytes + len(chunk) >= budget:
            chunk, self.stopped = chunk[: budget - self.bytes], True
        self.bytes += len(chunk)
        if self._skipping:
            newline = chunk.find(b"\n")
            if newline < 0:
                return not self.stopped
            self.lines += 1
            self._skipping, chunk = False, chunk[newline + 1 :]
        data = self._carry + chunk if self._carry else chunk
        end = data.rfind(b"\n") + 1
        if end:
            self._region(data, end)
        self._carry = data[end:]
        cap = self.limits.max_line_bytes
        if len(self._carry) > cap:
            # Never buffer a line beyond the cap: scan its head now, skip to its newline.
            self.lines_truncated += 1
            self.line(self._carry[:cap], self.lines + 1, truncated=True)
            self._carry, self._skipping = b"", True
        return not self.stopped

    def _region(self, data: bytes, end: int) -> None:
        cap, counted, base = self.limits.max_line_bytes, 0, self.lines
        decide = self.plan.decide
        for start, stop, mask in self.plan.candidates(data, end):
            base += data.count(b"\n", counted, start)
            counted = start
            if stop - start > cap:  # hits beyond the cap do not count: classify the head
                self.lines_truncated += 1
                self.line(data[start : start + cap], base + 1, True)
            else:
                self.line(data[start:stop], base + 1, False, decide(mask))
        # one counting pass over the region in all: up to each candidate, then the rest
        self.lines = base + data.count(b"\n", counted, end)

    def finish(self) -> None:
        """End of stream: scan a last line without newline."""
        if self._carry:
            self.lines += 1
            self.line(self._carry, self.lines, truncated=False)
        elif self._skipping:
            self.lines += 1
        self._carry, self._skipping = b"", False

    def line(self, raw: bytes, line_no: int, truncated: bool, verdicts: Verdicts = None) -> None:
        """Classify one (capped) line against every signature of the source.

        `verdicts` come from the literals the prefilter found; without them the text decides.
        """
        text: str | None = None
        fields: LineFields | None = None
        for index, rule in enumerate(self.plan.rules):
            if verdicts is not None:
                hit = verdicts[index]
            else:
                text = text if text is not None else _decode(raw)
                hit = rule.classify(text)
            if hit is None:
                continue
            group, defining = hit
            state = self._sigs[rule.signature]
            if defining:
                text = text if text is not None else _decode(raw)
                fields = fields or self._fields(text)
                state.record(fields)
                kept = _Kept(rule, group, True, line_no, raw, truncated, fields)
                state.excerpts.add(kept)
            else:
                state.context_lines += 1
                kept = _Kept(rule, group, False, line_no, raw, truncated, None)
                state.context.add(kept)
            if self._emit:
                self._out.append(self._build(kept))

    def drain(self) -> list[LogMatch]:
        """Matches collected since the last drain (emit mode only)."""
        out, self._out = self._out, []
        return out

    def _fields(self, text: str) -> LineFields:
        fields = parse_line(text)
        fields.job = fields.job or self.plan.default_job
        fields.run_id = fields.run_id or self.plan.default_run_id
        return fields

    def _build(self, kept: _Kept) -> LogMatch:
        f = kept.fields or self._fields(_decode(kept.raw))
        pattern = kept.rule.patterns[kept.group]
        body = f.body
        if "\n" in body:  # relayed multi-line job output: show the line that matched
            inner = body.splitlines()
            body = next((ln for ln in inner if re.search(pattern, ln)), inner[0] if inner else "")
        return LogMatch(
            source=self.plan.source,
            signature=kept.rule.signature,
            pattern=pattern,
            defining=kept.defining,
            line_no=kept.line_no,
            timestamp=f.timestamp,
            level=f.level,
            run_id=f.run_id,
            job=f.job,
            excerpt=self._excerpt(body, pattern),
            line_truncated=kept.truncated,
        )

    def _excerpt(self, body: str, pattern: str) -> str:
        # Redact before cutting: a cut could split a token into pieces no rule recognises.
        text, size = self.plan.redactor.redact(body), self.limits.excerpt_chars
        if len(text) <= size:
            return text
        hit = re.search(pattern, text)
        start = max(0, (hit.start() if hit else 0) - size // 4)
        cut = text[start : start + size]
        return ("…" if start else "") + cut + ("…" if start + size < len(text) else "")

    def result(self) -> ScanResult:
        """Finish the stream and build the summary."""
        self.finish()
        out = {name: self._stats(name, s) for name, s in self._sigs.items()}
        capped = any(s.occurrences_capped for s in out.values())
        return ScanResult(
            source=self.plan.source,
            signatures=out,
            lines_scanned=self.lines,
            bytes_scanned=self.bytes,
            lines_truncated=self.lines_truncated,
            stopped_early=self.stopped,
            truncated=bool(self.lines_truncated or self.stopped or capped),
        )

    def _stats(self, name: str, s: _SigState) -> SignatureStats:
        occs = [
            Occurrence(
                key=k,
                job=o.job,
                run_id=o.run_id,
                first_seen=o.first_seen,
                last_seen=o.last_seen,
                lines=o.lines,
            )
            for k, o in s.occ.items()
        ]
        occs.sort(key=lambda o: (o.first_seen is None, o.first_seen or _MIN, o.key))
        run_ids = dict.fromkeys([*(o.run_id for o in occs if o.run_id), *s.alias])
        excerpts, context = s.excerpts.items(), s.context.items()
        return SignatureStats(
            signature=name,
            lines=s.lines,
            context_lines=s.context_lines,
            occurrences=len(occs),
            unattributed_lines=s.unattributed,
            first_seen=s.first_seen,
            last_seen=s.last_seen,
            run_ids=list(run_ids),
            jobs=[o.job for o in occs if o.job],
            occurrence_list=occs,
            occurrences_capped=s.capped,
            excerpts=[self._build(k) for k in excerpts],
            context=[self._build(k) for k in context],
            excerpts_dropped=s.excerpts.seen - len(excerpts),
        )
