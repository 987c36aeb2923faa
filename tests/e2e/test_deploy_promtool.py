"""Alertmanager receiver and Prometheus rules checked by the real tools (Debian packages
``prometheus-alertmanager``: amtool; ``prometheus``: promtool), and the service's /metrics
accepted by ``promtool check metrics``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import AppStarter, make_settings, notification

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
AM_CONFIG = ROOT / "config" / "alertmanager.yml"
RULES = ROOT / "config" / "prometheus-rules.yml"
RULE_TESTS = ROOT / "config" / "prometheus-rules.test.yml"
CATALOG = {"AI_SLOT_BUILD_FAILURE_BURST": "page",
           "AI_SLOT_BUILD_MANIFEST_UNKNOWN_PERSISTENT": "page",
           "AI_SLOT_CODEGEN_CHECK_BUILD_REF_INVALID": "page",
           "AI_SLOT_BUILD_FAILURE_RATE_ELEVATED": "ticket",
           "AI_SLOT_BUILD_MTTR_SLO_RISK": "ticket"}
ALERT_ID = "ALT-CK8S-AISLOT-BUILD-0001"


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:  # fail, never skip: CI installs it (scripts/bootstrap --system)
        pytest.fail(f"{name} not found: install the Debian package {package} "
                    f"(scripts/bootstrap --system does)")
    return path


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), input=stdin, check=False, capture_output=True, text=True,
                          timeout=120)


SELF = "AISLOT_RESPONDER_NOTIFICATIONS_REJECTED"  # the responder's own health, not the catalog


def rules(group: str = "aislot-build-pipeline") -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for g in doc["groups"] if g["name"] == group for rule in g["rules"]]


# ---------------------------------------------------------------------------------- Alertmanager


def test_amtool_accepts_the_alertmanager_config() -> None:
    proc = run(tool("amtool", "prometheus-alertmanager"), "check-config", str(AM_CONFIG))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_receiver_is_copy_paste_correct() -> None:
    config = yaml.safe_load(AM_CONFIG.read_text(encoding="utf-8"))
    (receiver,) = [r for r in config["receivers"] if r["name"] == "aislot-responder"]
    (hook,) = receiver["webhook_configs"]
    assert hook["url"].startswith("http://aislot-responder.")
    assert hook["url"].endswith(".svc:8080/webhook")
    assert hook["send_resolved"] is True
    assert hook["max_alerts"] == 0
    auth = hook["http_config"]["authorization"]
    assert auth["type"] == "Bearer" and auth["credentials_file"].startswith("/")
    assert "credentials" not in auth, "the token is never inlined"
    routes = [r for r in config["route"]["routes"] if r["receiver"] == "aislot-responder"]
    assert routes and all(r["group_by"] == ["alertname", "namespace"] for r in routes)
    assert all(r.get("continue") is True for r in routes), "on-call routes still get the alerts"


@pytest.mark.parametrize("alertname", sorted(CATALOG))
def test_every_catalog_alert_reaches_the_responder_once(alertname: str) -> None:
    amtool = tool("amtool", "prometheus-alertmanager")
    (rule,) = [r for r in rules() if r["alert"] == alertname]
    labels = {"alertname": alertname, "namespace": "codex-k8s-prod",
              "error_signature": "cache", **rule["labels"]}
    args = [f"{k}={v}" for k, v in labels.items()]
    proc = run(amtool, "config", "routes", "test", f"--config.file={AM_CONFIG}", *args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "aislot-responder", proc.stdout
    # Rule files without the alert_id label still route, once.
    without_id = [a for a in args if not a.startswith("alert_id=")]
    proc = run(amtool, "config", "routes", "test", f"--config.file={AM_CONFIG}", *without_id)
    assert proc.stdout.strip() == "aislot-responder", proc.stdout


@pytest.mark.parametrize("alertname", ["KubePodCrashLooping", SELF])
def test_other_alerts_do_not_reach_the_responder(alertname: str) -> None:
    """Nor does the responder's own alert: refusing notifications, it would refuse it too."""
    proc = run(tool("amtool", "prometheus-alertmanager"), "config", "routes", "test",
               f"--config.file={AM_CONFIG}", f"alertname={alertname}",
               "namespace=codex-k8s-prod", "severity=page")
    assert proc.stdout.strip() == "default", proc.stdout


# ------------------------------------------------------------------------------ Prometheus rules


def test_promtool_accepts_the_rules() -> None:
    proc = run(tool("promtool", "prometheus"), "check", "rules", str(RULES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(CATALOG) + 1} rules found" in proc.stdout
    assert [r["alert"] for r in rules("aislot-responder")] == [SELF]


def test_promtool_unit_tests_pass() -> None:
    text = RULE_TESTS.read_text(encoding="utf-8")
    tested = {t["alertname"] for case in yaml.safe_load(text)["tests"]
              for t in case.get("alert_rule_test", [])}
    assert {"AI_SLOT_BUILD_FAILURE_BURST", "AI_SLOT_BUILD_FAILURE_RATE_ELEVATED", SELF} <= tested
    proc = run(tool("promtool", "prometheus"), "test", "rules", str(RULE_TESTS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_rules_are_the_alert_catalog() -> None:
    found = {r["alert"]: r for r in rules()}
    assert set(found) == set(CATALOG)
    for name, rule in found.items():
        labels = rule["labels"]
        assert labels["severity"] == CATALOG[name], name
        assert labels["alert_id"] == ALERT_ID, name
        assert labels["job_kind"], name
        # The incident identity: namespace + error_signature, static or from the expression.
        assert "error_signature" in labels or '"error_signature"' in rule["expr"], name
        assert labels.get("error_signature", "cache") in {"cache", "build-ref"}, name
        assert "namespace" in labels or "by (namespace" in rule["expr"], name
        annotations = rule["annotations"]
        assert {"summary", "description", "runbook_url"} <= set(annotations), name
        assert annotations["runbook_url"].startswith("https://"), name
        assert annotations["runbook_url"].endswith("runbook_ai_slot_build_failures.md"), name


def test_log_sourced_rules_use_the_service_metrics() -> None:
    exprs = {r["alert"]: r["expr"] for r in rules()}
    assert "kube_job_status_failed" in exprs["AI_SLOT_BUILD_FAILURE_BURST"]
    assert "kube_job_status_succeeded" in exprs["AI_SLOT_BUILD_FAILURE_RATE_ELEVATED"]
    persistent = exprs["AI_SLOT_BUILD_MANIFEST_UNKNOWN_PERSISTENT"]
    assert "aislot_signature_occurrences_total" in persistent
    assert "aislot_mitigations_total" in persistent
    # The build-ref page must fire before any incident is open: from the platform's job facts,
    # not from the responder's own counter (which only moves once an incident exists).
    build_ref = exprs["AI_SLOT_CODEGEN_CHECK_BUILD_REF_INVALID"]
    assert "kube_job_status_failed" in build_ref and "codegen-check" in build_ref
    assert "aislot_" not in build_ref
    assert "aislot_incident_mttr_seconds" in exprs["AI_SLOT_BUILD_MTTR_SLO_RISK"]


# ------------------------------------------------------------------------------ service /metrics


async def test_promtool_accepts_the_service_metrics(tmp_path: Path, start_app: AppStarter) -> None:
    promtool = tool("promtool", "prometheus")
    client = await start_app(make_settings(tmp_path))
    status, _ = await client.webhook(notification())
    assert status == 200
    async with client.http.get(f"{client.base}/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        body = await resp.text()
    assert "aislot_webhooks_total" in body
    proc = run(promtool, "check", "metrics", stdin=body)
    assert proc.returncode == 0 and not proc.stdout.strip() and not proc.stderr.strip(), (
        f"promtool check metrics found problems:\n{proc.stdout}{proc.stderr}")
