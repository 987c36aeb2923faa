"""Conformance of the simulator: the requests the responder and the runbook's kubectl commands
make, sent to the simulator and to the real apiserver seeded with the same world, the answers
compared on the status codes and on the fields the responder reads.

Each check projects both answers onto what matters; a projection that differs fails the test
unless ``KNOWN`` lists it with its reason, and a ``KNOWN`` entry whose two sides have come to
agree fails too (so the list never outlives the difference). The rows are printed as a table.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from service.cluster.errors import KubeForbidden, failure
from tests.realkube.api import Api
from tests.realkube.cluster import ControlPlane, kubeconfig
from tests.realkube.twin import simulator_twin
from tests.realkube.world import NAMESPACE, SeededWorld

pytestmark = pytest.mark.realkube
CORE = f"/api/v1/namespaces/{NAMESPACE}"
APPS = f"/apis/apps/v1/namespaces/{NAMESPACE}"
BATCH = f"/apis/batch/v1/namespaces/{NAMESPACE}"
CONTROL_PLANE = f"{APPS}/deployments/codex-k8s-control-plane"
CP_PODS = "app.kubernetes.io/name=codex-k8s,app.kubernetes.io/component=control-plane"
BUILDS = "app.kubernetes.io/name=codex-k8s-kaniko"
SWITCH = "CODEXK8S_KANIKO_CACHE_ENABLED"

# check name -> why the simulator and the real cluster may differ there.
KNOWN: dict[str, str] = {
    "pod of a failed job": "kwok plays the kubelet: its Stages write no PodReadyToStartContainers "
                           "condition and no qosClass; the simulator shows a real kubelet's",
}


@dataclass
class Row:
    check: str
    sim: Any
    real: Any

    @property
    def same(self) -> bool:
        return bool(self.sim == self.real)


@dataclass
class Side:
    """One server of the pair and what differs by nature (pod names)."""

    api: Api
    kubeconfig: Path
    failed_job: str = ""
    failed_pod: str = ""

    def pod_of(self, job: str) -> str:
        status, body = self.api.request("GET", f"{CORE}/pods",
                                        query={"labelSelector": f"job-name={job}"})
        assert status == 200, body
        return str(body["items"][0]["metadata"]["name"])


def _status(answer: tuple[int, Any], pod: str = "") -> tuple[Any, ...]:
    status, body = answer
    if not isinstance(body, dict):
        return status, (str(body).replace(pod, "<pod>") if pod else str(body)).strip()
    details = dict(body.get("details") or {})
    if pod and details.get("name") == pod:
        details["name"] = "<pod>"
    message = str(body.get("message", ""))
    return (status, body.get("reason"), message.replace(pod, "<pod>") if pod else message,
            json.dumps(details, sort_keys=True))


def _deployment(answer: tuple[int, Any]) -> Any:
    status, body = answer
    st, spec = body["status"], body["spec"]
    return (status, body["metadata"]["generation"] == st.get("observedGeneration"),
            {k: st.get(k) for k in ("replicas", "updatedReplicas", "readyReplicas",
                                    "availableReplicas", "unavailableReplicas")},
            sorted((c["type"], c["status"], c["reason"]) for c in st.get("conditions", [])),
            spec["template"]["spec"]["containers"][0].get("env"), spec["replicas"],
            body["metadata"]["annotations"].get("deployment.kubernetes.io/revision"))


def _jobs(answer: tuple[int, Any]) -> Any:
    status, body = answer
    rows = []
    for job in body["items"]:
        st = job["status"]
        labels = {k: v for k, v in job["metadata"].get("labels", {}).items()}
        rows.append((job["metadata"]["name"],
                     sorted((c["type"], c["status"], c.get("reason")) for c in
                            st.get("conditions", [])),
                     st.get("failed"), st.get("succeeded"), "completionTime" in st,
                     "startTime" in st, json.dumps(labels, sort_keys=True)))
    return status, body["kind"], sorted(rows)


def _job_pod(answer: tuple[int, Any]) -> Any:
    status, body = answer
    (pod,) = body["items"]
    st = pod["status"]
    (cs,) = st["containerStatuses"]
    state = next(iter(cs["state"]))
    labels = pod["metadata"]["labels"]
    return (status, st["phase"], state, cs["state"][state].get("exitCode"),
            cs["state"][state].get("reason"), cs["ready"],
            sorted((c["type"], c["status"], c.get("reason")) for c in st.get("conditions", [])),
            st.get("qosClass"), pod["metadata"]["ownerReferences"][0]["kind"],
            sorted(k for k in labels if "job-name" in k or "controller-uid" in k))


def _serving_pod(answer: tuple[int, Any]) -> Any:
    status, body = answer
    (pod,) = body["items"]
    st = pod["status"]
    (cs,) = st["containerStatuses"]
    return (status, st["phase"], next(iter(cs["state"])), cs["ready"],
            {c["type"]: c["status"] for c in st["conditions"]}.get("Ready"),
            pod["metadata"]["ownerReferences"][0]["kind"],
            "pod-template-hash" in pod["metadata"]["labels"])


def _replicasets(answer: tuple[int, Any]) -> Any:
    status, body = answer
    return status, sorted((r["spec"]["replicas"], r["status"].get("readyReplicas"),
                           r["metadata"]["ownerReferences"][0]["kind"],
                           r["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
                          for r in body["items"])


def _events(answer: tuple[int, Any]) -> Any:
    status, body = answer
    return status, body["kind"], sorted((e["reason"], e["type"], e["source"]["component"],
                                         e["involvedObject"]["kind"]) for e in body["items"])


def _watch(answer: tuple[int, Any]) -> Any:
    status, body = answer
    if isinstance(body, str):
        events = [json.loads(line) for line in body.splitlines() if line.strip()]
    else:
        events = [body] if body else []
    return status, [(e["type"], e["object"]["kind"], e["object"]["metadata"]["name"])
                    for e in events]


def _forbidden_hint(answer: tuple[int, Any]) -> Any:
    status, body = answer
    error = failure(status, json.dumps(body).encode(), None, NAMESPACE)
    return status, body.get("reason"), error.hint if isinstance(error, KubeForbidden) else None


def _kubectl(side: Side, *args: str) -> tuple[int, str]:
    done = subprocess.run([str(KUBECTL[0]), f"--kubeconfig={side.kubeconfig}", "-n", NAMESPACE,
                           *args], capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, re.sub(r"-[a-z0-9]{5,10}\b", "-<hash>", done.stdout.strip())


KUBECTL: list[Path] = []


def _env_patch(entry: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": [
        {"name": "control-plane", "env": [{"name": SWITCH, **entry}]}]}}}}


Check = tuple[str, Callable[[Side], Any]]


def checks() -> list[Check]:
    """In order: reads first, then the writes (each side changes alike)."""
    return [
        ("get a missing deployment", lambda s: _status(
            s.api.request("GET", f"{APPS}/deployments/nope"))),
        ("get the control-plane deployment", lambda s: _deployment(
            s.api.request("GET", CONTROL_PLANE))),
        ("list build jobs by label", lambda s: _jobs(
            s.api.request("GET", f"{BATCH}/jobs", query={"labelSelector": BUILDS}))),
        ("pod of a failed job", lambda s: _job_pod(s.api.request(
            "GET", f"{CORE}/pods", query={"labelSelector": f"job-name={s.failed_job}"}))),
        ("control-plane pods by label", lambda s: _serving_pod(
            s.api.request("GET", f"{CORE}/pods", query={"labelSelector": CP_PODS}))),
        ("control-plane replicasets", lambda s: _replicasets(
            s.api.request("GET", f"{APPS}/replicasets", query={"labelSelector": CP_PODS}))),
        ("events of a failed job", lambda s: _events(s.api.request(
            "GET", f"{CORE}/events",
            query={"fieldSelector": f"involvedObject.name={s.failed_job}"}))),
        ("log: whole", lambda s: s.api.log(NAMESPACE, s.failed_pod)),
        ("log: tailLines=2", lambda s: s.api.log(NAMESPACE, s.failed_pod, tailLines=2)),
        ("log: tailLines=1&timestamps", lambda s: s.api.log(
            NAMESPACE, s.failed_pod, tailLines=1, timestamps="true")),
        ("log: tailLines=0", lambda s: s.api.log(NAMESPACE, s.failed_pod, tailLines=0)),
        ("log: limitBytes=64", lambda s: s.api.log(NAMESPACE, s.failed_pod, limitBytes=64)),
        ("log: sinceSeconds=1 (all older)", lambda s: s.api.log(
            NAMESPACE, s.failed_pod, sinceSeconds=1)),
        ("log: sinceSeconds=21600", lambda s: s.api.log(
            NAMESPACE, s.failed_pod, sinceSeconds=21600)),
        ("log: sinceSeconds=0", lambda s: _status(s.api.log(
            NAMESPACE, s.failed_pod, sinceSeconds=0), s.failed_pod)),
        ("log: limitBytes=0", lambda s: _status(s.api.log(
            NAMESPACE, s.failed_pod, limitBytes=0), s.failed_pod)),
        ("log: tailLines=-1", lambda s: _status(s.api.log(
            NAMESPACE, s.failed_pod, tailLines=-1), s.failed_pod)),
        ("log: unknown container", lambda s: _status(s.api.log(
            NAMESPACE, s.failed_pod, container="nope"), s.failed_pod)),
        ("watch the control-plane deployment", lambda s: _watch(s.api.request(
            "GET", f"{APPS}/deployments", query={
                "watch": "true", "fieldSelector": "metadata.name=codex-k8s-control-plane",
                "timeoutSeconds": "1"}))),
        ("watch from the current resourceVersion", lambda s: _watch(s.api.request(
            "GET", f"{APPS}/deployments", query={
                "watch": "true", "fieldSelector": "metadata.name=codex-k8s-control-plane",
                "timeoutSeconds": "1",
                "resourceVersion": s.api.get(CONTROL_PLANE)["metadata"]["resourceVersion"]}))),
        ("kubectl rollout status --watch=false", lambda s: _kubectl(
            s, "rollout", "status", "deployment/codex-k8s-control-plane", "--watch=false")),
        ("kubectl get deploy -o name", lambda s: _kubectl(s, "get", "deploy", "-o", "name")),
        ("patch: strategic no-op env", lambda s: _generation_after(s, _env_patch(
            {"value": "true"}))),
        ("patch: merge a ConfigMap key", _merge_configmap),
        ("patch: valueFrom set", lambda s: _generation_after(s, _env_patch(
            {"value": None, "valueFrom": {"secretKeyRef": {"name": "codex-k8s-runtime",
                                                           "key": SWITCH}}}))),
        ("patch: value beside valueFrom", lambda s: _status(s.api.patch(
            CONTROL_PLANE, _env_patch({"value": "false"})))),
        ("patch: switch back to a value", lambda s: _generation_after(s, _env_patch(
            {"value": "false", "valueFrom": None}))),
    ]


def _generation_after(side: Side, patch: dict[str, Any]) -> Any:
    before = side.api.get(CONTROL_PLANE)["metadata"]["generation"]
    status, body = side.api.patch(CONTROL_PLANE, patch)
    if status != 200:
        return _status((status, body))
    env = body["spec"]["template"]["spec"]["containers"][0]["env"]
    return status, body["metadata"]["generation"] - before, env


def _merge_configmap(side: Side) -> Any:
    status, body = side.api.patch(f"{CORE}/configmaps/codex-k8s-config",
                                  {"data": {"CODEXK8S_AI_SLOTS": "5"}}, kind="merge")
    return status, body["data"]


def test_simulator_answers_like_the_real_apiserver(
        realkube: SeededWorld, control_plane: ControlPlane, tmp_path: Path) -> None:
    KUBECTL[:] = [control_plane.bin / "kubectl"]
    real = Side(realkube.api, control_plane.admin_kubeconfig)
    with simulator_twin("cache-recovers", realkube.start, tmp_path) as (sim, sim_api):
        twin = Side(sim_api, tmp_path / "sim.kubeconfig")
        failed = sorted(n for n, o in realkube.jobs.items() if o == "manifest_unknown")
        for side in (twin, real):
            side.failed_job = failed[0]
            side.failed_pod = side.pod_of(failed[0])
        rows = [Row(name, run(twin), run(real)) for name, run in checks()]
        rows.append(forbidden_row(control_plane, sim, sim_api))
    print("\n| request | simulator | real apiserver | verdict |")
    for row in rows:
        verdict = "same" if row.same else KNOWN.get(row.check, "DIFFERENT")
        print(f"| {row.check} | {str(row.sim)[:160]} | {str(row.real)[:160]} | {verdict} |")
    unexpected = [r for r in rows if not r.same and r.check not in KNOWN]
    assert not unexpected, "\n".join(f"{r.check}:\n  sim:  {r.sim}\n  real: {r.real}"
                                     for r in unexpected)
    stale = [r.check for r in rows if r.same and r.check in KNOWN]
    assert not stale, f"these now agree; take them out of KNOWN: {stale}"


def forbidden_row(plane: ControlPlane, sim: Any, sim_api: Api) -> Row:
    """A list the caller may not make: the real RBAC authorizer (a ServiceAccount with no
    Role) and the simulator's ``forbidden`` fault, read as the responder reads a 403."""
    api = plane.api()
    api.apply({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "nobody", "namespace": NAMESPACE}})
    token = api.create(f"{CORE}/serviceaccounts/nobody/token",
                       {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                        "spec": {"expirationSeconds": 600}})["status"]["token"]
    kubeconfig(plane.work / "nobody.kubeconfig", plane.server, plane.ca, token, NAMESPACE)
    nobody = Api(plane.server, token, plane.ca)
    rule = sim.add_fault(kind="forbidden", resource="jobs", verb="list")
    try:
        on_sim = _forbidden_hint(sim_api.request("GET", f"{BATCH}/jobs"))
    finally:
        sim.faults.remove(rule.id)
    return Row("list jobs without a grant", on_sim,
               _forbidden_hint(nobody.request("GET", f"{BATCH}/jobs")))
