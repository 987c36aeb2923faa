"""The chart's least-privilege Role under the real RBAC authorizer: ``observe`` mode grants no
write and the responder attempts none; a Role without ``pods/log`` makes the evidence say
exactly the grant the authorizer wanted (read back from the apiserver's audit log)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.realkube.api import Api
from tests.realkube.cluster import ControlPlane
from tests.realkube.responder import (
    account_of,
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
OBSERVE = {"config": {"mitigation": {"mode": "observe"}}}


def test_observe_mode_grants_no_write_and_the_responder_attempts_none(
        realkube: SeededWorld, control_plane: ControlPlane, tmp_path: Path) -> None:
    rbac = chart_rbac(OBSERVE)
    config = install_identity(control_plane, rbac)
    token = _token(config)
    as_responder = Api(control_plane.server, token, control_plane.ca)
    # The real authorizer refuses the patch the auto mode would make.
    status, body = as_responder.patch(CONTROL_PLANE, {"spec": {"template": {"spec": {
        "containers": [{"name": "control-plane", "env": [
            {"name": "CODEXK8S_KANIKO_CACHE_ENABLED", "value": "false"}]}]}}}})
    assert status == 403 and body["reason"] == "Forbidden", body
    before = realkube.api.get(CONTROL_PLANE)["metadata"]["generation"]
    mark = control_plane.audit_mark()
    with responder(tmp_path, config, AISLOT_MITIGATION__MODE="observe") as svc:
        incident_id = fire(svc)
        detail = until(svc, incident_id, lambda d: mitigation(d)["status"] == "observing"
                       and bool(d["evidence"]), "observing with evidence")
        bundle = detail["evidence"][0]
        assert bundle["confirmed"]
        assert all(c["status"] == "ok" for c in
                   (bundle[k] for k in ("workloads", "control_plane_logs", "failed_jobs",
                                        "kill_switch"))), bundle
        # A few monitor ticks: still nothing written.
        looked = ticks(svc)
        until(svc, incident_id, lambda d: ticks(svc) >= looked + 3, "three more looks",
              timeout=30)
    assert writes(control_plane, rbac, mark) == []
    assert realkube.api.get(CONTROL_PLANE)["metadata"]["generation"] == before


def test_role_without_pods_log_gives_the_grant_the_authorizer_wanted(
        realkube: SeededWorld, control_plane: ControlPlane, tmp_path: Path) -> None:
    rbac = chart_rbac(OBSERVE)
    (role,) = [d for d in rbac if d["kind"] == "Role"]
    role["rules"] = [r for r in role["rules"] if "pods/log" not in r["resources"]]
    assert role["rules"], "the rest of the Role stays"
    config = install_identity(control_plane, rbac)
    mark = control_plane.audit_mark()
    with responder(tmp_path, config, AISLOT_MITIGATION__MODE="observe") as svc:
        incident_id = fire(svc)
        detail = until(svc, incident_id, lambda d: bool(d["evidence"]), "evidence")
    bundle = detail["evidence"][0]
    denied = [e for e in control_plane.audited(account_of(rbac), mark)
              if e["responseStatus"]["code"] == 403]
    assert denied, "the authorizer refused something"
    wanted = {(e["verb"], f"{e['objectRef']['resource']}/{e['objectRef'].get('subresource')}",
               e["objectRef"]["namespace"]) for e in denied}
    assert wanted == {("get", "pods/log", NAMESPACE)}, wanted
    forbidden = {name: bundle[name] for name in ("control_plane_logs", "worker_logs",
                                                 "failed_jobs")
                 if bundle[name]["status"] == "forbidden"}
    assert forbidden, bundle
    for name, collected in forbidden.items():
        assert collected["hint"] == f"grant get on pods/log in namespace {NAMESPACE}", name
    assert bundle["workloads"]["status"] == "ok"


def _token(config: Path) -> str:
    import json

    return str(json.loads(config.read_text())["users"][0]["user"]["token"])
