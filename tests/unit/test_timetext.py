"""One time format in every message: moments to the second in UTC, spans in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from service.domain.timetext import clock, moment, span


def test_a_moment_is_utc_to_the_second_without_microseconds() -> None:
    at = datetime(2026, 12, 5, 7, 16, 31, 937000, tzinfo=UTC)
    assert moment(at) == "2026-12-05 07:16:31 UTC"
    assert moment(at.astimezone(timezone(timedelta(hours=3)))) == "2026-12-05 07:16:31 UTC"
    assert moment(None) == "unknown" and moment(None, "-") == "-"
    assert clock(at) == "07:16:31" and clock(None) == "--:--:--"


def test_a_span_is_its_two_largest_units() -> None:
    assert [span(s) for s in (0, 0.4, 45, 60, 180, 450, 1800, 1812, 3600, 3900)] == [
        "0 s", "0 s", "45 s", "1 min", "3 min", "7 min 30 s", "30 min", "30 min 12 s",
        "1 h", "1 h 5 min"]
    assert span(timedelta(days=1, hours=3, seconds=5)) == "1 d 3 h"
    assert span(timedelta(minutes=3)) == "3 min"  # never 0:03:00
