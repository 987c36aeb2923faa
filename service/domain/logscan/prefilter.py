"""Byte prefilter: which lines of a chunk could match a set of patterns, found in bulk.

Purpose: locate candidate lines in a whole chunk of raw bytes (`bytes.find` for literals, one
combined regex for patterns without a leading literal) so a line that matches nothing costs no
Python code; also the literal a regex starts with, which lets a matcher use a substring test.
Boundary: pure; no I/O. Built by `rules.compile_plan`, used by `state.ScanState`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

_META = frozenset(".^$*+?{}[]|()\\")
_QUANTIFIERS = frozenset("?*{")


def is_literal(pattern: str) -> bool:
    """Whether `pattern` has no regex syntax at all (a plain substring)."""
    return not _META.intersection(pattern)


def _has_top_level_alternation(pattern: str) -> bool:
    depth, i, in_class = 0, 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
        i += 1
    return False


def required_literal(pattern: str) -> str | None:
    """A literal every match of `pattern` starts with (>= 3 chars), if one is easy to see."""
    if is_literal(pattern):
        return pattern
    if _has_top_level_alternation(pattern):
        return None
    cut = next(i for i, char in enumerate(pattern) if char in _META)
    if pattern[cut] in _QUANTIFIERS:  # `abc?`: the last char is optional
        cut -= 1
    return pattern[:cut] if cut >= 3 else None


@dataclass(frozen=True, slots=True)
class Prefilter:
    """Literals and a combined regex; together a superset test of some patterns."""

    literals: tuple[str, ...]
    byte_literals: tuple[bytes, ...]
    regex: re.Pattern[str] | None
    byte_regex: re.Pattern[bytes] | None

    def is_candidate(self, text: str) -> bool:
        """Cheap test: could this line match any of the patterns?"""
        return any(lit in text for lit in self.literals) or bool(
            self.regex and self.regex.search(text)
        )

    def hits(self, data: bytes, start: int, stop: int) -> bool:
        """Whether data[start:stop] (one line) holds a literal or a regex hit."""
        return any(data.find(lit, start, stop) >= 0 for lit in self.byte_literals) or bool(
            self.byte_regex and self.byte_regex.search(data, start, stop)
        )

    def candidates(self, data: bytes, end: int, skip: Collection[bytes] = (),
                   firsts: Mapping[bytes, int] | None = None) -> list[tuple[int, int, int]]:
        """Sorted (start, stop, mask) of lines in data[:end] that may match.

        `mask` has bit i set when literal i occurs on the line, and bit len(literals) when the
        combined regex does. data[end - 1] must be `\n`. Lines that hold only literals of
        `skip` are left out (the caller counts those in bulk); `firsts` are literals' first
        positions when the caller knows them already.
        """
        found: dict[int, list[int]] = {}
        # bytes.find runs at memchr speed; Python runs once per hit line, never per line.
        for bit, lit in enumerate(self.byte_literals):
            if lit in skip:
                continue
            i = firsts[lit] if firsts is not None and lit in firsts else data.find(lit, 0, end)
            while i >= 0:
                start = data.rfind(b"\n", 0, i) + 1
                stop = data.find(b"\n", i, end)
                if (entry := found.get(start)) is None:
                    found[start] = [stop, 1 << bit]
                else:
                    entry[1] |= 1 << bit
                i = data.find(lit, stop + 1, end)
        if self.byte_regex is not None:
            pos, bit = 0, 1 << len(self.byte_literals)
            while (m := self.byte_regex.search(data, pos, end)) is not None:
                start = data.rfind(b"\n", 0, m.start()) + 1
                stop = data.find(b"\n", m.start(), end)
                if (entry := found.get(start)) is None:
                    found[start] = [stop, bit]
                else:
                    entry[1] |= bit
                pos = stop + 1
        for bit, lit in enumerate(self.byte_literals):
            if lit in skip:  # the mask must still tell everything on the line
                for start, entry in found.items():
                    if data.find(lit, start, entry[0]) >= 0:
                        entry[1] |= 1 << bit
        return sorted((start, stop, mask) for start, (stop, mask) in found.items())


def build_prefilter(patterns: Iterable[str]) -> Prefilter:
    """One `bytes.find` per literal (whole patterns, or the literal a regex starts with); a
    combined regex only for patterns without such a literal."""
    reduced = {p: required_literal(p) for p in dict.fromkeys(patterns)}
    literals = tuple(dict.fromkeys(lit for lit in reduced.values() if lit is not None))
    others = [p for p, lit in reduced.items() if lit is None]
    combined = "|".join(f"(?:{p})" for p in others)
    return Prefilter(
        literals=literals,
        byte_literals=tuple(p.encode() for p in literals),
        regex=re.compile(combined) if others else None,
        byte_regex=re.compile(combined.encode()) if others else None,
    )
