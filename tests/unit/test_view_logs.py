"""LineCursor: stamped chunks in, each line out once, whatever the reconnections; gap classes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.cluster.errors import KubeForbidden, KubeRetryable, KubeStreamBroken, KubeTimeout
from service.runbook.view.gaps import GapBook, classify
from service.runbook.view.logs import LineCursor, Plan, stamp_of

LOG = (b"2026-02-26T10:00:00.100000000Z a\n"
       b"2026-02-26T10:00:00.5Z b\n"
       b"2026-02-26T10:00:00.5Z c\n"
       b"2026-02-26T10:00:01Z d\n")


def test_stamps_sort_whatever_their_precision() -> None:
    assert stamp_of(b"2026-02-26T10:00:00.5Z") > stamp_of(b"2026-02-26T10:00:00.45Z")
    assert stamp_of(b"2026-02-26T10:00:00Z") < stamp_of(b"2026-02-26T10:00:00.000000001Z")


NOW = datetime(2026, 2, 26, 10, 0, 2, tzinfo=UTC)


def test_it_catches_up_stamped_then_follows_plain_from_the_last_second() -> None:
    cursor = LineCursor(None, 1024)
    assert cursor.plan() == Plan(None, follow=False, timestamps=True)
    out = b"".join(cursor.take(LOG[i:i + 7], NOW) for i in range(0, len(LOG), 7))
    assert out == b"a\nb\nc\nd\n"
    assert cursor.ended(clean=True) == b""
    assert cursor.plan() == Plan("2026-02-26T10:00:01Z", follow=True, timestamps=False)
    # the follow starts at d's second: d again, then what is new
    assert cursor.take(b"d\ne\n", NOW) == b"e\n"
    assert cursor.lines == 5


def test_a_cut_catch_up_resumes_exactly_even_within_one_stamp() -> None:
    cursor = LineCursor(datetime(2026, 2, 26, 9, 59, 59, 700000, tzinfo=UTC), 1024)
    assert cursor.plan().since_time == "2026-02-26T09:59:59Z"
    cut = LOG.index(b"2026-02-26T10:00:00.5Z c")
    assert cursor.take(LOG[:cut + 10], NOW) == b"a\nb\n"  # cut in the middle of line c
    cursor.ended(clean=False)
    assert cursor.plan() == Plan("2026-02-26T10:00:00Z", follow=False, timestamps=True)
    assert cursor.take(LOG, NOW) == b"c\nd\n"  # a and b are sent again, and skipped
    assert cursor.lines == 4


def test_a_cut_follow_finds_its_place_by_the_last_lines_read() -> None:
    cursor = LineCursor(None, 1024, margin_s=60)
    cursor.plan()
    cursor.take(LOG, NOW)
    cursor.ended(clean=True)
    cursor.plan()
    later = NOW + timedelta(minutes=10)
    assert cursor.take(b"d\ne\nf", later) == b"e\n"  # cut in the middle of f
    cursor.ended(clean=False)
    # a margin before e arrived: e came late (the follow lagged), its place is further back
    assert cursor.plan() == Plan("2026-02-26T10:09:02Z", follow=False, timestamps=True)
    assert cursor.take(b"2026-02-26T10:09:30Z z\n", later) == b""
    assert cursor.ended(clean=True) == b""  # not found: look twice as far back
    assert cursor.plan().since_time == "2026-02-26T10:08:02Z"
    cursor.ended(clean=True)
    for since in ("2026-02-26T10:06:02Z", "2026-02-26T10:02:02Z"):
        assert cursor.plan().since_time == since
        cursor.ended(clean=True)
    # the window reaches back past the last stamp read (d): from d's second, the last try
    assert cursor.plan() == Plan("2026-02-26T10:00:01Z", follow=False, timestamps=True)
    again = (b"2026-02-26T10:00:01Z d\n2026-02-26T10:00:01.5Z e\n"
             b"2026-02-26T10:00:01.7Z f\n2026-02-26T10:09:30Z z\n")
    assert cursor.take(again, later) == b"f\nz\n"
    assert cursor.ended(clean=True) == b""
    assert cursor.plan() == Plan("2026-02-26T10:09:30Z", follow=True, timestamps=False)
    assert cursor.take(b"z\ng\n", later) == b"g\n"


def test_a_restarted_container_writes_a_new_log() -> None:
    cursor = LineCursor(None, 1024)
    cursor.plan()
    cursor.ended(clean=True)
    cursor.plan()
    cursor.take(b"old\n", NOW)
    cursor.ended(clean=True)  # the container exited
    cursor.plan()
    assert cursor.take(b"2026-02-26T10:00:01Z new\n", NOW) == b""  # not yet placed
    assert cursor.ended(clean=True) == b"new\n"  # never placed: all new


def test_an_over_long_line_keeps_its_head_only() -> None:
    cursor = LineCursor(None, 16)
    cursor.plan()
    line = b"2026-02-26T10:00:00Z " + b"x" * 500 + b"\n2026-02-26T10:00:01Z y\n"
    out = b"".join(cursor.take(line[i:i + 100], NOW) for i in range(0, len(line), 100))
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
