"""The demo's closing summary says what happened to the switch, in words people read."""

from __future__ import annotations

from service.domain.timetext import span as responder_span
from simulator.demo import _switch_line, span


def test_a_switch_never_touched_prints_no_none_arrows() -> None:
    line = _switch_line({"status": "skipped", "previous_value": None, "new_value": None,
                         "rollout": "n/a"})
    assert line == "skipped (not changed)"
    assert "None" not in line


def test_an_applied_switch_shows_before_after_and_the_rollout() -> None:
    assert _switch_line({"status": "applied", "previous_value": "true", "new_value": "false",
                         "rollout": "complete"}) == "applied (true -> false), rollout complete"
    assert _switch_line({"status": "already_off", "previous_value": None, "new_value": "false",
                         "rollout": "n/a"}) == "already off (unset -> false)"


def test_mttr_reads_as_the_responders_messages_write_durations() -> None:
    # The demo may not import the responder; its span must still say what the messages say.
    for seconds in [*range(-90, 4000, 7), 86_399, 86_400, 90_061, 0.2, 45.4, 59.6]:
        assert span(seconds) == responder_span(seconds), seconds
    assert span(270) == "4 min 30 s"
