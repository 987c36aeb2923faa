"""Per-scan state: the partial line between chunks, classification, bounded aggregates.

Purpose: the core shared by every entry point (async stream, sync chunks, text lines). Memory is
one partial line (<= `max_line_bytes`) plus bounded aggregates, whatever the log size.
Boundary: pure; the caller feeds bytes. Excerpts are redacted here, when a `LogMatch` is built.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, datetime

from service.domain.logscan.aggregates import Keep, Kept, SigState
from service.domain.logscan.lines import LineFields, parse_line
from service.domain.logscan.models import (
    LogMatch,
    Occurrence,
    ScanResult,
    SignatureStats,
)
from service.domain.logscan.rules import ScanPlan, Verdicts
from service.domain.logscan.tally import (
    Span,
    count_lines,
    dense,
    first_lines,
    last_lines,
    long_lines,
)

_MIN = datetime.min.replace(tzinfo=UTC)


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").rstrip("\r")


class ScanState:
    """Per-scan state: the partial line between chunks and the aggregates."""

    def __init__(self, plan: ScanPlan) -> None:
        self.plan, self.limits = plan, plan.limits
        self.lines = self.bytes = self.lines_truncated = 0
        self.stopped = False
        self._carry = b""
        self._skipping = False  # inside an over-long line whose head was already scanned
        self._sigs = {rule.signature: SigState(self.limits) for rule in plan.rules}
        self._bulk = any(t is not None for t in plan.tallies)

    @property
    def held_bytes(self) -> int:
        """Bytes of the partial line held until the next chunk brings its newline: what a
        scan keeps between chunks besides its aggregates (never more than
        ``limits.max_line_bytes``, however long a line is)."""
        return len(self._carry)

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
        if self._bulk:
            self._bulk_region(data, end)
            return
        cap, counted, base = self.limits.max_line_bytes, 0, self.lines
        decide = self.plan.decide
        for start, stop, mask in self.plan.prefilter.candidates(data, end):
            base += data.count(b"\n", counted, start)
            counted = start
            if stop - start > cap:  # hits beyond the cap do not count: classify the head
                self.lines_truncated += 1
                self.line(data[start : start + cap], base + 1, True)
            else:
                self.line(data[start:stop], base + 1, False, decide(mask))
        # one counting pass over the region in all: up to each candidate, then the rest
        self.lines = base + data.count(b"\n", counted, end)

    def _bulk_region(self, data: bytes, end: int) -> None:
        """`_region` with dense literal context lines tallied in bulk (`tally`).

        Special lines (a hit of another pattern or of a sparse literal, or longer than the cap
        with any hit) are classified one by one as in `_region`; their context matches are
        merged, in line order, with the tallied lines, which are not looked at one by one.
        """
        plan, cap, counted, base = self.plan, self.limits.max_line_bytes, 0, self.lines
        firsts = {lit: data.find(lit, 0, end) for lit in plan.tallied}
        bulk = dense(data, end, {lit: at for lit, at in firsts.items() if at >= 0})
        special: dict[int, tuple[int, int | None]] = {
            start: (stop, mask)
            for start, stop, mask in plan.prefilter.candidates(data, end, bulk, firsts)}
        for start, stop in long_lines(data, end, cap):
            if start not in special and plan.prefilter.hits(data, start, stop):
                special[start] = (stop, None)
        deferred: list[Kept] = []
        for start in sorted(special):
            stop, mask = special[start]
            base += data.count(b"\n", counted, start)
            counted = start
            if stop - start > cap:  # hits beyond the cap do not count: classify the head
                self.lines_truncated += 1
                self.line(data[start : start + cap], base + 1, True, context=deferred)
            else:
                verdicts = plan.decide(mask) if mask is not None else None
                self.line(data[start:stop], base + 1, False, verdicts, context=deferred)
        first_line = self.lines
        self.lines = base + data.count(b"\n", counted, end)
        for rule, tally in zip(plan.rules, plan.tallies, strict=True):
            mine = [kept for kept in deferred if kept.rule is rule]
            ours = {lit: bulk[lit] for lit in tally.needles if lit in bulk} if tally else {}
            state, spans, plain = self._sigs[rule.signature], [], 0
            if tally is not None and ours:
                # the tally counts special lines too; they are in `mine` or not context at all
                plain = count_lines(data, end, ours) - sum(
                    any(data.find(lit, start, stop) >= 0 for lit in ours)
                    for start, (stop, _) in special.items())
                spans = self._tallied_spans(data, end, ours, special, plain, state.context)
            items = [Kept(rule, tally.group(data[a:b]) if tally else 0, False,
                          self._line_no(data, end, a, first_line), data[a:b], False, None)
                     for a, b in spans]
            state.context_lines += plain + len(mine)
            state.context.extend(sorted(items + mine, key=lambda k: k.line_no), plain + len(mine))

    def _tallied_spans(self, data: bytes, end: int, present: dict[bytes, int],
                       special: Collection[int], plain: int, keep: Keep) -> list[Span]:
        """The tallied lines `keep` may need: its missing first ones and its last ones."""
        need, last = max(0, keep.first_n - len(keep.first)), keep.last.maxlen or 0
        if plain <= need + last:
            return first_lines(data, end, present, special, plain)
        return [*first_lines(data, end, present, special, need),
                *last_lines(data, end, tuple(present), special, last)]

    def _line_no(self, data: bytes, end: int, start: int, first_line: int) -> int:
        """Line number of the line at `start` in a region after which `self.lines` lines."""
        if start < end // 2:  # count the shorter way
            return first_line + data.count(b"\n", 0, start) + 1
        return self.lines - data.count(b"\n", start, end) + 1

    def finish(self) -> None:
        """End of stream: scan a last line without newline."""
        if self._carry:
            self.lines += 1
            self.line(self._carry, self.lines, truncated=False)
        elif self._skipping:
            self.lines += 1
        self._carry, self._skipping = b"", False

    def line(self, raw: bytes, line_no: int, truncated: bool, verdicts: Verdicts = None,
             context: list[Kept] | None = None) -> None:
        """Classify one (capped) line against every signature of the source.

        `verdicts` come from the literals the prefilter found; without them the text decides.
        With `context`, context matches go there (uncounted) instead of into the aggregates.
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
                kept = Kept(rule, group, True, line_no, raw, truncated, fields)
                state.excerpts.add(kept)
            else:
                kept = Kept(rule, group, False, line_no, raw, truncated, None)
                if context is not None:
                    context.append(kept)
                    continue
                state.context_lines += 1
                state.context.add(kept)

    def _fields(self, text: str) -> LineFields:
        fields = parse_line(text)
        fields.job = fields.job or self.plan.default_job
        fields.run_id = fields.run_id or self.plan.default_run_id
        return fields

    def _build(self, kept: Kept) -> LogMatch:
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
        begin = hit.start() if hit else 0
        start = max(0, begin - size // 4)
        end = start + size
        # At whitespace, so no value (a run id, a digest, a URL) is shown cut.
        space = text.find(" ", start, begin)
        if start and space >= 0:
            start = space  # the space kept: "… value"
        space = text.rfind(" ", max(begin, (hit.end() if hit else 0)), end - 1)
        if end < len(text) and space > start:
            end = space + 1
        return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")

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

    def _stats(self, name: str, s: SigState) -> SignatureStats:
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
