"""The seed incident (``cache-recovers``) against the real control plane, through the real entry
points: the chart's ServiceAccount, Role and RoleBinding applied to the real apiserver; the
responder (``aislot-responder serve``) with that ServiceAccount's token from the TokenRequest API;
evidence from the real job controller's Jobs and kwok-served logs; the env patch judged by the
real apiserver; the real deployment controller's rollout; a build after the switch; the clean
window (config: 15 s; the cluster runs on real time, so the responder does too); resolved."""

from __future__ import annotations

from pathlib import Path

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
from tests.realkube.world import NAMESPACE, SeededWorld, rollout_done

pytestmark = pytest.mark.realkube
CONTROL_PLANE = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/codex-k8s-control-plane"
SWITCH = "CODEXK8S_KANIKO_CACHE_ENABLED"


def switch_value(deploy: dict) -> str | None:  # type: ignore[type-arg]
    env = deploy["spec"]["template"]["spec"]["containers"][0].get("env", [])
    return next((e.get("value") for e in env if e["name"] == SWITCH), None)


def test_cache_recovers_story_resolves_with_the_charts_identity(
        realkube: SeededWorld, control_plane: ControlPlane, tmp_path: Path) -> None:
    api = realkube.api
    before = api.get(CONTROL_PLANE)
    assert switch_value(before) == "true"
    rbac = chart_rbac()
    config = install_identity(control_plane, rbac)
    mark = control_plane.audit_mark()
    with responder(tmp_path, config) as svc:
        incident_id = fire(svc)
        detail = until(svc, incident_id, lambda d: mitigation(d)["status"] == "applied",
                       "the switch applied")
        bundle = detail["evidence"][0]
        assert bundle["confirmed"], bundle
        after = api.get(CONTROL_PLANE)
        assert switch_value(after) == "false"
        assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
        # The real deployment controller rolls it out; kwok makes the new pod ready.
        until(svc, incident_id, lambda d: mitigation(d)["rollout"] == "complete",
              "the rollout seen complete")
        assert rollout_done(api, "codex-k8s-control-plane")
        # The platform's next build runs with the cache off and succeeds.
        build = realkube.launch_build("success")
        realkube.wait_jobs_finished([build])
        done = until(svc, incident_id, lambda d: d["state"] == "resolved", "resolved",
                     timeout=120)
    assert build in done["policy"]["watch"]["builds"]
    assert done["policy"]["watch"]["first_success_at"]
    # Exactly one write, by the chart's ServiceAccount, and the authorizer allowed it.
    (patch,) = writes(control_plane, rbac, mark)
    assert (patch["verb"], patch["objectRef"]["resource"], patch["objectRef"]["name"],
            patch["responseStatus"]["code"]) == ("patch", "deployments",
                                                 "codex-k8s-control-plane", 200)
    # The deployment controller moved the one replica to a ReplicaSet with the switch off.
    revision = "deployment.kubernetes.io/revision"
    final = api.get(CONTROL_PLANE)
    assert int(final["metadata"]["annotations"][revision]) > int(
        before["metadata"]["annotations"][revision])
    serving = [r for r in api.items("ReplicaSet", NAMESPACE,
                                    labelSelector="app.kubernetes.io/component=control-plane")
               if r["spec"]["replicas"] > 0]
    assert [switch_value(r) for r in serving] == ["false"]
    assert serving[0]["metadata"]["annotations"][revision] == final["metadata"]["annotations"][
        revision]
