"""kubectl is the oracle: the runbook's and platform.md's kubectl commands against the simulator.

Each test starts an in-process simulator with a manual clock, runs the real kubectl binary
(`--kubeconfig`) and checks what it prints, exactly as an SRE would read it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re

import pytest

from simulator.clock import parse_time
from tests import simkit
from tests.simkit import SimFactory, grep_e, kubectl

pytestmark = pytest.mark.e2e
sim_factory = simkit.sim_factory

POD_WIDE = "NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE READINESS GATES"
JOB_WIDE = "NAME STATUS COMPLETIONS DURATION AGE CONTAINERS IMAGES SELECTOR"
CACHE_GREP = "MANIFEST_UNKNOWN|retrieving image from cache|kaniko|mirror"
WORKER_GREP = "MANIFEST_UNKNOWN|retrieving image from cache|build failed|run_id"
CP = "deploy/codex-k8s-control-plane"


def _squash(line: str) -> str:
    return " ".join(line.split())


async def test_get_pods_and_jobs_wide(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-recovers") as sim:
        run = await kubectl(sim, "-n", "codex-k8s-prod", "get", "pods,job", "-o", "wide")
    assert run.code == 0, run.err
    blocks = run.out.strip().split("\n\n")
    assert len(blocks) == 2
    pods, jobs = (b.splitlines() for b in blocks)
    assert _squash(pods[0]) == POD_WIDE
    assert _squash(jobs[0]) == JOB_WIDE
    control = next(line.split() for line in pods if "pod/codex-k8s-control-plane-" in line)
    assert control[1:4] == ["1/1", "Running", "0"]
    assert re.fullmatch(r"10\.42\.0\.\d+", control[5])
    assert control[6:] == ["codex-k8s-prod-node-1", "<none>", "<none>"]
    failed_pods = [line for line in pods if "kaniko" in line and " Error " in line]
    assert failed_pods, run.out
    kaniko = [line.split() for line in jobs if "job.batch/codex-k8s-kaniko-" in line]
    assert kaniko and all(j[1] == "Failed" and j[2] == "0/1" for j in kaniko)
    assert all(j[-1].startswith("batch.kubernetes.io/controller-uid=") for j in kaniko)
    assert all(j[-2] == "gcr.io/kaniko-project/executor:v1.23.2" for j in kaniko)


async def test_control_plane_logs_since_6h_through_runbook_grep(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-recovers") as sim:
        run = await kubectl(sim, "-n", "codex-k8s-prod", "logs", CP, "--since=6h")
    assert run.code == 0, run.err
    hits = grep_e(run.out, CACHE_GREP)
    failures = [h for h in hits if "MANIFEST_UNKNOWN" in h]
    # 20 preloaded minutes, a failing build every 2 minutes
    assert len(failures) >= 9
    assert all('"level":"ERROR"' in f and "retrieving image from cache" in f for f in failures)
    assert any("image mirror job" in h for h in hits)
    noise = [line for line in run.out.splitlines() if line not in hits]
    assert noise, "control-plane logs carry unrelated lines too"


async def test_worker_logs_through_runbook_grep(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-recovers") as sim:
        run = await kubectl(
            sim, "-n", "codex-k8s-prod", "logs", "deploy/codex-k8s-worker", "--since=6h"
        )
    assert run.code == 0, run.err
    hits = grep_e(run.out, WORKER_GREP)
    failed = [h for h in hits if '"msg":"build failed"' in h]
    assert len(failed) >= 9
    assert all(re.search(r'"run_id":"[0-9a-f-]{36}"', h) for h in failed)


async def test_since_window_follows_the_sim_clock(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-recovers") as sim:
        wide = await kubectl(sim, "logs", CP, "--since=6h", "--timestamps")
        narrow = await kubectl(sim, "logs", CP, "--since=5m", "--timestamps")
        now = sim.world.now
    assert narrow.code == 0 and wide.code == 0
    assert 0 < len(narrow.out.splitlines()) < len(wide.out.splitlines())
    for line in narrow.out.splitlines():
        assert parse_time(line.split(" ", 1)[0]) >= now - 300


async def test_jobs_sorted_by_creation_timestamp(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-recovers") as sim:
        run = await kubectl(
            sim, "-n", "codex-k8s-prod", "get", "jobs", "--sort-by=.metadata.creationTimestamp"
        )
        stored = sorted(
            sim.world.store.items("jobs", "codex-k8s-prod"),
            key=lambda j: j["metadata"]["creationTimestamp"],
        )
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert _squash(lines[0]) == "NAME STATUS COMPLETIONS DURATION AGE"
    names = [line.split()[0] for line in lines[1:]]
    assert names == [j["metadata"]["name"] for j in stored]
    stamps = [j["metadata"]["creationTimestamp"] for j in stored]
    assert stamps == sorted(stamps)
    assert grep_e(run.out, "kaniko|mirror|build|Failed|Error")


async def test_get_raw_pod_log(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-recovers") as sim:
        pod = next(
            p["metadata"]["name"]
            for p in sim.world.store.items("pods", "codex-k8s-prod")
            if "kaniko" in p["metadata"]["name"]
        )
        run = await kubectl(
            sim, "get", "--raw", f"/api/v1/namespaces/codex-k8s-prod/pods/{pod}/log"
        )
    assert run.code == 0, run.err
    assert "x-access-token:ghp_" in run.out
    assert "MANIFEST_UNKNOWN: manifest unknown" in run.out


async def test_rollout_status_success_when_nothing_changes(sim_factory: SimFactory) -> None:
    async with sim_factory("healthy") as sim:
        run = await kubectl(sim, "-n", "codex-k8s-prod", "rollout", "status", CP, "--timeout=30s")
    assert run.code == 0, run.err
    assert run.out.strip() == 'deployment "codex-k8s-control-plane" successfully rolled out'


async def test_rollout_status_times_out_and_then_exceeds_deadline(
    sim_factory: SimFactory,
) -> None:
    async with sim_factory("rollout-stuck") as sim:
        env = await kubectl(sim, "set", "env", CP, "CODEXK8S_KANIKO_CACHE_ENABLED=false")
        assert env.code == 0, env.err
        sim.advance(30)
        waiting = await kubectl(sim, "rollout", "status", CP, "--timeout=2s")
        sim.advance(600)
        deadline = await kubectl(sim, "rollout", "status", CP, "--timeout=10s")
        cache = sim.world.cache_enabled
    assert waiting.code == 1
    assert 'Waiting for deployment "codex-k8s-control-plane" rollout to finish' in waiting.out
    assert "error: timed out waiting for the condition" in waiting.err
    assert deadline.code == 1
    assert 'deployment "codex-k8s-control-plane" exceeded its progress deadline' in deadline.err
    assert cache is True, "the stuck pod never served, so the old value is still in effect"


async def test_set_env_rollout_then_builds_recover(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-recovers") as sim:
        env = await kubectl(
            sim, "-n", "codex-k8s-prod", "set", "env", CP, "CODEXK8S_KANIKO_CACHE_ENABLED=false"
        )
        assert env.code == 0, env.err
        assert env.out.strip() == "deployment.apps/codex-k8s-control-plane env updated"
        switched = sim.world.now
        status = asyncio.create_task(
            kubectl(sim, "-n", "codex-k8s-prod", "rollout", "status", CP, "--timeout=60s")
        )
        for _ in range(20):
            await asyncio.sleep(0.1)
            sim.advance(1)
        rolled = await status
        sim.advance(15 * 60)
        jobs = await kubectl(sim, "get", "jobs", "--sort-by=.metadata.creationTimestamp")
        recent = await kubectl(sim, "logs", CP, "--since=10m")
        patch = [e for e in sim.audit.entries() if e.method == "PATCH"]
        history = [r for r in sim.world.activity.history if r.kind == "build"]
    assert rolled.code == 0, rolled.err
    assert 'deployment "codex-k8s-control-plane" successfully rolled out' in rolled.out
    assert patch[0].patch_type == "strategic"
    containers = patch[0].body["spec"]["template"]["spec"]["containers"]
    assert containers[0]["env"] == [{"name": "CODEXK8S_KANIKO_CACHE_ENABLED", "value": "false"}]
    after = [r for r in history if r.created > switched + 20]
    assert after and all(r.outcome == "success" for r in after)
    assert all(r.outcome == "manifest_unknown" for r in history if r.created < switched)
    completed = [line for line in jobs.out.splitlines() if "kaniko" in line and "Complete" in line]
    assert completed
    assert not grep_e(recent.out, "MANIFEST_UNKNOWN|retrieving image from cache")


async def test_rollout_restart_patches_restarted_at(sim_factory: SimFactory) -> None:
    async with sim_factory("healthy") as sim:
        run = await kubectl(sim, "rollout", "restart", "deploy/codex-k8s-worker")
        sim.advance(60)
        status = await kubectl(sim, "rollout", "status", "deploy/codex-k8s-worker", "--timeout=10s")
        pods = await kubectl(
            sim,
            "get",
            "pods",
            "-l",
            "app.kubernetes.io/name=codex-k8s,app.kubernetes.io/component=worker",
        )
        entry = sim.audit.entries()[-1]
    assert run.code == 0, run.err
    assert run.out.strip() == "deployment.apps/codex-k8s-worker restarted"
    annotations = entry.body["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    assert status.code == 0, status.err
    assert len(pods.out.strip().splitlines()) == 2


async def test_rbac_restricted_worker_logs_forbidden(sim_factory: SimFactory) -> None:
    async with sim_factory("rbac-restricted") as sim:
        worker = await kubectl(sim, "logs", "deploy/codex-k8s-worker", "--since=6h")
        control = await kubectl(sim, "logs", CP, "--since=6h")
        can_exec = await kubectl(sim, "auth", "can-i", "create", "pods", "--subresource=exec")
    assert worker.code == 1
    assert re.search(
        r'Error from server \(Forbidden\): pods "codex-k8s-worker-[a-z0-9]+-[a-z0-9]+" is '
        r'forbidden: User "system:serviceaccount:codex-k8s-prod:aislot-responder" cannot get '
        r'resource "pods/log" in API group "" in the namespace "codex-k8s-prod"',
        worker.err,
    )
    assert control.code == 0 and "MANIFEST_UNKNOWN" in control.out
    assert can_exec.code == 1 and can_exec.out.strip() == "no"


async def test_switch_in_secret_then_rollout_restart(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-secret") as sim:
        read = await kubectl(
            sim,
            "get",
            "secret",
            "codex-k8s-runtime",
            "-o",
            "jsonpath={.data.CODEXK8S_KANIKO_CACHE_ENABLED}",
        )
        patch = await kubectl(
            sim,
            "patch",
            "secret",
            "codex-k8s-runtime",
            "-p",
            '{"stringData":{"CODEXK8S_KANIKO_CACHE_ENABLED":"false"}}',
        )
        sim.advance(240)
        still = sim.world.cache_enabled
        restart = await kubectl(sim, "rollout", "restart", CP)
        sim.advance(30)
        status = await kubectl(sim, "rollout", "status", CP, "--timeout=10s")
        restarted = sim.world.now
        sim.advance(600)
        later = [
            r for r in sim.world.activity.history if r.kind == "build" and r.created > restarted
        ]
    assert read.code == 0 and base64.b64decode(read.out) == b"true"
    assert patch.code == 0 and patch.out.strip() == "secret/codex-k8s-runtime patched"
    assert still is True, "a Secret change alone does not reach running pods"
    assert restart.code == 0 and status.code == 0, status.err
    assert later and all(r.outcome == "success" for r in later)


RUNBOOK_STEPS = """
ns="codex-k8s-prod"
kubectl -n "$ns" get pods,job -o wide
echo "=== step 2"
kubectl -n "$ns" logs deploy/codex-k8s-control-plane --since=6h \\
  | grep -E "MANIFEST_UNKNOWN|retrieving image from cache|kaniko|mirror"
echo "=== step 3"
kubectl -n "$ns" logs deploy/codex-k8s-worker --since=6h \\
  | grep -E "MANIFEST_UNKNOWN|retrieving image from cache|build failed|run_id"
echo "=== step 4"
kubectl -n "$ns" get jobs --sort-by=.metadata.creationTimestamp \\
  | grep -E "kaniko|mirror|build|Failed|Error" || true
"""


async def test_runbook_diagnostics_verbatim_in_bash(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-recovers") as sim:
        assert sim.kubeconfig_path is not None
        home = sim.kubeconfig_path.parent
        proc = await asyncio.create_subprocess_exec(
            "bash",
            "-euo",
            "pipefail",
            "-c",
            RUNBOOK_STEPS,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={
                "PATH": os.environ["PATH"],
                "HOME": str(home),
                "KUBECONFIG": str(sim.kubeconfig_path),
            },
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    wide, step2, step3, step4 = text.split("=== step ")
    assert _squash(wide.splitlines()[0]) == POD_WIDE
    assert step2.count("MANIFEST_UNKNOWN") >= 9
    assert step3.count('"msg":"build failed"') >= 9
    failed = [line for line in step4.splitlines()[1:] if "Failed" in line]
    assert len(failed) >= 4
