"""Log scanner: streaming, bounded, slog JSON and plain lines, occurrences, redacted excerpts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.logscan import LogScanner, ScanLimits, ScanResult, parse_line
from service.domain.signatures import (
    SIGNATURE_BUILD_REF,
    SIGNATURE_CACHE,
    SOURCE_CODEGEN,
    SOURCE_CONTROL_PLANE,
    SOURCE_JOBS,
    SOURCE_WORKER,
    SignatureConfig,
    SourcePatterns,
    default_signatures,
)

TOKEN = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"


def slog(ts: str, msg: str, level: str = "ERROR", **fields: str) -> str:
    return json.dumps({"time": ts, "level": level, "msg": msg, **fields})


CONTROL_PLANE_LOG = [
    slog("2026-02-26T10:00:00Z", "control-plane started", level="INFO"),
    slog(
        "2026-02-26T10:00:01Z",
        "launching kaniko job",
        level="INFO",
        job="codex-k8s-kaniko-api-1",
        run_id="run-1",
    ),
    slog(
        "2026-02-26T10:00:05.5Z",
        "kaniko job failed\n"
        f"Cloning https://x-access-token:{TOKEN}@github.com/codex-k8s/codex-k8s.git\n"
        "error building image: Error while retrieving image from cache: "
        "registry:5000/codex/api@sha256:abc MANIFEST_UNKNOWN: manifest unknown",
        job="codex-k8s-kaniko-api-1",
        run_id="run-1",
    ),
    slog("2026-02-26T10:00:06Z", "build retry: MANIFEST_UNKNOWN", run_id="run-1"),
    slog(
        "2026-02-26T10:03:00Z", "mirror job finished", level="INFO", job="codex-k8s-image-mirror-9"
    ),
    "error building image: MANIFEST_UNKNOWN: manifest unknown job=codex-k8s-kaniko-web-2",
    slog("2026-02-26T10:09:00Z", "MANIFEST_UNKNOWN for run", run_id="run-3"),
    "unrelated plain line",
]


def cp_scanner(limits: ScanLimits | None = None) -> LogScanner:
    return LogScanner(default_signatures(), SOURCE_CONTROL_PLANE, limits=limits)


def as_bytes(lines: Iterable[str]) -> bytes:
    return "".join(f"{line}\n" for line in lines).encode()


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


async def astream(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def summary(result: ScanResult) -> object:
    # Everything except byte counts, which differ between the str and bytes entry points.
    return result.model_dump(exclude={"bytes_scanned"})


async def test_control_plane_log_counts_and_occurrences() -> None:
    result = await cp_scanner().scan(astream(split(as_bytes(CONTROL_PLANE_LOG), 1024)))
    cache = result.stats(SIGNATURE_CACHE)
    assert result.lines_scanned == len(CONTROL_PLANE_LOG)
    assert cache.lines == 4
    # api-1 (two JSON lines, the run-only one folded in via run-1), web-2, run-3
    assert cache.occurrences == 3
    assert [o.key for o in cache.occurrence_list] == [
        "job:codex-k8s-kaniko-api-1",
        "run:run-3",
        "job:codex-k8s-kaniko-web-2",  # no timestamp: sorted last
    ]
    assert cache.occurrence_list[0].lines == 2
    assert cache.run_ids == ["run-1", "run-3"]
    assert cache.first_seen == datetime(2026, 2, 26, 10, 0, 5, 500000, tzinfo=UTC)
    assert cache.last_seen == datetime(2026, 2, 26, 10, 9, tzinfo=UTC)
    # "launching kaniko job" and "mirror job finished" are context only.
    assert cache.context_lines == 2
    assert all(not m.defining for m in cache.context)
    assert result.stats(SIGNATURE_BUILD_REF).lines == 0
    assert not result.truncated


async def test_excerpt_is_the_matching_relayed_line_redacted() -> None:
    result = await cp_scanner().scan(astream([as_bytes(CONTROL_PLANE_LOG)]))
    first = result.stats(SIGNATURE_CACHE).excerpts[0]
    assert first.excerpt.startswith("error building image: Error while retrieving image from")
    assert first.job == "codex-k8s-kaniko-api-1" and first.run_id == "run-1"
    assert first.level == "ERROR" and first.line_no == 3
    dumped = result.model_dump_json()
    assert TOKEN not in dumped


async def test_token_on_a_matching_line_is_redacted() -> None:
    line = f"MANIFEST_UNKNOWN while cloning https://x-access-token:{TOKEN}@github.com/o/r.git"
    result = cp_scanner().scan_lines([line])
    excerpt = result.stats(SIGNATURE_CACHE).excerpts[0].excerpt
    assert TOKEN not in excerpt and "[REDACTED]" in excerpt
    streamed = await cp_scanner().scan(astream([line.encode()]))
    assert TOKEN not in streamed.model_dump_json()


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=4000), max_size=30))
def test_result_does_not_depend_on_chunk_boundaries(cuts: list[int]) -> None:
    data = as_bytes(CONTROL_PLANE_LOG) + "é€ MANIFEST_UNKNOWN ü\n".encode()
    points = sorted({c % len(data) for c in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in pairwise(points)]
    whole = cp_scanner().scan_chunks([data])
    assert cp_scanner().scan_chunks(chunks).model_dump() == whole.model_dump()
    assert summary(cp_scanner().scan_lines(data.decode().splitlines())) == summary(whole)


def test_one_byte_chunks_give_the_same_result() -> None:
    data = as_bytes(CONTROL_PLANE_LOG)
    assert cp_scanner().scan_chunks(split(data, 1)) == cp_scanner().scan_chunks([data])


def test_kubelet_timestamp_prefix_and_crlf() -> None:
    lines = [
        "2026-02-26T10:00:00.123456789Z error building image: MANIFEST_UNKNOWN\r",
        "2026-02-26T10:00:01+00:00 " + slog("2026-02-26T09:59:59Z", "MANIFEST_UNKNOWN"),
    ]
    result = cp_scanner().scan_chunks([as_bytes(lines)])
    cache = result.stats(SIGNATURE_CACHE)
    assert cache.first_seen == datetime(2026, 2, 26, 9, 59, 59, tzinfo=UTC)  # slog time wins
    assert cache.last_seen == datetime(2026, 2, 26, 10, 0, 0, 123456, tzinfo=UTC)
    assert cache.excerpts[0].excerpt == "error building image: MANIFEST_UNKNOWN"
    assert cache.unattributed_lines == 2 and cache.occurrences == 0


def test_parse_line_fields_from_plain_text() -> None:
    fields = parse_line(
        'time="2026-02-26 10:00:00" level=error msg="x" run_id=run-9 job/codex-k8s-kaniko-a-1'
    )
    assert fields.timestamp == datetime(2026, 2, 26, 10, tzinfo=UTC)
    assert (fields.level, fields.run_id, fields.job) == ("error", "run-9", "codex-k8s-kaniko-a-1")
    assert parse_line("build job: failed").job is None  # prose is not a job name


def test_context_patterns_alone_create_no_occurrence() -> None:
    scanner = LogScanner(default_signatures(), SOURCE_WORKER)
    lines = [
        slog("2026-02-26T10:00:00Z", "build failed", run_id="run-1"),
        slog("2026-02-26T10:00:01Z", "step done", level="INFO", run_id="run-2"),
    ]
    cache = scanner.scan_lines(lines).stats(SIGNATURE_CACHE)
    assert cache.context_lines == 2  # `build failed`, and the `run_id` key like grep would
    assert cache.lines == 0 and cache.occurrences == 0 and cache.first_seen is None


def test_build_ref_signature_in_codegen_logs() -> None:
    scanner = LogScanner(
        default_signatures(), SOURCE_CODEGEN, default_job="codex-k8s-codegen-check"
    )
    lines = [
        "CODEXK8S_BUILD_REF=--bad-ref",
        "+ git checkout --detach --bad-ref",
        "error: unknown switch `b'",
        "fatal: 'nope' is not a commit and a branch 'x' cannot be created from it",
    ]
    result = scanner.scan_lines(lines)
    ref = result.stats(SIGNATURE_BUILD_REF)
    assert ref.lines == 2 and ref.context_lines == 2
    assert ref.occurrences == 1 and ref.jobs == ["codex-k8s-codegen-check"]
    assert [m.pattern for m in ref.excerpts] == ["unknown switch", "is not a commit"]
    assert SIGNATURE_CACHE not in result.signatures  # cache has no codegen patterns


def test_job_log_uses_default_job() -> None:
    scanner = LogScanner(default_signatures(), SOURCE_JOBS, default_job="codex-k8s-kaniko-api-1")
    lines = ["INFO[0001] Retrieving image manifest"] + ["MANIFEST_UNKNOWN: manifest unknown"] * 3
    cache = scanner.scan_lines(lines).stats(SIGNATURE_CACHE)
    assert cache.lines == 3 and cache.occurrences == 1


def test_excerpts_keep_first_and_last() -> None:
    limits = ScanLimits(keep_first=2, keep_last=2)
    lines = [f"MANIFEST_UNKNOWN build {i} job=codex-k8s-kaniko-x-{i}" for i in range(50)]
    cache = cp_scanner(limits).scan_lines(lines).stats(SIGNATURE_CACHE)
    assert [m.line_no for m in cache.excerpts] == [1, 2, 49, 50]
    assert cache.excerpts_dropped == 46 and cache.occurrences == 50


def test_occurrences_are_capped() -> None:
    limits = ScanLimits(max_occurrences=3)
    lines = [f"MANIFEST_UNKNOWN job=codex-k8s-kaniko-x-{i}" for i in range(10)]
    result = cp_scanner(limits).scan_lines(lines)
    cache = result.stats(SIGNATURE_CACHE)
    assert cache.occurrences == 3 and cache.occurrences_capped and cache.lines == 10
    assert result.truncated


def test_long_lines_are_cut_not_buffered() -> None:
    limits = ScanLimits(max_line_bytes=100)
    head_match = "MANIFEST_UNKNOWN " + "x" * 5000
    tail_match = "y" * 5000 + " MANIFEST_UNKNOWN"
    data = as_bytes(["short ok", head_match, tail_match, "MANIFEST_UNKNOWN end"])
    state = cp_scanner(limits).new_state()
    peak = 0
    for chunk in split(data, 37):
        state.feed(chunk)
        peak = max(peak, state.held_bytes)  # the partial line held between chunks
    result = state.result()
    assert peak <= 100
    cache = result.stats(SIGNATURE_CACHE)
    assert result.lines_scanned == 4 and result.lines_truncated == 2 and result.truncated
    # beyond the cap a line is not looked at, whatever the chunking
    assert cache.lines == 2
    assert cache.excerpts[0].line_truncated and not cache.excerpts[1].line_truncated
    assert cp_scanner(limits).scan_chunks([data]).model_dump() == result.model_dump()


def test_excerpt_is_capped_around_the_match() -> None:
    limits = ScanLimits(excerpt_chars=60)
    line = "a" * 300 + " MANIFEST_UNKNOWN " + "b" * 300
    excerpt = cp_scanner(limits).scan_lines([line]).stats(SIGNATURE_CACHE).excerpts[0].excerpt
    assert "MANIFEST_UNKNOWN" in excerpt and len(excerpt) <= 62


def test_invalid_utf8_and_no_final_newline() -> None:
    data = b"\xff\xfe MANIFEST_UNKNOWN \xc3\n" + b"MANIFEST_UNKNOWN tail without newline"
    result = cp_scanner().scan_chunks(split(data, 5))
    assert result.lines_scanned == 2 and result.stats(SIGNATURE_CACHE).lines == 2
    assert "\ufffd" in result.stats(SIGNATURE_CACHE).excerpts[0].excerpt


async def test_max_bytes_stops_the_stream_early() -> None:
    consumed = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal consumed
        while True:
            consumed += 1
            yield b"MANIFEST_UNKNOWN job=codex-k8s-kaniko-a-1\n" * 100

    result = await cp_scanner(ScanLimits(max_bytes=10_000)).scan(endless())
    assert result.stopped_early and result.truncated and result.bytes_scanned == 10_000
    assert consumed < 5


def test_regex_patterns_and_multiple_signatures_on_one_line() -> None:
    sigs = [
        SignatureConfig(name="a", patterns={"s": SourcePatterns(defining=[r"err(or)? \d+"])}),
        SignatureConfig(name="b", patterns={"s": SourcePatterns(defining=["fatal"])}),
    ]
    result = LogScanner(sigs, "s").scan_chunks([b"x\nfatal error 42\nerr 7\nok\n"])
    assert result.stats("a").lines == 2 and result.stats("b").lines == 1
    assert result.stats("a").excerpts[0].pattern == r"err(or)? \d+"


def test_invalid_pattern_is_rejected_at_config_time() -> None:
    with pytest.raises(ValueError, match="invalid regex"):
        SourcePatterns(defining=["(unclosed"])


def test_an_excerpt_never_cuts_a_value() -> None:
    digest = "sha256:" + "f" * 64
    line = (f"GET http://registry:5000/v2/cache/manifests/{digest} {'x ' * 40}run "
            "3cf13983-c601-48e7-90b4-474ee72fe977 MANIFEST_UNKNOWN manifest unknown "
            f"{'y ' * 60}then http://registry:5000/v2/cache/blobs/{digest} end")
    excerpt = cp_scanner(ScanLimits(excerpt_chars=120)).scan_lines([line]) \
        .stats(SIGNATURE_CACHE).excerpts[0].excerpt
    assert "MANIFEST_UNKNOWN" in excerpt and len(excerpt) <= 122
    words = line.split(" ")
    assert all(w in words for w in excerpt.strip("…").split(" ") if w)
