"""What the page works out: one time format, human durations, highlighted matches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.api.page_view import highlighted, plain_times, relative, when
from service.domain.logscan.models import LogMatch
from service.domain.timetext import rough

NOW = datetime(2026, 12, 5, 7, 16, 31, tzinfo=UTC)


def test_one_time_format_and_relative_times() -> None:
    assert when(NOW) == "2026-12-05 07:16:31 UTC"
    assert when(None) == "-"
    assert relative(NOW - timedelta(minutes=3, seconds=5), NOW) == "3 min ago"
    assert relative(NOW + timedelta(minutes=12), NOW) == "in 12 min"
    assert relative(NOW, NOW) == "just now"
    assert [rough(s) for s in (45, 180, 3900, 7200, 3 * 86400 + 4 * 3600)] == [
        "45 s", "3 min", "1 h 5 min", "2 h", "3 d 4 h"]


def test_stored_iso_instants_read_in_the_page_format() -> None:
    text = ("not recovered 31 min after the first recorded failure at "
            "2026-12-05T07:00:49.937000+00:00 (deadline 30 min); at 2026-12-05T09:00:00+02:00")
    assert plain_times(text) == (
        "not recovered 31 min after the first recorded failure at 2026-12-05 07:00:49 UTC "
        "(deadline 30 min); at 2026-12-05 07:00:00 UTC")


def _match(excerpt: str, pattern: str) -> LogMatch:
    return LogMatch(source="control_plane", signature="cache", pattern=pattern, defining=True,
                    line_no=1, excerpt=excerpt)


def test_matches_are_cut_out_for_highlighting() -> None:
    pieces = highlighted(_match("err MANIFEST_UNKNOWN: manifest unknown MANIFEST_UNKNOWN",
                                "MANIFEST_UNKNOWN"))
    assert [(p.text, p.match) for p in pieces] == [
        ("err ", False), ("MANIFEST_UNKNOWN", True), (": manifest unknown ", False),
        ("MANIFEST_UNKNOWN", True)]
    assert [(p.text, p.match) for p in highlighted(_match("build failed", "MANIFEST"))] == [
        ("build failed", False)]
