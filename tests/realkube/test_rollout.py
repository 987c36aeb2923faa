"""The control-plane rollout after the switch, judged by the real deployment controller.

``kubectl rollout status`` (Kubernetes v1.36, built with the control plane) and the responder
agree: the responder never calls the rollout complete while kubectl still waits, and calls it
complete once kubectl does. The new pod is held unready for a few seconds (kwok's pod-ready
Stage reads the pod annotation ``aislot.test/ready-delay``) so the waiting phase is observed.
And the responder's view survives the apiserver being restarted in the middle of it.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.procs import wait_until
from tests.realkube.cluster import ControlPlane
from tests.realkube.responder import (
    chart_rbac,
    fire,
    incident,
    install_identity,
    mitigation,
    responder,
    until,
)
from tests.realkube.world import NAMESPACE, SeededWorld, rollout_done

pytestmark = pytest.mark.realkube
NAME = "codex-k8s-control-plane"
CONTROL_PLANE = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{NAME}"
HOLD = "6s"


def hold_new_pods(realkube: SeededWorld) -> None:
    """Every later control-plane pod becomes ready only ``HOLD`` after it was created."""
    status, body = realkube.api.patch(CONTROL_PLANE, {"spec": {"template": {"metadata": {
        "annotations": {"aislot.test/ready-delay": HOLD}}}}})
    assert status == 200, body
    wait_until(lambda: rollout_done(realkube.api, NAME), timeout=60, interval=0.25,
               what="the annotated template rolled out")


def kubectl_rollout(plane: ControlPlane) -> tuple[bool, str]:
    """`kubectl rollout status --watch=false`: (finished, what it said)."""
    done = subprocess.run(
        [str(plane.bin / "kubectl"), f"--kubeconfig={plane.admin_kubeconfig}", "-n", NAMESPACE,
         "rollout", "status", f"deployment/{NAME}", "--watch=false"],
        capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return "successfully rolled out" in done.stdout, done.stdout.strip()


def test_kubectl_rollout_status_and_the_responder_agree(
        realkube: SeededWorld, control_plane: ControlPlane, tmp_path: Path) -> None:
    hold_new_pods(realkube)
    config = install_identity(control_plane, chart_rbac())
    samples: list[tuple[str, bool, str, str]] = []
    with responder(tmp_path, config) as svc:
        incident_id = fire(svc)
        until(svc, incident_id, lambda d: mitigation(d)["status"] == "applied", "applied")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            before = mitigation(incident(svc, incident_id))["rollout"]
            finished, said = kubectl_rollout(control_plane)
            after = mitigation(incident(svc, incident_id))["rollout"]
            samples.append((before, finished, said, after))
            if finished and after == "complete":
                break
            time.sleep(0.3)
    # The responder is never ahead of kubectl ...
    assert all(finished for before, finished, _, _ in samples if before == "complete"), samples
    # ... both saw the rollout waiting (the new pod held unready) ...
    waiting = [s for s in samples if not s[1]]
    assert waiting and all(s[0] == "waiting" for s in waiting), samples
    assert any("Waiting for deployment" in s[2] for s in waiting), samples
    # ... and both end with it finished.
    assert samples[-1][1] and samples[-1][3] == "complete", samples[-3:]


def test_responder_survives_an_apiserver_restart_mid_incident(
        realkube: SeededWorld, control_plane: ControlPlane, tmp_path: Path) -> None:
    hold_new_pods(realkube)
    config = install_identity(control_plane, chart_rbac())
    with responder(tmp_path, config) as svc:
        incident_id = fire(svc)
        until(svc, incident_id, lambda d: mitigation(d)["status"] == "applied", "applied")
        assert mitigation(incident(svc, incident_id))["rollout"] == "waiting"
        control_plane.restart_apiserver()  # while the new pod is held unready
        until(svc, incident_id, lambda d: mitigation(d)["rollout"] == "complete",
              "the rollout seen complete after the restart", timeout=90)
        build = realkube.launch_build("success")
        realkube.wait_jobs_finished([build])
        done = until(svc, incident_id, lambda d: d["state"] == "resolved", "resolved",
                     timeout=120)
        assert svc.proc.poll() is None
    assert build in done["policy"]["watch"]["builds"]
    errors = [line for line in svc.log().splitlines() if "Traceback" in line]
    assert errors == []
