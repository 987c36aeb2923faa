"""The incident lifecycle and the identity rule, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.domain.alerts import Notification
from service.domain.incidents import IdentityRules, OpenIncidentView, key_of, plan_alert
from service.domain.lifecycle import IllegalTransition, State, transition
from tests.conftest import alert, notification

RULES = IdentityRules(default_namespace="codex-k8s-prod")
NOW = datetime(2026, 2, 26, 10, 5, tzinfo=UTC)


def test_happy_path_through_the_lifecycle() -> None:
    state = State.OPEN
    for target in (State.INVESTIGATING, State.MITIGATING, State.MONITORING, State.RESOLVED):
        state = transition(state, target)
    assert state is State.RESOLVED


@pytest.mark.parametrize(("current", "target"), [
    (State.RESOLVED, State.OPEN), (State.RESOLVED, State.INVESTIGATING),
    (State.OPEN, State.MONITORING), (State.MONITORING, State.INVESTIGATING),
    (State.OPEN, State.OPEN),
])
def test_illegal_moves_are_rejected(current: State, target: State) -> None:
    with pytest.raises(IllegalTransition, match=f"from {current} to {target}"):
        transition(current, target)


def test_identity_is_namespace_plus_signature_with_fallbacks() -> None:
    assert key_of({"alertname": "A", "namespace": "ns", "error_signature": "cache"}, RULES) \
        == key_of({"alertname": "B", "namespace": "ns", "error_signature": "cache"}, RULES)
    key = key_of({"alertname": "AI_SLOT_BUILD_FAILURE_BURST"}, RULES)
    assert (key.namespace, key.signature) == ("codex-k8s-prod", "AI_SLOT_BUILD_FAILURE_BURST")
    mapped = IdentityRules(default_namespace="ns", alert_signatures={
        "AI_SLOT_BUILD_FAILURE_BURST": "cache",
        "AI_SLOT_BUILD_MANIFEST_UNKNOWN_PERSISTENT": "cache"})
    assert key_of({"alertname": "AI_SLOT_BUILD_FAILURE_BURST"}, mapped) \
        == key_of({"alertname": "AI_SLOT_BUILD_MANIFEST_UNKNOWN_PERSISTENT"}, mapped)


def _alert(**kw: str) -> Notification:
    return Notification.model_validate(notification(alert(**kw)))


def test_plan_opens_attaches_resolves_and_ignores_duplicates() -> None:
    firing = _alert().alerts[0]
    opened = plan_alert(firing, rules=RULES, seen_before=False, open_incident=None,
                        incident_of_fingerprint=None, now=NOW, new_id=lambda _: "inc-new")
    assert opened.action == "open" and opened.incident_id == "inc-new" and opened.entry
    assert opened.first_failure_at == datetime(2026, 2, 26, 10, 0, tzinfo=UTC)

    view = OpenIncidentView(opened.incident_id, datetime(2026, 2, 26, 9, 0, tzinfo=UTC), ())
    again = plan_alert(firing, rules=RULES, seen_before=False, open_incident=view,
                       incident_of_fingerprint=None, now=NOW, new_id=lambda _: "inc-new")
    assert (again.action, again.incident_id) == ("attach", opened.incident_id)
    assert again.first_failure_at == view.first_failure_at  # the earliest failure is kept

    dup = plan_alert(firing, rules=RULES, seen_before=True, open_incident=view,
                     incident_of_fingerprint=None, now=NOW, new_id=lambda _: "inc-new")
    assert dup.action == "duplicate" and dup.entry is None

    resolved = _alert(status="resolved").alerts[0]
    res = plan_alert(resolved, rules=RULES, seen_before=False, open_incident=None,
                     incident_of_fingerprint="inc-x", now=NOW, new_id=lambda _: "inc-new")
    assert (res.action, res.incident_id) == ("resolve", "inc-x")
    stray = plan_alert(resolved, rules=RULES, seen_before=False, open_incident=None,
                       incident_of_fingerprint=None, now=NOW, new_id=lambda _: "inc-new")
    assert stray.action == "orphan"


def test_go_zero_end_time_means_not_ended() -> None:
    parsed = _alert().alerts[0]
    assert parsed.endsAt is not None and parsed.ends is None
    assert _alert(status="resolved").alerts[0].ends is not None


def test_delivery_key_distinguishes_status_and_start() -> None:
    a = _alert().alerts[0]
    assert a.delivery_key("g") == _alert().alerts[0].delivery_key("g")
    assert a.delivery_key("g") != _alert(status="resolved").alerts[0].delivery_key("g")
    assert a.delivery_key("g") != _alert(starts="2026-02-26T11:00:00Z").alerts[0].delivery_key("g")
    assert a.delivery_key("g") != a.delivery_key("h")
