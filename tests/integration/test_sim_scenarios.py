"""Each scenario, driven by a manual clock, produces the job and log history it promises.

These tests use the world through `Simulator` without HTTP: time is moved with `advance`, the
switch is flipped with the same object writes the API performs.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from simulator.scenario import BuildPlan, Scenario, load_scenario, scenario_names
from simulator.server import Simulator
from simulator.world import World

NS = "codex-k8s-prod"
CP = "codex-k8s-control-plane"
SWITCH = "CODEXK8S_KANIKO_CACHE_ENABLED"


def builds(sim: Simulator, kind: str = "build") -> list[Any]:
    return [r for r in sim.world.activity.history if r.kind == kind]


def journal(world: World, component: str) -> list[str]:
    return [line for _, line in world.journals[component].between(0, world.now)]


def set_switch_env(sim: Simulator, value: str) -> None:
    deploy = copy.deepcopy(sim.world.store.peek("deployments", NS, CP))
    assert deploy is not None
    env = deploy["spec"]["template"]["spec"]["containers"][0]["env"]
    for entry in env:
        if entry["name"] == SWITCH:
            entry["value"] = value
    sim.world.replace("deployments", CP, deploy)


def deployment_status(sim: Simulator, name: str) -> dict[str, Any]:
    deploy = sim.world.store.peek("deployments", NS, name)
    assert deploy is not None
    return dict(deploy["status"])


def test_every_shipped_scenario_loads() -> None:
    names = scenario_names()
    for wanted in (
        "healthy",
        "cache-recovers",
        "cache-persists",
        "registry-outage",
        "build-ref",
        "rbac-restricted",
        "rollout-stuck",
    ):
        assert wanted in names
    for name in names:
        assert load_scenario(name).name == name
    with pytest.raises(ValueError, match="unknown scenario"):
        load_scenario("no-such-thing")


def test_healthy_everything_succeeds_for_an_hour() -> None:
    sim = Simulator.manual("healthy")
    sim.advance(3600)
    done = [r for r in sim.world.activity.history if r.finished is not None]
    kinds = {r.kind for r in done}
    assert kinds == {"build", "mirror", "codegen"}
    assert all(r.outcome == "success" for r in done)
    # 80 minutes at one build per 3 minutes
    assert 25 <= len(builds(sim)) <= 28
    assert not [line for line in journal(sim.world, "control-plane") if "MANIFEST_UNKNOWN" in line]


def test_cache_recovers_fails_until_the_switch_then_succeeds() -> None:
    sim = Simulator.manual("cache-recovers")
    preloaded = builds(sim)
    assert len(preloaded) == 10, "20 minutes of history, a build every 2 minutes"
    assert all(r.outcome == "manifest_unknown" and r.cache_enabled for r in preloaded)
    failed_jobs = [j for j in sim.world.store.items("jobs", NS) if j["status"].get("failed") == 1]
    assert len(failed_jobs) >= 4, "kaniko jobs live 10 minutes after failing"
    sim.advance(600)
    assert all(r.outcome == "manifest_unknown" for r in builds(sim))
    set_switch_env(sim, "false")
    assert sim.world.cache_enabled is True, "not before the new pod is ready"
    sim.advance(12)
    assert sim.world.cache_enabled is False
    status = deployment_status(sim, CP)
    assert status["observedGeneration"] == 2 and status.get("updatedReplicas") == 1
    sim.advance(3)
    assert deployment_status(sim, CP)["replicas"] == 1, "old pod gone after termination"
    switched = sim.world.now
    sim.advance(1200)
    after = [r for r in builds(sim) if r.created > switched]
    assert len(after) == 10 and all(r.outcome == "success" for r in after)
    lines = journal(sim.world, "control-plane")
    assert any("kaniko build job completed" in line for line in lines)


def test_cache_persists_keeps_failing_after_the_switch() -> None:
    sim = Simulator.manual("cache-persists")
    set_switch_env(sim, "false")
    sim.advance(30)
    assert sim.world.cache_enabled is False
    switched = sim.world.now
    sim.advance(900)
    after = [r for r in builds(sim) if r.created > switched]
    assert len(after) >= 7
    assert all(r.outcome == "manifest_unknown" and not r.cache_enabled for r in after)
    tail = after[-1].lines[-1][1]
    assert "MANIFEST_UNKNOWN" in tail and "from cache" not in tail


def test_registry_outage_registry_down_and_mirrors_fail() -> None:
    sim = Simulator.manual("registry-outage")
    sim.advance(900)
    status = deployment_status(sim, "codex-k8s-registry")
    assert "availableReplicas" not in status and status["unavailableReplicas"] == 1
    available = next(c for c in status["conditions"] if c["type"] == "Available")
    assert available["status"] == "False" and available["reason"] == "MinimumReplicasUnavailable"
    mirrors = builds(sim, "mirror")
    assert len(mirrors) >= 6 and all(r.outcome == "registry_unavailable" for r in mirrors)
    assert all(r.outcome == "registry_unavailable" for r in builds(sim))
    assert any("connection refused" in text for _, text in mirrors[-1].lines)
    set_switch_env(sim, "false")
    sim.advance(600)
    assert all(r.outcome != "success" for r in builds(sim)), "the switch does not help"


def test_build_ref_codegen_fails_until_the_ref_is_fixed() -> None:
    sim = Simulator.manual("build-ref")
    checks = builds(sim, "codegen")
    assert len(checks) == 4 and all(r.outcome == "bad_build_ref" for r in checks)
    lines = journal(sim.world, "control-plane")
    failures = [line for line in lines if "codegen-check job failed" in line]
    assert failures and all("checkout --detach" in f and "is not a commit" in f for f in failures)
    assert all("CODEXK8S_BUILD_REF" in f for f in failures)
    assert all(r.outcome == "success" for r in builds(sim))
    cm = copy.deepcopy(sim.world.store.peek("configmaps", NS, "codex-k8s-config"))
    assert cm is not None
    cm["data"]["CODEXK8S_BUILD_REF"] = "main"
    sim.world.replace("configmaps", "codex-k8s-config", cm)
    fixed = sim.world.now
    sim.advance(900)
    later = [r for r in builds(sim, "codegen") if r.created > fixed]
    assert later and all(r.outcome == "success" for r in later)


def test_rbac_restricted_denies_worker_logs_only() -> None:
    sim = Simulator.manual("rbac-restricted")
    assert sim.faults.denies("get", "pods/log", "codex-k8s-worker-abc12-xyz")
    assert not sim.faults.denies("get", "pods/log", "codex-k8s-control-plane-abc12-xyz")
    assert sim.faults.denies("create", "pods/exec", "anything")
    assert all(r.outcome == "manifest_unknown" for r in builds(sim))


def test_rollout_stuck_never_becomes_available() -> None:
    sim = Simulator.manual("rollout-stuck")
    set_switch_env(sim, "false")
    sim.advance(300)
    status = deployment_status(sim, CP)
    assert status["replicas"] == 2 and status["updatedReplicas"] == 1
    assert status["availableReplicas"] == 1 and status["unavailableReplicas"] == 1
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert progressing["reason"] == "ReplicaSetUpdated"
    sim.advance(400)
    progressing = next(
        c for c in deployment_status(sim, CP)["conditions"] if c["type"] == "Progressing"
    )
    assert progressing["status"] == "False"
    assert progressing["reason"] == "ProgressDeadlineExceeded"
    assert sim.world.cache_enabled is True
    assert all(r.outcome == "manifest_unknown" for r in builds(sim))
    events = [e for e in sim.world.store.items("events", NS) if e["reason"] == "Unhealthy"]
    assert events and events[0]["type"] == "Warning"


def test_jobs_vanish_after_their_ttl() -> None:
    sim = Simulator.manual("cache-recovers")
    record = builds(sim)[-1]
    assert sim.world.store.peek("jobs", NS, record.name) is not None
    assert record.finished is None or record.finished > sim.world.now - 600
    sim.advance(600 + 120)
    assert sim.world.store.peek("jobs", NS, record.name) is None
    mirror = builds(sim, "mirror")[-1]
    assert mirror.finished is not None
    sim.advance(max(0.0, mirror.finished + 301 - sim.world.now))
    assert sim.world.store.peek("jobs", NS, mirror.name) is None


def test_switch_in_secret_needs_a_restart() -> None:
    scenario = Scenario(
        name="cache-secret",
        switch_location="secret",
        history_seconds=600,
        builds=BuildPlan(interval_seconds=120, cache_on="manifest_unknown", cache_off="success"),
    )
    sim = Simulator.manual(scenario)
    container = sim.world.store.peek("deployments", NS, CP)["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert SWITCH not in {e["name"] for e in container["env"]}
    secret = copy.deepcopy(sim.world.store.peek("secrets", NS, "codex-k8s-runtime"))
    secret["stringData"] = {SWITCH: "false"}
    sim.world.replace("secrets", "codex-k8s-runtime", secret)
    sim.advance(300)
    assert sim.world.cache_enabled is True, "pods read env at start"
    deploy = copy.deepcopy(sim.world.store.peek("deployments", NS, CP))
    deploy["spec"]["template"]["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/restartedAt": "2026-02-26T10:05:00Z"
    }
    sim.world.replace("deployments", CP, deploy)
    sim.advance(20)
    assert sim.world.cache_enabled is False
    restarted = sim.world.now
    sim.advance(600)
    assert all(r.outcome == "success" for r in builds(sim) if r.created > restarted)


def test_log_times_follow_the_sim_clock() -> None:
    sim = Simulator.manual("cache-recovers", start="2026-03-01T08:00:00Z")
    lines = journal(sim.world, "control-plane")
    assert lines[0].startswith('{"time":"2026-03-01T07:4')
    sim.advance(3600)
    assert journal(sim.world, "control-plane")[-1].startswith('{"time":"2026-03-01T08:5')
