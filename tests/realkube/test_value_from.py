"""The kill switch set by ``valueFrom`` (a Secret key) in the control-plane container's env.

The real apiserver's answer to the patch that sets ``value`` alone is a 422 (a strategic merge
keeps ``valueFrom`` beside the new ``value``); the responder, with the chart's identity (no
Secret access in ``deployment-env`` mode), must not change the Deployment, and its incident must
not claim the switch applied. What it does instead is being reworked elsewhere: at the time of
writing the mitigation stays ``applying`` and every tick logs ``kill_switch_failed`` (the Secret
behind ``valueFrom`` is forbidden to it); these tests hold only what stays true.
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
    ticks,
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
        until(svc, incident_id,
              lambda d: bool(d["evidence"]) and ticks(control_plane, rbac, mark) >= 4,
              "evidence and a few monitor ticks", timeout=60)
        detail = until(svc, incident_id, lambda d: True, "the incident")
    assert mitigation(detail)["status"] not in {"applied", "already_off"}, detail["policy"]
    assert detail["state"] != "resolved"
    # Whatever it tried, the apiserver let no write through.
    assert [e for e in writes(control_plane, rbac, mark)
            if e["responseStatus"]["code"] < 300] == []
    after = realkube.api.get(CONTROL_PLANE)
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    env = after["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": SWITCH, "valueFrom": FROM_SECRET} in env
