"""Compiled scan plan: the patterns of one log source, compiled once, and the byte prefilter.

Purpose: turn signature config into (a) one defining and one context regex per signature, with
named groups that tell which pattern matched, and (b) a prefilter that finds candidate lines in a
whole chunk of raw bytes without running Python code per line.
Boundary: pure; no I/O. Used by `state.ScanState`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from service.domain.logscan.models import ScanLimits
from service.domain.redaction import Redactor
from service.domain.signatures import SignatureConfig

_META = frozenset(".^$*+?{}[]|()\\")


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """The combined defining / context regex of one signature for one source."""

    signature: str
    defining: re.Pattern[str] | None
    context: re.Pattern[str] | None
    patterns: tuple[str, ...]  # index i <-> group `_i` of either regex


def _combine(patterns: Sequence[str], offset: int) -> re.Pattern[str] | None:
    if not patterns:
        return None
    # Named wrappers: `lastgroup` then names the outermost group, i.e. which pattern matched.
    return re.compile("|".join(f"(?P<_{offset + i}>{p})" for i, p in enumerate(patterns)))


@dataclass(frozen=True, slots=True)
class ScanPlan:
    """Everything a scan needs that does not change between scans of the same source."""

    source: str
    rules: tuple[CompiledRule, ...]
    limits: ScanLimits
    redactor: Redactor
    default_job: str | None
    default_run_id: str | None
    literals: tuple[str, ...]
    byte_literals: tuple[bytes, ...]
    regex: re.Pattern[str] | None
    byte_regex: re.Pattern[bytes] | None

    def is_candidate(self, text: str) -> bool:
        """Cheap test: could this line match any pattern of the source?"""
        return any(lit in text for lit in self.literals) or bool(
            self.regex and self.regex.search(text)
        )

    def candidates(self, data: bytes, end: int) -> list[tuple[int, int]]:
        """Sorted (start, stop) of lines in data[:end] that may match; data[end - 1] is `\\n`."""
        found: dict[int, int] = {}
        # bytes.find runs at memchr speed; Python runs once per candidate line, not per line.
        for lit in self.byte_literals:
            i = data.find(lit, 0, end)
            while i >= 0:
                start = data.rfind(b"\n", 0, i) + 1
                stop = data.find(b"\n", i, end)
                found[start] = stop
                i = data.find(lit, stop + 1, end)
        if self.byte_regex is not None:
            pos = 0
            while (m := self.byte_regex.search(data, pos, end)) is not None:
                start = data.rfind(b"\n", 0, m.start()) + 1
                stop = data.find(b"\n", m.start(), end)
                found[start] = stop
                pos = stop + 1
        return sorted(found.items())


def compile_plan(
    signatures: Sequence[SignatureConfig],
    source: str,
    *,
    limits: ScanLimits,
    redactor: Redactor,
    default_job: str | None = None,
    default_run_id: str | None = None,
) -> ScanPlan:
    """Compile the patterns `signatures` define for `source`."""
    rules: list[CompiledRule] = []
    every: list[str] = []
    for sig in signatures:
        pats = sig.for_source(source)
        if not pats.defining and not pats.context:
            continue
        both = (*pats.defining, *pats.context)
        defining = _combine(pats.defining, 0)
        rules.append(
            CompiledRule(sig.name, defining, _combine(pats.context, len(pats.defining)), both)
        )
        every.extend(both)
    unique = list(dict.fromkeys(every))
    literals = tuple(p for p in unique if not _META.intersection(p))
    others = [p for p in unique if _META.intersection(p)]
    # Patterns are ASCII in practice; a bytes twin lets the prefilter skip decoding entirely.
    combined = "|".join(f"(?:{p})" for p in others)
    return ScanPlan(
        source=source,
        rules=tuple(rules),
        limits=limits,
        redactor=redactor,
        default_job=default_job,
        default_run_id=default_run_id,
        literals=literals,
        byte_literals=tuple(p.encode() for p in literals),
        regex=re.compile(combined) if others else None,
        byte_regex=re.compile(combined.encode()) if others else None,
    )
