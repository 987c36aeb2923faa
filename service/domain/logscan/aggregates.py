"""Running aggregates of one scan: per signature, counts, occurrences and the lines kept.

Purpose: the bounded memory of a scan (first/last few lines, distinct builds up to a cap),
whatever the log size.
Boundary: pure data; fed by `state.ScanState`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime

from service.domain.logscan.lines import LineFields
from service.domain.logscan.models import ScanLimits
from service.domain.logscan.rules import CompiledRule


@dataclass(slots=True)
class Kept:
    """A kept line; redacted and turned into a LogMatch only when the result is built."""

    rule: CompiledRule
    group: int
    defining: bool
    line_no: int
    raw: bytes
    truncated: bool
    fields: LineFields | None  # parsed for defining lines (needed for occurrences), else lazily


class Keep:
    """The first and last few items of a stream, and how many fell in between."""

    def __init__(self, first: int, last: int) -> None:
        self.first_n, self.seen = first, 0
        self.first: list[Kept] = []
        self.last: deque[Kept] = deque(maxlen=last)

    def add(self, item: Kept) -> None:
        self.seen += 1
        if len(self.first) < self.first_n:
            self.first.append(item)
        elif self.last.maxlen:
            self.last.append(item)

    def extend(self, items: list[Kept], total: int) -> None:
        """Add `total` items in one go, of which `items` (in order) are enough to keep.

        `items` must hold the first `first_n - len(first)` and the last `last.maxlen` of the
        `total`, or all of them.
        """
        need = self.first_n - len(self.first)
        self.first.extend(items[:need])
        rest = min(total - min(need, total), self.last.maxlen or 0)
        if rest:
            self.last.extend(items[len(items) - rest :])
        self.seen += total

    def items(self) -> list[Kept]:
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


class SigState:
    """Running aggregate of one signature: counts, occurrences, kept lines."""

    def __init__(self, limits: ScanLimits) -> None:
        self.limit = limits.max_occurrences
        self.lines = self.context_lines = self.unattributed = 0
        self.first_seen: datetime | None = None
        self.last_seen: datetime | None = None
        self.occ: dict[str, _Occ] = {}
        self.alias: dict[str, str] = {}  # run id -> key of a job line that carried it
        self.capped = False
        self.excerpts = Keep(limits.keep_first, limits.keep_last)
        self.context = Keep(limits.keep_context, limits.keep_context)

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
