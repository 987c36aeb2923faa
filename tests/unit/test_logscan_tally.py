"""Context lines tallied in bulk give exactly what classifying every line one by one gives."""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.logscan import LogScanner, ScanLimits, ScanResult
from service.domain.logscan.tally import count_lines, dense, long_lines
from service.domain.signatures import (
    SOURCE_CONTROL_PLANE,
    SignatureConfig,
    SourcePatterns,
    default_signatures,
)

WORDS = ["kaniko", "mirror", "MANIFEST_UNKNOWN", "checkout --detach", "fatal", "note",
         "CODEXK8S_BUILD_REF", "job=codex-k8s-kaniko-a-1", "run_id=r-2", "x" * 90, "é", "\r"]
# A third signature whose context mixes a regex and literals, one of them shared.
EXTRA = SignatureConfig(name="extra", patterns={SOURCE_CONTROL_PLANE: SourcePatterns(
    defining=["fatal"], context=[r"no+te", "mirror", "kaniko"])})


def scan(data: bytes, cuts: list[int], limits: ScanLimits, *, one_by_one: bool) -> ScanResult:
    scanner = LogScanner([*default_signatures(), EXTRA], SOURCE_CONTROL_PLANE, limits=limits)
    if one_by_one:  # a plan without tallies classifies every candidate line on its own
        scanner.plan = replace(scanner.plan, tallies=(None,) * len(scanner.plan.rules))
    state = scanner.new_state()
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for a, b in pairwise(points):
        state.feed(data[a:b])
    return state.result()


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(st.lists(st.sampled_from(WORDS), max_size=4), max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=20_000), max_size=8),
    keep=st.tuples(*[st.integers(min_value=0, max_value=3)] * 3),
    cap=st.integers(min_value=64, max_value=240),
    chatter=st.integers(min_value=0, max_value=800),
    filler=st.sampled_from([b"kaniko\n", b"a plain line that no pattern matches\n"]),
)
def test_bulk_tally_equals_line_by_line(lines: list[list[str]], cuts: list[int],
                                        keep: tuple[int, int, int], cap: int,
                                        chatter: int, filler: bytes) -> None:
    # filler lines make literals sparse (looked at line by line) or kaniko dense (tallied)
    data = "".join(" ".join(words) + "\n" for words in lines).encode() + filler * chatter
    limits = ScanLimits(keep_first=keep[0], keep_last=keep[1], keep_context=keep[2],
                        max_line_bytes=cap)
    bulk = scan(data, cuts, limits, one_by_one=False)
    assert bulk.model_dump() == scan(data, cuts, limits, one_by_one=True).model_dump()


def test_a_line_with_two_literals_counts_once() -> None:
    data = b"kaniko mirror kaniko\nnothing\nmirror\n"
    assert count_lines(data, len(data), {b"kaniko": 0, b"mirror": 7}) == 2
    assert count_lines(data, len(data), {b"kaniko": 0}) == 1


def test_only_dense_literals_are_tallied() -> None:
    data = b"kaniko\n" * 200 + b"x" * 3000 + b" mirror\n"
    firsts = {b"kaniko": 0, b"mirror": data.find(b"mirror")}
    assert dense(data, len(data), firsts) == {b"kaniko": 0}


def test_long_lines_are_found_whatever_their_place() -> None:
    lines = [b"a" * 10, b"b" * 70, b"c" * 64, b"d" * 65, b"e"]
    data = b"\n".join(lines) + b"\n"
    spans = long_lines(data, len(data), 64)
    assert [data[a:b] for a, b in spans] == [b"b" * 70, b"d" * 65]
