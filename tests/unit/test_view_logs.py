"""LineCursor: stamped chunks in, each line out once, whatever the reconnections; gap classes."""

from __future__ import annotations

from datetime import UTC, datetime

from service.kube_errors import KubeForbidden, KubeRetryable, KubeStreamBroken, KubeTimeout
from service.view.gaps import GapBook, classify
from service.view.logs import LineCursor, stamp_of

LOG = (b"2026-02-26T10:00:00.100000000Z a\n"
       b"2026-02-26T10:00:00.5Z b\n"
       b"2026-02-26T10:00:00.5Z c\n"
       b"2026-02-26T10:00:01Z d\n")


def test_stamps_sort_whatever_their_precision() -> None:
    assert stamp_of(b"2026-02-26T10:00:00.5Z") > stamp_of(b"2026-02-26T10:00:00.45Z")
    assert stamp_of(b"2026-02-26T10:00:00Z") < stamp_of(b"2026-02-26T10:00:00.000000001Z")


def test_lines_split_across_chunks_come_out_whole_and_unstamped() -> None:
    cursor = LineCursor(None, 1024)
    out = b"".join(cursor.take(LOG[i:i + 7]) for i in range(0, len(LOG), 7))
    assert out == b"a\nb\nc\nd\n"
    assert cursor.resume_time() == "2026-02-26T10:00:01Z"


def test_a_resumed_stream_skips_what_was_read_even_within_one_stamp() -> None:
    cursor = LineCursor(datetime(2026, 2, 26, 9, 59, 59, 700000, tzinfo=UTC), 1024)
    assert cursor.resume_time() == "2026-02-26T09:59:59Z"
    cut = LOG.index(b"2026-02-26T10:00:00.5Z c")
    assert cursor.take(LOG[:cut + 10]) == b"a\nb\n"  # cut in the middle of line c
    cursor.reconnect()
    # sinceTime is the last line's second: the server sends a, b again, then the rest
    assert cursor.take(LOG) == b"c\nd\n"
    assert cursor.lines == 4


def test_an_over_long_line_keeps_its_head_only() -> None:
    cursor = LineCursor(None, 16)
    line = b"2026-02-26T10:00:00Z " + b"x" * 500 + b"\n2026-02-26T10:00:01Z y\n"
    out = b"".join(cursor.take(line[i:i + 100]) for i in range(0, len(line), 100))
    head, tail = out.split(b"\n")[:2]
    assert set(head) == {ord("x")} and 16 <= len(head) <= 80 and tail == b"y"


def test_gap_classes_and_first_since() -> None:
    forbidden = KubeForbidden("no", verb="list", resource="jobs", namespace="ns")
    assert classify(forbidden) == ("forbidden", "grant list on jobs in namespace ns")
    assert classify(KubeTimeout("slow"))[0] == "timeout"
    assert classify(KubeRetryable("refused"))[0] == "unreachable"
    assert classify(KubeRetryable("busy", status=503))[0] == "error"
    broken = KubeStreamBroken("cut")
    broken.__cause__ = TimeoutError()
    assert classify(broken)[0] == "timeout"
    book = GapBook()
    first, later = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    assert book.fail("jobs", forbidden, first)
    assert not book.fail("jobs", forbidden, later)
    assert book.gaps()[0].since == first
    assert book.clear("jobs") and book.gaps() == []
