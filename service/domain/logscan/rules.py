"""Compiled scan plan: the patterns of one log source, compiled once, and the byte prefilters.

Purpose: turn signature config into (a) per-signature matchers that say which pattern matched and
whether it is defining, using substring tests where a pattern is (or starts with) a literal, and
(b) a prefilter that finds candidate lines in a whole chunk of raw bytes without running Python
code per line, and (c) which literal context patterns may be tallied in bulk (`tally`).
Boundary: pure; no I/O. Used by `state.ScanState`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from service.domain.logscan.models import ScanLimits
from service.domain.logscan.prefilter import (
    Prefilter,
    build_prefilter,
    is_literal,
    required_literal,
)
from service.domain.logscan.tally import Tally
from service.domain.redaction import Redactor
from service.domain.signatures import SignatureConfig

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
    if is_literal(pattern):
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
    prefilter: Prefilter  # every pattern: a line it passes is classified on its own
    tallies: tuple[Tally | None, ...]  # per rule, its literal context patterns
    # Literals that may be tallied in bulk: a literal another pattern needs (a regex starting
    # with it) is not, since those lines must be looked at one by one.
    tallied: tuple[bytes, ...]
    # mask of literal bits (bit len(literals): the regex prefilter) -> verdicts; filled lazily.
    _decisions: dict[int, Verdicts] = field(default_factory=dict)

    def decide(self, mask: int) -> Verdicts:
        """Verdicts of every rule for a line whose hits are `mask`, or None: look at the text."""
        if mask in self._decisions:
            return self._decisions[mask]
        literals = self.prefilter.literals
        found = frozenset(lit for bit, lit in enumerate(literals) if mask >> bit & 1)
        regex_hit = bool(mask >> len(literals) & 1)
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
    tallies: list[Tally | None] = []
    every: list[str] = []
    one_by_one: list[str] = []
    for sig in signatures:
        pats = sig.for_source(source)
        context = pats.context if limits.collect_context else []
        both = (*pats.defining, *context)
        if not both:
            continue
        rules.append(CompiledRule(sig.name, both, tuple(_matcher(p) for p in both),
                                  len(pats.defining)))
        # A literal context pattern is counted in bulk; one spanning lines could not match one.
        bulk = [is_literal(p) and "\n" not in p for p in context]
        tallied = tuple((len(pats.defining) + i, p.encode())
                        for i, p in enumerate(context) if bulk[i])
        tallies.append(Tally(tallied) if tallied else None)
        every.extend(both)
        one_by_one.extend(pats.defining)
        one_by_one.extend(p for p, b in zip(context, bulk, strict=True) if not b)
    needed = build_prefilter(one_by_one).byte_literals
    needles = (lit for t in tallies if t is not None for lit in t.needles)
    return ScanPlan(
        source=source,
        rules=tuple(rules),
        limits=limits,
        redactor=redactor,
        default_job=default_job,
        default_run_id=default_run_id,
        prefilter=build_prefilter(every),
        tallies=tuple(tallies),
        tallied=tuple(lit for lit in dict.fromkeys(needles) if lit not in needed),
    )
