"""Context lines tallied in bulk: how many lines of a chunk hold a literal, and which few.

Purpose: a context pattern (`kaniko`, `mirror`, `run_id`) can sit on nearly every line of a
log, and the result needs only a count and the first and last few such lines. For a literal
pattern, both come from C-level operations over a whole chunk of raw bytes (`bytes.find`, one
`findall` per chunk); Python runs only for the few lines that are kept.
Boundary: pure functions over bytes; which lines are special (looked at one by one instead) is
decided by `state.ScanState`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache

Span = tuple[int, int]  # (start, stop) of one line, its newline at stop


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

    def hits(self, data: bytes, span: Span) -> bool:
        """Whether the line holds one of the literals (anywhere, as the tally counts it)."""
        return any(data.find(lit, span[0], span[1]) >= 0 for _, lit in self.literals)


@lru_cache(maxsize=64)
def _line_counter(literals: tuple[bytes, ...]) -> re.Pattern[bytes]:
    # A match runs from a literal to the end of its line, so a line counts once however many
    # literals it holds; the empty group makes findall return the shared b"" (no copies).
    alternatives = b"|".join(re.escape(lit) for lit in literals)
    return re.compile(b"(?:" + alternatives + rb")[^\n]*()")


def count_lines(data: bytes, start: int, end: int, literals: tuple[bytes, ...]) -> int:
    """Lines in data[start:end] holding any of `literals` (data[end - 1] is a newline)."""
    if not literals:
        return 0
    return len(_line_counter(literals).findall(data, start, end))


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
