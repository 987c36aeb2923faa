"""collect_facts, the recovery watch's observation, after the switch is flipped like kubectl does.

The switch is flipped with the strategic merge patch ``kubectl set env`` sends, then simulated
time passes (manual clock) and the facts since the flip are read.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from service.cluster.client import KubeClient
from service.config.settings import KubeSettings, Settings
from service.domain.facts import Facts
from service.runbook.diagnostics import collect_facts
from simulator.server import Simulator
from tests import simkit
from tests.simkit import SimFactory

sim_factory = simkit.sim_factory
CP = "codex-k8s-control-plane"
SET_ENV_OFF = {"spec": {"template": {"spec": {"containers": [
    {"name": "control-plane",
     "env": [{"name": "CODEXK8S_KANIKO_CACHE_ENABLED", "value": "false"}]}]}}}}


def _now(sim: Simulator) -> datetime:
    return datetime.fromtimestamp(sim.world.now, UTC)


@contextlib.asynccontextmanager
async def _flipped(sim_factory: SimFactory, scenario: str,
                   minutes: int = 10) -> AsyncIterator[Facts]:
    """Flip the switch, let ``minutes`` pass, observe since the flip."""
    async with sim_factory(scenario) as sim:
        settings = Settings(kube=KubeSettings(kubeconfig=sim.kubeconfig_path))
        kube = await KubeClient.from_settings(settings.kube)
        try:
            await kube.patch_deployment(CP, SET_ENV_OFF)
            flip = _now(sim)
            for _ in range(minutes * 6):
                sim.advance(10)
            facts = await collect_facts(kube, settings, signature="cache", since=flip,
                                        now=_now(sim))
        finally:
            await kube.close()
        yield facts


async def test_cache_recovers_shows_complete_builds_and_no_sightings(
        sim_factory: SimFactory) -> None:
    async with _flipped(sim_factory, "cache-recovers") as facts:
        assert facts.gaps == []
        builds = [b for b in facts.builds if b.kind == "build"]
        assert len(builds) >= 4 and {b.status for b in builds} == {"Complete"}
        assert all(b.created_at is not None and b.created_at > facts.since for b in builds)
        assert facts.sightings == []
        assert facts.kill_switch is not None and facts.kill_switch.value == "false"
        assert facts.kill_switch.rollout_complete
        assert facts.registry is not None and facts.registry.registry_available


async def test_cache_persists_shows_failures_with_the_signature(sim_factory: SimFactory) -> None:
    async with _flipped(sim_factory, "cache-persists") as facts:
        assert facts.gaps == []
        builds = [b for b in facts.builds if b.kind == "build"]
        assert len(builds) >= 4
        assert {(b.status, b.signature) for b in builds} == {("Failed", "cache")}
        # each failed build after the flip is one distinct sighting in control-plane logs
        assert {s.job for s in facts.sightings} == {b.job for b in builds}
        assert all(s.first_seen is not None and s.first_seen >= facts.since
                   for s in facts.sightings)
        assert {s.run_id for s in facts.sightings} == {b.run_id for b in builds}


async def test_facts_never_raise_and_list_their_gaps(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-persists") as sim:
        sim.add_fault(kind="forbidden", resource="pods/log")
        settings = Settings(kube=KubeSettings(kubeconfig=sim.kubeconfig_path))
        kube = await KubeClient.from_settings(settings.kube)
        try:
            since = _now(sim)
            for _ in range(30):
                sim.advance(10)
            facts = await collect_facts(kube, settings, signature="cache", since=since,
                                        now=_now(sim))
            unknown = await collect_facts(kube, settings, signature="nope", since=since,
                                          now=_now(sim))
        finally:
            await kube.close()
    hint = "grant get on pods/log in namespace codex-k8s-prod"
    described = [g.describe() for g in facts.gaps]
    assert any(e.startswith("control_plane_logs: forbidden") and hint in e for e in described)
    assert any(e.startswith("builds: forbidden") for e in described)
    # the job list itself was readable: the outcomes are there, without signatures
    assert facts.builds and all(b.signature is None for b in facts.builds)
    assert facts.kill_switch is not None and facts.registry is not None
    assert any("'nope' is not configured" in g.detail for g in unknown.gaps)
