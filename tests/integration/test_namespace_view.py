"""The live view against the simulator: the same facts as polling, from watches and followed logs.

Parity: for every scenario, the switch is flipped like ``kubectl set env`` does, ten simulated
minutes pass, and the facts the view holds equal the facts ``collect_facts`` reads at the same
moment (the fields the policy reads). Every wait is on the view's change signal.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest

from service.cluster.client import KubeClient
from service.config.settings import KubeSettings, Settings
from service.domain.facts import Facts
from service.runbook.diagnostics import collect_facts
from service.runbook.view import NamespaceView
from simulator.server import Simulator
from tests import simkit
from tests.runbook_harness import SimTime
from tests.simkit import SimFactory
from tests.viewkit import log_lines, settle, sim_now

sim_factory = simkit.sim_factory
CP = "codex-k8s-control-plane"
SET_ENV_OFF = {"spec": {"template": {"spec": {"containers": [
    {"name": "control-plane",
     "env": [{"name": "CODEXK8S_KANIKO_CACHE_ENABLED", "value": "false"}]}]}}}}
SCENARIOS = ["healthy", "cache-recovers", "cache-persists", "cache-secret", "registry-outage",
             "build-ref", "rbac-restricted", "rollout-stuck"]


# The view names the part it watches; a one-off observation names the collector.
_COLLECTOR_PART = {"jobs": "builds", "pods": "builds", "job_logs": "builds",
                   "deployments": "registry"}


def policy_fields(facts: Facts) -> dict[str, Any]:
    """What the policy reads of ``Facts``, comparable."""
    return {
        "builds": [b.model_dump() for b in facts.builds],
        "sightings": [(s.key, s.signature, s.last_seen, s.run_id, s.job)
                      for s in facts.sightings],
        "registry": facts.registry.model_dump() if facts.registry else None,
        "kill_switch": facts.kill_switch.model_dump() if facts.kill_switch else None,
        "gap_parts": sorted({_COLLECTOR_PART.get(g.part, g.part) for g in facts.gaps}),
    }


@contextlib.asynccontextmanager
async def viewed(sim: Simulator, log_since: datetime | None = None, **kube: Any,
                 ) -> AsyncIterator[tuple[NamespaceView, KubeClient, Settings, SimTime]]:
    """A started view of ``sim`` (logs from ``log_since``, default now) and its client."""
    settings = Settings(kube=KubeSettings(kubeconfig=sim.kubeconfig_path, **kube))
    client = await KubeClient.from_settings(settings.kube)
    clock = SimTime(sim)
    view = NamespaceView(client, settings, clock, log_since=log_since or sim_now(sim))
    try:
        async with view:
            yield view, client, settings, clock
    finally:
        await client.close()


def advance(clock: SimTime, minutes: float, step: float = 10) -> None:
    for _ in range(int(minutes * 60 / step)):
        clock.advance(step)


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_view_facts_equal_polled_facts(sim_factory: SimFactory, scenario: str) -> None:
    async with sim_factory(scenario) as sim:
        flip: datetime = sim_now(sim)
        async with viewed(sim) as (view, kube, settings, clock):
            await kube.patch_deployment(CP, SET_ENV_OFF)
            advance(clock, 10)
            await settle(view, sim)
            now = sim_now(sim)
            polled = await collect_facts(kube, settings, signature="cache", since=flip, now=now)
            await settle(view, sim)
            held = view.facts(signature="cache", since=flip, now=now)
    assert policy_fields(held) == policy_fields(polled)
    builds = [b for b in held.builds if b.kind == "build"]
    if scenario in ("cache-recovers", "cache-persists"):
        assert len(builds) >= 4 and held.kill_switch is not None
        assert held.kill_switch.value == "false"
    if scenario == "cache-persists":  # the view scanned the logs and read the tails
        assert {b.signature for b in builds} == {"cache"}
        assert {s.job for s in held.sightings} == {b.job for b in builds}


async def test_facts_make_no_request(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-persists") as sim, viewed(sim) as (view, _, _, clock):
        advance(clock, 5)
        await settle(view, sim)
        before = sum(sim.traffic.served.values())
        first = view.facts(signature="cache", since=sim_now(sim), now=sim_now(sim))
        again = view.facts(signature="cache", since=sim_now(sim), now=sim_now(sim))
        assert sum(sim.traffic.served.values()) == before
        assert first == again


async def test_a_restarted_view_goes_on_from_where_it_was(sim_factory: SimFactory) -> None:
    """Stopped and run again (as the supervisor does after a crash): the cache is resumed
    from its resourceVersions and each log from its place; no line is scanned twice."""
    async with sim_factory("cache-persists") as sim:
        start = sim_now(sim)
        async with viewed(sim) as (view, kube, settings, clock):
            advance(clock, 3)
            await settle(view, sim)
            await view.stop()
            listed = view.jobs.lists
            advance(clock, 3)
            runner = asyncio.ensure_future(view.run())
            await settle(view, sim)
            polled = await collect_facts(kube, settings, signature="cache", since=start,
                                         now=sim_now(sim))
            held = view.facts(signature="cache", since=start, now=sim_now(sim))
            scanned = view.scan().lines_scanned
            lines = log_lines(view, sim)
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
    assert view.jobs.lists == listed  # watched again from where it was, not listed
    assert policy_fields(held) == policy_fields(polled)
    assert lines and all(read == held for read, held in lines.values())  # each line once
    assert scanned == sum(read for read, _ in lines.values())
