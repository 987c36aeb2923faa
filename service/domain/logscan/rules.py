"""Compiled scan plan: the patterns of one log source, compiled once, and the byte prefilter.

Purpose: turn signature config into (a) per-signature matchers that say which pattern matched and
whether it is defining, using substring tests where a pattern is (or starts with) a literal, and
(b) a prefilter that finds candidate lines in a whole chunk of raw bytes without running Python
code per line.
Boundary: pure; no I/O. Used by `state.ScanState`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from service.domain.logscan.models import ScanLimits
from service.domain.redaction import Redactor
from service.domain.signatures import SignatureConfig

_META = frozenset(".^$*+?{}[]|()\\")
_QUANTIFIERS = frozenset("?*{")


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
    if not _META.intersection(pattern):
        return pattern
    if _has_top_level_alternation(pattern):
        return None
    cut = next(i for i, char in enumerate(pattern) if char in _META)
    if pattern[cut] in _QUANTIFIERS:  # `abc?`: the last char is optional
        cut -= 1
    return pattern[:cut] if cut >= 3 else None


Verdict = tuple[int, bool] | None  # (index of the pattern that matched, is it defining)
# Per rule, from the set of literals found on a line; None when a regex must look at the text.
Verdicts = tuple[Verdict, ...] | None


@dataclass(frozen=True, slots=True)
class Matcher:
    """One pattern; a plain substring test whenever the pattern is (or starts with) a literal."""

    literal: str | None  # the whole pattern is this literal
    required: str | None  # every match starts with this literal
    regex: re.Pattern[str] | None

    def matches(self, text: str) -> bool:
        if self.literal is not None:
            return self.literal in text
        if self.required is not None and self.required not in text:
            return False
        return self.regex is not None and self.regex.search(text) is not None


def _matcher(pattern: str) -> Matcher:
    if not _META.intersection(pattern):
        return Matcher(pattern, pattern, None)
    return Matcher(None, required_literal(pattern), re.compile(pattern))


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """The patterns of one signature for one source: defining first, then context."""

    signature: str
    patterns: tuple[str, ...]
    matchers: tuple[Matcher, ...]
    defining_count: int

    def classify(self, text: str) -> Verdict:
        """The first pattern, in config order, that matches `text`.

        Defining patterns come first, so a line with both counts as defining.
        """
        for index, matcher in enumerate(self.matchers):
            if matcher.matches(text):
                return index, index < self.defining_count
        return None

    def decide(self, found: frozenset[str], regex_hit: bool) -> tuple[bool, Verdict]:
        """Classify from the literals found on a line: (decided, verdict).

        Undecided when a regex pattern would be reached whose literal (or the combined regex
        prefilter, for patterns without one) hit: then only the text can tell.
        """
        for index, matcher in enumerate(self.matchers):
            if matcher.literal is not None:
                if matcher.literal in found:
                    return True, (index, index < self.defining_count)
            elif (matcher.required in found) if matcher.required else regex_hit:
                return False, None
        return True, None


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
    # mask of literal bits (bit len(literals): the regex prefilter) -> verdicts; filled lazily.
    _decisions: dict[int, Verdicts] = field(default_factory=dict)

    def is_candidate(self, text: str) -> bool:
        """Cheap test: could this line match any pattern of the source?"""
        return any(lit in text for lit in self.literals) or bool(
            self.regex and self.regex.search(text)
        )

    def candidates(self, data: bytes, end: int) -> list[tuple[int, int, int]]:
        """Sorted (start, stop, mask) of lines in data[:end] that may match.

        `mask` has bit i set when literal i occurs on the line, and bit len(literals) when the
        combined regex does. data[end - 1] must be `\n`.
        """
        found: dict[int, list[int]] = {}
        # bytes.find runs at memchr speed; Python runs once per hit line, never per line.
        for bit, lit in enumerate(self.byte_literals):
            i = data.find(lit, 0, end)
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
        return sorted((start, stop, mask) for start, (stop, mask) in found.items())

    def decide(self, mask: int) -> Verdicts:
        """Verdicts of every rule for a line whose hits are `mask`, or None: look at the text."""
        if mask in self._decisions:
            return self._decisions[mask]
        found = frozenset(lit for bit, lit in enumerate(self.literals) if mask >> bit & 1)
        regex_hit = bool(mask >> len(self.literals) & 1)
        verdicts: list[Verdict] = []
        decision: Verdicts = None
        for rule in self.rules:
            decided, verdict = rule.decide(found, regex_hit)
            if not decided:
                break
            verdicts.append(verdict)
        else:
            decision = tuple(verdicts)
        self._decisions[mask] = decision
        return decision


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
        context = pats.context if limits.collect_context else []
        both = (*pats.defining, *context)
        if both:
            matchers = tuple(_matcher(p) for p in both)
            rules.append(CompiledRule(sig.name, both, matchers, len(pats.defining)))
            every.extend(both)
    # Prefilter: one bytes.find per literal (whole patterns, or the literal a regex starts
    # with); a combined regex only for patterns without such a literal.
    reduced = {p: required_literal(p) for p in dict.fromkeys(every)}
    literals = tuple(dict.fromkeys(lit for lit in reduced.values() if lit is not None))
    others = [p for p, lit in reduced.items() if lit is None]
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
