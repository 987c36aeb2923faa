"""Context lines tallied in bulk: how many lines of a chunk hold a literal, and which few.

Purpose: a context pattern (`kaniko`, `mirror`, `run_id`) can sit on nearly every line of a
log, and the result needs only a count and the first and last few such lines. For a literal
pattern, both come from C-level operations over a whole chunk of raw bytes (`bytes.find`, one
`findall` per chunk); Python runs only for the few lines that are kept. Only a literal that is
dense in the chunk is tallied: a sparse one costs less found line by line like any candidate.
Boundary: pure functions over bytes; which lines are special (looked at one by one instead) is
decided by `state.ScanState`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache

Span = tuple[int, int]  # (start, stop) of one line, its newline at stop
_SAMPLE = 32 * 1024  # bytes looked at to tell a dense literal from a sparse one
_DENSE = 1024  # dense: at least one occurrence per this many bytes


@dataclass(frozen=True, slots=True)
class Tally:
    """The literal context patterns of one rule: (index among the rule's patterns, bytes)."""

    literals: tuple[tuple[int, bytes], ...]

    @property
    def needles(self) -> tuple[bytes, ...]:
        return tuple(lit for _, lit in self.literals)

    def group(self, raw: bytes) -> int:
        """The pattern that classifies a line no other pattern hit: first literal in order."""
        return next(index for index, lit in self.literals if lit in raw)


@lru_cache(maxsize=64)
def _line_counter(literals: tuple[bytes, ...]) -> re.Pattern[bytes]:
    # A match runs from a literal to the end of its line, so a line counts once however many
    # literals it holds; the empty group makes findall return the shared b"" (no copies).
    alternatives = b"|".join(re.escape(lit) for lit in literals)
    return re.compile(b"(?:" + alternatives + rb")[^\n]*()")


def dense(data: bytes, end: int, firsts: dict[bytes, int]) -> dict[bytes, int]:
    """The literals of `firsts` (literal -> first position) that are worth tallying here.

    A literal on most lines is counted by one `findall` (~1 ns a byte); a sparse one is cheaper
    found line by line (~4 us a line), like any other candidate. A sample of the chunk from
    its first occurrence on (or the chunk's end, when that is nearer) tells which.
    """
    out: dict[bytes, int] = {}
    for lit, at in firsts.items():
        low = max(0, min(at, end - _SAMPLE))
        high = min(end, low + _SAMPLE)
        if data.count(lit, low, high) * _DENSE >= high - low:
            out[lit] = at
    return out


def count_lines(data: bytes, end: int, firsts: dict[bytes, int]) -> int:
    """Lines of data[:end] holding any literal of `firsts` (literal -> first position)."""
    if not firsts:
        return 0
    return len(_line_counter(tuple(firsts)).findall(data, min(firsts.values()), end))


def first_lines(data: bytes, end: int, firsts: dict[bytes, int], skip: Collection[int],
                limit: int) -> list[Span]:
    """Up to `limit` lines holding a literal, from the start; lines starting in `skip` do not
    count. `firsts`: each present literal's first position in data[:end]."""
    return _walk(data, end, dict(firsts), skip, limit, forward=True)


def last_lines(data: bytes, end: int, literals: Sequence[bytes], skip: Collection[int],
               limit: int) -> list[Span]:
    """Up to `limit` lines holding a literal, from the end, returned in log order."""
    lasts = {lit: at for lit in literals if (at := data.rfind(lit, 0, end)) >= 0}
    return _walk(data, end, lasts, skip, limit, forward=False)[::-1]


def _walk(data: bytes, end: int, nexts: dict[bytes, int], skip: Collection[int], limit: int,
          *, forward: bool) -> list[Span]:
    # `nexts`: each literal's nearest occurrence ahead; only the ones a line used up move on.
    out: list[Span] = []
    while nexts and len(out) < limit:
        i = min(nexts.values()) if forward else max(nexts.values())
        start, stop = data.rfind(b"\n", 0, i) + 1, data.find(b"\n", i, end)
        if start not in skip:
            out.append((start, stop))
        for lit, at in list(nexts.items()):
            if forward and at <= stop:
                moved = data.find(lit, stop + 1, end)
            elif not forward and at >= start:
                moved = data.rfind(lit, 0, start)
            else:
                continue
            if moved >= 0:
                nexts[lit] = moved
            else:
                del nexts[lit]
    return out


def long_lines(data: bytes, end: int, cap: int) -> list[Span]:
    """Lines of data[:end] longer than `cap` bytes, found in about end / cap steps."""
    out: list[Span] = []
    start = 0
    while end - start >= cap + 2:  # room for cap + 1 bytes and a newline
        newline = data.rfind(b"\n", start, start + cap + 1)
        if newline >= 0:  # every line that starts up to here ends by here: short
            start = newline + 1
            continue
        stop = data.find(b"\n", start + cap + 1, end)
        out.append((start, stop))
        start = stop + 1
    return out
