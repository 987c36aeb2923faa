"""The kill switch set by ``valueFrom`` (a Secret key) in the control-plane container's env.

The real apiserver's answer to the patch that sets ``value`` alone is a 422 (a strategic merge
keeps ``valueFrom`` beside the new ``value``); the responder, with the chart's identity (no
Secret access in ``deployment-env`` mode), changes nothing, does not claim the switch applied, and
tells on-call at once (``mitigation_failed``) with the API's reason and the exact manual command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.realkube.cluster import ControlPlane
from tests.realkube.responder import (
    chart_rbac,
    fire,
    install_identity,
    mitigation,
    responder,
    until,
    writes,
)
from tests.realkube.world import NAMESPACE, SeededWorld

pytestmark = pytest.mark.realkube
CONTROL_PLANE = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/codex-k8s-control-plane"
SWITCH = "CODEXK8S_KANIKO_CACHE_ENABLED"
FROM_SECRET = {"secretKeyRef": {"name": "codex-k8s-runtime", "key": SWITCH}}


def _env_patch(entry: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": [
        {"name": "control-plane", "env": [{"name": SWITCH, **entry}]}]}}}}


def _switch_from_secret(realkube: SeededWorld) -> dict[str, Any]:
    api = realkube.api
    status, body = api.patch(f"/api/v1/namespaces/{NAMESPACE}/secrets/codex-k8s-runtime",
                             {"stringData": {SWITCH: "true"}})
    assert status == 200, body
    status, body = api.patch(CONTROL_PLANE, _env_patch({"value": None, "valueFrom": FROM_SECRET}))
    assert status == 200, body
    return dict(body)


def test_real_apiserver_refuses_value_beside_value_from(realkube: SeededWorld) -> None:
    before = _switch_from_secret(realkube)
    status, body = realkube.api.patch(CONTROL_PLANE, _env_patch({"value": "false"}))
    assert status == 422 and body["reason"] == "Invalid", body
    (cause,) = body["details"]["causes"]
    assert cause["field"].endswith(".valueFrom") and cause["field"].startswith(
        "spec.template.spec.containers[0].env[")
    assert "may not be specified when `value` is not empty" in cause["message"]
    after = realkube.api.get(CONTROL_PLANE)
    assert after["metadata"]["generation"] == before["metadata"]["generation"]


def test_responder_neither_changes_the_deployment_nor_claims_the_switch(
        realkube: SeededWorld, control_plane: ControlPlane, tmp_path: Path) -> None:
    before = _switch_from_secret(realkube)
    rbac = chart_rbac()
    config = install_identity(control_plane, rbac)
    mark = control_plane.audit_mark()
    with responder(tmp_path, config) as svc:
        incident_id = fire(svc)
        detail = until(svc, incident_id,
                       lambda d: "mitigation_failed" in d["policy"]["escalations"],
                       "the refused switch escalated", timeout=60)
        fired = detail["policy"]["escalations"]["mitigation_failed"]
    mit = mitigation(detail)
    assert mit["status"] == "failed" and mit["applied_at"] is None, detail["policy"]
    # The real authorizer's words, and what a person with the grant runs instead.
    assert 'secrets "codex-k8s-runtime" is forbidden' in fired["reason"]
    assert fired["audience"] == "oncall"
    assert mit["manual"] == ("kubectl -n codex-k8s-prod set env deploy/codex-k8s-control-plane "
                             "-c control-plane CODEXK8S_KANIKO_CACHE_ENABLED=false")
    assert detail["state"] != "resolved"
    # Whatever it tried, the apiserver let no write through.
    assert [e for e in writes(control_plane, rbac, mark)
            if e["responseStatus"]["code"] < 300] == []
    after = realkube.api.get(CONTROL_PLANE)
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    env = after["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": SWITCH, "valueFrom": FROM_SECRET} in env
