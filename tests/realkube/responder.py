"""The responder against the real control plane, with the Helm chart's own identity.

Purpose: render the chart with the real Helm engine, apply its ServiceAccount, Role and
RoleBinding to the real apiserver, get that ServiceAccount a token from the TokenRequest API,
and run ``aislot-responder serve`` (a subprocess) with a kubeconfig holding it; fire the catalog
alert at its webhook and read incidents back through its API.
Boundary: test-side; the responder is the real entry point, nothing of it is imported here.
"""

from __future__ import annotations

import copy
import importlib
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from simulator.alerting import as_notification, firing_alert
from tests.e2e.test_deploy_helm import RELEASE_NS, render
from tests.procs import Responder, http, start_responder, stop
from tests.realkube.api import Obj
from tests.realkube.cluster import ControlPlane, kubeconfig
from tests.realkube.world import NAMESPACE

WEBHOOK = "rk-webhook-" + secrets.token_hex(8)
READ = "rk-read-" + secrets.token_hex(8)


def chart_rbac(values: dict[str, Any] | None = None) -> list[Obj]:
    """The chart's ServiceAccount, Role and RoleBinding, rendered by the real Helm engine."""
    helm = importlib.import_module("helm_python")
    docs = render(helm, copy.deepcopy(values or {}))["docs"]
    return [d for d in docs if d["kind"] in {"ServiceAccount", "Role", "RoleBinding"}]


def install_identity(plane: ControlPlane, rbac: list[Obj]) -> Path:
    """Apply ``rbac``; returns a kubeconfig with a fresh token of its ServiceAccount."""
    api = plane.api()
    api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": RELEASE_NS}})
    for doc in rbac:
        api.apply(doc)
    (account,) = [d for d in rbac if d["kind"] == "ServiceAccount"]
    name = account["metadata"]["name"]
    answer = api.create(
        f"/api/v1/namespaces/{RELEASE_NS}/serviceaccounts/{name}/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
         "spec": {"expirationSeconds": 3600}})
    token = answer["status"]["token"]
    return kubeconfig(plane.work / f"responder-{secrets.token_hex(4)}.kubeconfig", plane.server,
                      plane.ca, token, NAMESPACE)


def responder_env(config: Path, **extra: str) -> dict[str, str]:
    """Real time (the cluster's controllers run on it); the 30-min clean window is config."""
    return {
        "AISLOT_AUTH__WEBHOOK_TOKEN": WEBHOOK, "AISLOT_AUTH__READ_TOKEN": READ,
        "AISLOT_KUBE__KUBECONFIG": str(config), "AISLOT_KUBE__RETRY_DEADLINE_S": "20",
        "AISLOT_ESCALATION__MONITOR_INTERVAL_S": "1",
        "AISLOT_ESCALATION__CLEAN_WINDOW_S": "15",
        "AISLOT_LOGGING__LEVEL": "debug",
        **extra,
    }


@contextmanager
def responder(workdir: Path, config: Path, **extra: str) -> Iterator[Responder]:
    svc = start_responder(workdir, responder_env(config, **extra))
    try:
        yield svc
    finally:
        stop(svc.proc)


def fire(svc: Responder, minutes_ago: int = 4) -> str:
    starts = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    status, ack = http("POST", f"{svc.base}/webhook", as_notification(firing_alert(starts)),
                       token=WEBHOOK)
    assert status == 200, ack
    incident_id: str = ack["incidents"][0]
    return incident_id


def incident(svc: Responder, incident_id: str) -> dict[str, Any]:
    status, body = http("GET", f"{svc.base}/incidents/{incident_id}", token=READ)
    assert status == 200, body
    return dict(body)


def until(svc: Responder, incident_id: str, done: Callable[[dict[str, Any]], bool],
          what: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        if svc.proc.poll() is not None:
            raise AssertionError(f"responder exited {svc.proc.returncode}:\n{svc.log()[-4000:]}")
        last = incident(svc, incident_id)
        if done(last):
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: state={last.get('state')} "
                         f"policy={last.get('policy')}\n{svc.log()[-3000:]}")


def mitigation(detail: dict[str, Any]) -> dict[str, Any]:
    return dict(detail["policy"]["mitigation"])


WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}
# Writes that only ask the authorizer a question and change nothing.
QUESTIONS = {"selfsubjectaccessreviews", "selfsubjectrulesreviews"}


def account_of(rbac: list[Obj]) -> str:
    """The username the apiserver gives the chart's ServiceAccount."""
    (account,) = [d for d in rbac if d["kind"] == "ServiceAccount"]
    return f"system:serviceaccount:{account['metadata']['namespace']}:{account['metadata']['name']}"


def writes(plane: ControlPlane, rbac: list[Obj], after: int = 0) -> list[dict[str, Any]]:
    """Every write the responder attempted, allowed or not, from the apiserver's audit log."""
    return [e for e in plane.audited(account_of(rbac), after) if e["verb"] in WRITE_VERBS
            and e.get("objectRef", {}).get("resource") not in QUESTIONS]


def ticks(svc: Responder) -> int:
    """How many watch passes (looks at the incidents) the responder has logged; a look at the
    live view reads memory, so the apiserver does not see it."""
    return svc.log().count('"event": "watch_pass"')
