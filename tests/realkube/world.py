"""The codex-k8s world of a simulator scenario, seeded into the real control plane.

Purpose: take the objects a simulator scenario serves (``Simulator.manual(scenario)`` at the
real current time: the namespace ``codex-k8s-prod``, the platform's Deployments, the runtime
Secret, the ConfigMap, the registry Service and CronJob, the build, mirror and codegen Jobs) and
create them in the real apiserver, so the real controllers and kwok run them: each Job's pod ends
as the simulator's record says (the pod label ``aislot.test/outcome`` picks kwok's Stage), and
every container's log is the simulator's lines written to a CRI-format file that kwok serves
(``LogAssigner`` points a kwok ``Logs`` object at it for every pod as it appears).
Boundary: test-side seeding through ``Api``; the simulator only supplies the data.
"""

from __future__ import annotations

import copy
import functools
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simulator.clock import rfc3339
from simulator.server import Simulator
from simulator.world import World
from tests.procs import wait_until
from tests.realkube.api import Api, collection

Obj = dict[str, Any]
NAMESPACE = "codex-k8s-prod"
OUTCOME = "aislot.test/outcome"
ACCOUNTS = ("codex-k8s-control-plane", "codex-k8s-worker", "codex-k8s")


def cri_line(ts: float, line: str) -> str:
    """One line of a CRI container log file, as the kubelet's log reader parses it."""
    stamp = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
    return f"{stamp} stdout F {line}\n"


def write_cri(path: Path, lines: Iterable[tuple[float, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(cri_line(ts, text) for ts, text in lines), encoding="utf-8")
    return path


def spec_of(obj: Obj) -> Obj:
    """A simulator object as a client would create it: no status, no server-set metadata."""
    meta = obj["metadata"]
    clean: Obj = {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                  "metadata": {k: meta[k] for k in ("name", "namespace", "labels", "annotations")
                               if meta.get(k)}}
    clean["metadata"].get("annotations", {}).pop("deployment.kubernetes.io/revision", None)
    for key in ("spec", "data", "type"):
        if key in obj:
            clean[key] = copy.deepcopy(obj[key])
    return clean


def job_spec(job: Obj, outcome: str) -> Obj:
    """A Job the real job controller runs; its pod ends ``outcome`` (kwok's Stage picks it)."""
    clean = spec_of(job)
    spec = clean["spec"]
    # The controller sets its own selector and controller-uid labels.
    for key in ("selector", "manualSelector"):
        spec.pop(key, None)
    labels = spec["template"]["metadata"]["labels"]
    for key in list(labels):
        if "controller-uid" in key or key.endswith("job-name"):
            labels.pop(key)
    labels[OUTCOME] = "fail" if outcome != "success" else "success"
    spec["template"]["metadata"].pop("creationTimestamp", None)
    return clean


@dataclass
class SeededWorld:
    """The seeded namespace: the simulator it came from and the log files behind its pods."""

    api: Api
    sim: Simulator
    logs: Path
    start: str  # the simulator's start: the same scenario and start give the same world
    assigner: LogAssigner
    jobs: dict[str, str] = field(default_factory=dict)  # name -> outcome

    @property
    def world(self) -> World:
        return self.sim.world

    def launch_build(self, outcome: str) -> str:
        """The platform starts a new kaniko build now; its pod shows a build's lines of
        ``outcome`` (from the simulator's ``healthy`` history for a success)."""
        template = next(j for j in self.world.store.items("jobs", NAMESPACE)
                        if j["metadata"]["name"].startswith("codex-k8s-kaniko-"))
        source = self.world if outcome != "success" else healthy_world()
        record = next(r for r in source.activity.history if r.kind == "build"
                      and r.outcome == outcome)
        job = copy.deepcopy(template)
        name = f"codex-k8s-kaniko-{record.component}-{secrets.token_hex(4)}"
        job["metadata"]["name"] = name
        for labels in (job["metadata"]["labels"], job["spec"]["template"]["metadata"]["labels"]):
            labels["app.kubernetes.io/component"] = record.component
            if "codex-k8s.dev/run-id" in labels:
                labels["codex-k8s.dev/run-id"] = record.run_id
        shift = time.time() - record.lines[-1][0]
        self.launch_job(job, outcome, [(ts + shift, text) for ts, text in record.lines])
        return name

    def launch_job(self, job: Obj, outcome: str, lines: list[tuple[float, str]]) -> None:
        """Create a Job whose pod shows ``lines`` and ends ``outcome``."""
        name = job["metadata"]["name"]
        write_cri(self.logs / "jobs" / f"{name}.log", lines)
        self.api.apply(job_spec(job, outcome))
        self.jobs[name] = outcome

    def wait_jobs_finished(self, names: Iterable[str], timeout: float = 90) -> None:
        wanted = set(names)

        def finished() -> bool:
            done = set()
            for job in self.api.items("Job", NAMESPACE):
                conds = {c["type"]: c["status"] for c in job["status"].get("conditions", [])}
                if conds.get("Complete") == "True" or conds.get("Failed") == "True":
                    done.add(job["metadata"]["name"])
            return wanted <= done

        wait_until(finished, timeout=timeout, interval=0.25, what=f"jobs {sorted(wanted)} done")


@functools.cache
def healthy_world() -> World:
    sim = Simulator.manual("healthy", start=rfc3339(time.time()))
    sim.world.sync()
    return sim.world


def deployment_of(pod: Obj) -> str | None:
    labels = pod["metadata"].get("labels", {})
    if labels.get("app.kubernetes.io/name") == "codex-k8s-registry":
        return "codex-k8s-registry"
    component = labels.get("app.kubernetes.io/component")
    return {"control-plane": "codex-k8s-control-plane", "worker": "codex-k8s-worker",
            "api-gateway": "codex-k8s"}.get(component or "")


class LogAssigner:
    """Points a kwok ``Logs`` object at the right file for every pod of the namespace.

    kwok finds a pod's log by the pod's name, and Job and Deployment pods get generated names,
    so this thread watches for new pods (polling every 0.2 s) and names their file: a Job's pod
    shows its Job's file, a Deployment's pod its Deployment's file.
    """

    def __init__(self, api: Api, logs: Path) -> None:
        self.api, self.logs = api, logs
        self.done: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-assigner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def file_for(self, pod: Obj) -> Path | None:
        labels = pod["metadata"].get("labels", {})
        if "job-name" in labels:
            return self.logs / "jobs" / f"{labels['job-name']}.log"
        deploy = deployment_of(pod)
        return self.logs / "deployments" / f"{deploy}.log" if deploy else None

    def assign_all(self) -> int:
        try:
            pods = self.api.items("Pod", NAMESPACE)
        except (OSError, AssertionError):  # the apiserver is being restarted by a test
            return 0
        for pod in pods:
            name = pod["metadata"]["name"]
            target = self.file_for(pod)
            if name in self.done or target is None:
                continue
            status, _ = self.api.request("POST", collection("Logs", NAMESPACE), {
                "apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Logs",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {"logs": [{"logsFile": str(target), "follow": False}]}})
            if status in (201, 409):
                self.done.add(name)
        return len(self.done)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self.assign_all()
            except OSError:
                continue


def seed(api: Api, logs: Path, assigner: LogAssigner,
         scenario: str = "cache-recovers") -> SeededWorld:
    """Create the scenario's world in the real cluster and wait until it has settled."""
    start = rfc3339(time.time())
    sim = Simulator.manual(scenario, start=start)
    world = sim.world
    world.sync()
    seeded = SeededWorld(api, sim, logs, start, assigner)
    store = world.store
    api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    for account in ACCOUNTS:
        api.apply({"apiVersion": "v1", "kind": "ServiceAccount",
                   "metadata": {"name": account, "namespace": NAMESPACE}})
    for plural in ("secrets", "configmaps", "services", "cronjobs"):
        for obj in store.items(plural, NAMESPACE):
            api.apply(spec_of(obj))
    for deploy in store.items("deployments", NAMESPACE):
        name = deploy["metadata"]["name"]
        pods = [p for p in store.items("pods", NAMESPACE) if deployment_of(p) == name]
        write_cri(logs / "deployments" / f"{name}.log",
                  world.log_source(pods[0]).lines(world.origin, world.now))
        api.apply(spec_of(deploy))
    records = {r.name: r for r in world.activity.history}
    for job in store.items("jobs", NAMESPACE):
        record = records[job["metadata"]["name"]]
        seeded.launch_job(job, record.outcome, record.lines)
    wait_until(lambda: all(rollout_done(api, d["metadata"]["name"])
                           for d in store.items("deployments", NAMESPACE)),
               timeout=90, interval=0.25, what="the seeded Deployments available")
    seeded.wait_jobs_finished(seeded.jobs)
    return seeded


def rollout_done(api: Api, name: str) -> bool:
    """`kubectl rollout status`'s test: the controller saw the spec and every replica is new."""
    deploy = api.get(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{name}")
    spec, status = deploy["spec"], deploy.get("status", {})
    return bool(status.get("observedGeneration", 0) >= deploy["metadata"]["generation"]
                and status.get("updatedReplicas", 0) == spec["replicas"]
                and status.get("replicas", 0) == spec["replicas"]
                and status.get("availableReplicas", 0) == spec["replicas"])
