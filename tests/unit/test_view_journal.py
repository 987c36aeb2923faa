"""The live view's journal of the lines the evidence scans: what it keeps, for how long."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.domain.signatures import SOURCE_CONTROL_PLANE, SOURCE_WORKER, default_signatures
from service.runbook.view.journal import LineJournal, journal_patterns

T0 = datetime(2026, 2, 26, 10, 0, tzinfo=UTC)


def _slog(when: datetime, msg: str) -> bytes:
    return (b'{"time":"' + when.isoformat().encode() + b'","level":"ERROR","msg":"'
            + msg.encode() + b'"}')


def _journal(max_bytes: int = 1 << 20) -> LineJournal:
    return LineJournal(journal_patterns(default_signatures(), SOURCE_CONTROL_PLANE),
                       window_s=3600, max_bytes=max_bytes)


def test_keeps_defining_lines_markers_and_cause_context_not_chatter() -> None:
    journal = _journal()
    lines = [_slog(T0, "kaniko: MANIFEST_UNKNOWN on cache"),  # defining
             _slog(T0, "kaniko build job completed"),  # the cache signature's recovery marker
             _slog(T0, "env CODEXK8S_BUILD_REF=feature/x"),  # context of a signature's cause
             _slog(T0, "kaniko executor progress"), b"plain chatter"]  # chatter
    journal.feed(b"\n".join(lines) + b"\n", T0)
    assert journal.lines(T0 - timedelta(hours=1)) == b"\n".join(lines[:3]) + b"\n"


def test_lines_of_a_window_by_their_own_time_oldest_first() -> None:
    journal = _journal()
    late, early = _slog(T0, "MANIFEST_UNKNOWN b"), _slog(T0 - timedelta(hours=2),
                                                         "MANIFEST_UNKNOWN a")
    journal.feed(late + b"\n" + early + b"\n" + b"MANIFEST_UNKNOWN undated\n", T0)
    assert journal.lines(T0 - timedelta(hours=3)) == early + b"\n" + late + \
        b"\nMANIFEST_UNKNOWN undated\n"  # undated: its arrival time
    assert journal.lines(T0 - timedelta(hours=1)) == late + b"\nMANIFEST_UNKNOWN undated\n"


def test_bounded_by_the_window_on_arrival_and_by_bytes() -> None:
    journal = _journal()
    journal.feed(_slog(T0, "MANIFEST_UNKNOWN old") + b"\n", T0)
    journal.feed(_slog(T0, "MANIFEST_UNKNOWN new") + b"\n", T0 + timedelta(hours=2))
    assert journal.lines(T0 - timedelta(days=1)) == _slog(T0, "MANIFEST_UNKNOWN new") + b"\n"
    small = _journal(max_bytes=120)
    for n in range(5):
        small.feed(_slog(T0, f"MANIFEST_UNKNOWN {n}") + b"\n", T0)
    assert small.dropped > 0
    assert small.lines(T0).endswith(_slog(T0, "MANIFEST_UNKNOWN 4") + b"\n")


def test_a_source_without_patterns_keeps_nothing() -> None:
    journal = LineJournal([], window_s=60, max_bytes=1024)
    journal.feed(b"MANIFEST_UNKNOWN\n", T0)
    assert journal.lines(T0 - timedelta(hours=1)) == b""
    assert "run_id" not in journal_patterns(default_signatures(), SOURCE_WORKER)
