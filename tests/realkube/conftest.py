"""Session fixtures of the realkube tests: one real control plane with the codex-k8s world.

``control_plane`` starts etcd, kube-apiserver, the controller manager, the scheduler and kwok
(tests/realkube/cluster.py) once per session and stops them by PID; ``realkube`` seeds the
``cache-recovers`` world into it (tests/realkube/world.py) and, before each test, puts back what
an earlier test changed (the control-plane Deployment's spec, extra Jobs, the responder's RBAC).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.procs import wait_until
from tests.realkube.cluster import ControlPlane, binaries
from tests.realkube.world import NAMESPACE, LogAssigner, SeededWorld, rollout_done, seed, spec_of

STARTUP: dict[str, float] = {}


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    # A short path: the apiserver's and kwok's unix sockets and file names stay small.
    work = Path(tempfile.mkdtemp(prefix="realkube-"))
    plane = ControlPlane(work, binaries())
    try:
        plane.start()
        STARTUP.update(plane.startup_s)
        yield plane
    finally:
        plane.stop()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def seeded(control_plane: ControlPlane) -> Iterator[SeededWorld]:
    api = control_plane.api()
    logs = control_plane.work / "logs"
    assigner = LogAssigner(api, logs)
    assigner.start()
    began = time.monotonic()
    try:
        world = seed(api, logs, assigner)
        wait_until(lambda: settled(world), timeout=30, what="a kwok Logs object for every pod")
        STARTUP["seed"] = time.monotonic() - began
        yield world
    finally:
        assigner.stop()


@pytest.fixture
def realkube(seeded: SeededWorld) -> SeededWorld:
    """The seeded world as it was seeded: earlier tests' changes undone."""
    api = seeded.api
    store = seeded.world.store
    for plural in ("secrets", "configmaps"):
        for obj in store.items(plural, NAMESPACE):
            api.apply(spec_of(obj))
    for deploy in store.items("deployments", NAMESPACE):
        name = deploy["metadata"]["name"]
        live = api.get(f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{name}")
        want = spec_of(deploy)["spec"]["template"]
        got = live["spec"]["template"]
        if (got["spec"]["containers"][0].get("env") != want["spec"]["containers"][0].get("env")
                or got["metadata"].get("annotations") != want["metadata"].get("annotations")):
            api.apply(spec_of(deploy))
    for job in api.items("Job", NAMESPACE):
        name = job["metadata"]["name"]
        if name not in {j["metadata"]["name"] for j in store.items("jobs", NAMESPACE)}:
            api.request("DELETE", f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs/{name}",
                        {"propagationPolicy": "Background"})
            seeded.jobs.pop(name, None)
    for kind, plural in (("Role", "roles"), ("RoleBinding", "rolebindings")):
        for obj in api.items(kind, NAMESPACE):
            api.request("DELETE", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{NAMESPACE}/"
                                  f"{plural}/{obj['metadata']['name']}")
    wait_until(lambda: all(rollout_done(api, d["metadata"]["name"])
                           for d in store.items("deployments", NAMESPACE)),
               timeout=90, interval=0.25, what="the Deployments back as seeded")
    wait_until(lambda: settled(seeded), timeout=60, interval=0.25,
               what="no pod terminating, a log for every pod")
    return seeded


def settled(seeded: SeededWorld) -> bool:
    pods = seeded.api.items("Pod", NAMESPACE)
    assigned = seeded.assigner.done
    return all(p["metadata"]["name"] in assigned and not p["metadata"].get("deletionTimestamp")
               for p in pods)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if STARTUP:
        figures = ", ".join(f"{k} {v:.1f}s" for k, v in STARTUP.items())
        terminalreporter.write_line(f"realkube control plane start-up: {figures}")
