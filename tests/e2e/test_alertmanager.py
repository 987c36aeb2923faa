"""The real Alertmanager posts to the real ``aislot-responder serve`` process."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.procs import alertmanager, http, responder, wait_until

TOKEN, READ = "am-token-e2e-0123456789", "read-token-e2e-0123456789"
ENV = {"AISLOT_AUTH__WEBHOOK_TOKEN": TOKEN, "AISLOT_AUTH__READ_TOKEN": READ}


def _alert(ends: datetime | None = None) -> dict[str, object]:
    alert: dict[str, object] = {
        "labels": {"alertname": "AI_SLOT_BUILD_MANIFEST_UNKNOWN_PERSISTENT",
                   "namespace": "codex-k8s-prod", "error_signature": "cache",
                   "job_kind": "kaniko", "severity": "page"},
        "annotations": {"summary": "MANIFEST_UNKNOWN while retrieving image from cache"},
        "startsAt": (datetime.now(UTC) - timedelta(minutes=3)).isoformat(),
        "generatorURL": "http://prometheus.example/graph",
    }
    if ends is not None:
        alert["endsAt"] = ends.isoformat()
    return alert


def test_alertmanager_delivers_firing_then_resolved(tmp_path: Path) -> None:
    with responder(tmp_path, ENV) as svc, \
            alertmanager(tmp_path, f"{svc.base}/webhook", TOKEN) as am:
        fired = _alert()
        am.post_alerts([fired])

        def incident() -> dict[str, object] | None:
            _, listing = http("GET", f"{svc.base}/incidents", token=READ)
            return listing["incidents"][0] if listing["incidents"] else None

        summary = wait_until(incident, what="an incident from Alertmanager's notification")
        status, detail = http("GET", f"{svc.base}/incidents/{summary['id']}", token=READ)
        assert status == 200
        assert (detail["namespace"], detail["signature"]) == ("codex-k8s-prod", "cache")
        assert detail["alerts"][0]["alertname"] == "AI_SLOT_BUILD_MANIFEST_UNKNOWN_PERSISTENT"
        assert detail["alerts"][0]["generator_url"] == "http://prometheus.example/graph"
        assert detail["alerts"][0]["group_key"].startswith("{}:")

        am.post_alerts([{**fired, "endsAt": datetime.now(UTC).isoformat()}])

        def resolved_recorded() -> dict[str, object] | None:
            _, inc = http("GET", f"{svc.base}/incidents/{summary['id']}", token=READ)
            kinds = [e["kind"] for e in inc["timeline"]]
            return inc if "alert_resolved" in kinds else None

        detail = wait_until(resolved_recorded, what="the resolved notification")
        assert detail["counters"]["alerts_resolved"] == 1
        assert [a["status"] for a in detail["alerts"]] == ["firing", "resolved"]
        assert detail["state"] != "resolved"  # recovery, not Alertmanager, closes it


def test_wrong_token_fails_with_401_and_stores_nothing(tmp_path: Path) -> None:
    with responder(tmp_path, ENV) as svc, \
            alertmanager(tmp_path, f"{svc.base}/webhook", "not-the-token") as am:
        am.post_alerts([_alert()])
        wait_until(lambda: "401" in am.log(), what="Alertmanager to log the 401")
        _, metrics = http("GET", f"{svc.base}/metrics")
        assert 'aislot_webhooks_total{outcome="rejected_401"}' in metrics
        _, listing = http("GET", f"{svc.base}/incidents", token=READ)
        assert listing["incidents"] == []
        assert TOKEN not in svc.log() and "not-the-token" not in svc.log()


def test_a_group_over_the_body_limit_is_logged_and_counted(tmp_path: Path) -> None:
    """Issue 12, finding 5: Alertmanager drops a group the responder refuses with 413 (a 4xx is
    not retried). On main the responder neither logged nor counted it; now it says how big the
    group was, and ``aislot_webhooks_total{outcome="rejected_413"}`` feeds the alert rule
    (its promtool test is in config/prometheus-rules.test.yml)."""
    limit = 64 * 1024
    env = {**ENV, "AISLOT_SERVER__MAX_BODY_BYTES": str(limit)}
    with responder(tmp_path, env) as svc, \
            alertmanager(tmp_path, f"{svc.base}/webhook", TOKEN) as am:
        group = []
        for i in range(300):  # one group (alertname + namespace), one alert per failed job
            one = _alert()
            one["labels"] = {**one["labels"], "job_name": f"kaniko-build-{i:04d}"}
            group.append(one)
        am.post_alerts(group)

        def refused() -> list[dict[str, Any]]:
            lines = [json.loads(x) for x in svc.log().splitlines() if x.startswith("{")]
            return [e for e in lines
                    if e.get("event") == "webhook_rejected" and e.get("status") == 413]

        wait_until(refused, what="the responder to log the 413")
        wait_until(lambda: "Notify for alerts failed" in am.log() or "413" in am.log(),
                   what="Alertmanager to see the 413")
        # group_wait 0s may flush a first part of the group before the rest: each flush over
        # the limit is one refusal, logged and counted once (read together, as they settle).

        def counted() -> tuple[list[dict[str, Any]], float, float] | None:
            events = refused()
            _, metrics = http("GET", f"{svc.base}/metrics")
            values = {line.split()[0]: float(line.split()[1]) for line in metrics.splitlines()
                      if line.startswith("aislot_webhook")}
            total = values.get('aislot_webhooks_total{outcome="rejected_413"}', 0.0)
            over = values['aislot_webhook_body_bytes_bucket{le="+Inf"}'] - values[
                f'aislot_webhook_body_bytes_bucket{{le="{float(limit)}"}}']
            return (events, total, over) if events and total == over == len(events) else None

        events, total, over = wait_until(counted, what="each refusal logged and counted once")
        assert events and total == over == len(events)
        for event in events:
            assert event["level"] == "error" and event["limit_bytes"] == limit
            assert event["body_bytes"] > limit
