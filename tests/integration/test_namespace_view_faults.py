"""The live view when the connection misbehaves: 410 Gone mid-watch, a dropped connection, a watch
that goes silent, a log stream cut mid-line, RBAC denials. Nothing is missed and nothing is
counted twice: the view ends up holding exactly what the simulator holds, its facts equal
polled facts, and the control-plane log lines are scanned once each. Waits are on the view's
change signal (see ``tests.viewkit.settle``), never on sleeps.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from service.runbook.diagnostics import collect_facts
from service.runbook.diagnostics.collector import Window, collect
from service.runbook.diagnostics.deployment_logs import control_plane_logs
from simulator.server import Simulator
from tests import simkit
from tests.integration.test_namespace_view import CP, advance, policy_fields, viewed
from tests.simkit import SimFactory
from tests.viewkit import settle, sim_now

sim_factory = simkit.sim_factory
HINT = "grant list on jobs in namespace codex-k8s-prod"


def _jobs_in_store(sim: Simulator) -> set[str]:
    return {o["metadata"]["name"] for o in sim.world.store.items("jobs", "codex-k8s-prod")}


@pytest.mark.parametrize(("kind", "relists"), [("gone", 2), ("drop", 1)])
async def test_jobs_survive_a_watch_cut_mid_stream(sim_factory: SimFactory, kind: str,
                                                   relists: int) -> None:
    async with sim_factory("cache-persists") as sim:
        since = sim_now(sim)
        # the first jobs watch ends after its first event: 410 Gone, or the connection cut
        sim.add_fault(kind=kind, verb="watch", resource="jobs", after_bytes=1, count=1)
        async with viewed(sim) as (view, kube, settings, clock):
            await settle(view, sim)  # listed and watching: the cut comes with a live event
            advance(clock, 10)
            await settle(view, sim)
            polled = await collect_facts(kube, settings, signature="cache", since=since,
                                         now=sim_now(sim))
            held = view.facts(signature="cache", since=since, now=sim_now(sim))
            assert view.jobs.lists == relists  # 410: listed again; a drop: watched again
            assert view.jobs.watches >= 2
    assert not [r for r in sim.faults.rules() if r.count]  # the fault did fire
    assert policy_fields(held) == policy_fields(polled)
    names = [b.job for b in held.builds]
    assert len(names) == len(set(names)) >= 4  # each job once, with its final status
    assert {b.status for b in held.builds} == {"Failed"}
    assert set(view.jobs.items) == _jobs_in_store(sim)
    assert held.gaps == []


async def test_a_silent_watch_is_cut_and_resumed(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-persists") as sim:
        since = sim_now(sim)
        # the pods watch says nothing more after its first event and never ends by itself
        sim.add_fault(kind="silent", verb="watch", resource="pods", after_bytes=1, count=1)
        async with viewed(sim, watch_timeout_s=2, watch_silence_s=0.5) as (view, kube,
                                                                           settings, clock):
            await settle(view, sim)
            advance(clock, 10)
            await settle(view, sim)
            polled = await collect_facts(kube, settings, signature="cache", since=since,
                                         now=sim_now(sim))
            held = view.facts(signature="cache", since=since, now=sim_now(sim))
            assert view.pods.lists == 1 and view.pods.watches >= 2
    assert policy_fields(held) == policy_fields(polled)
    assert {b.signature for b in held.builds if b.kind == "build"} == {"cache"}


@pytest.mark.parametrize("phase", ["catching up", "following"])
async def test_a_log_stream_cut_mid_line_is_read_once(sim_factory: SimFactory,
                                                      phase: str) -> None:
    async with sim_factory("cache-persists") as sim:
        # catching up: two hours before the start are read, with cuts; following: the start
        # is now, the catch-up is a few lines, and the followed stream is cut as lines come
        start = sim_now(sim) - timedelta(hours=2 if phase == "catching up" else 0)
        sim.add_fault(kind="drop", verb="get", resource="pods/log", name=f"{CP}-*",
                      after_bytes=3000, count=3)
        async with viewed(sim, log_since=start) as (view, kube, settings, clock):
            await settle(view, sim)
            advance(clock, 10)
            await settle(view, sim)
            diag = settings.diagnostics
            polled = await collect(
                control_plane_logs(settings.platform, diag, signatures=diag.signatures,
                                   context=False),
                kube, Window(start, sim_now(sim)), timeout_s=diag.collector_timeout_s)
            assert sum(f.connections for f in view.followers.values()) >= 4
            held = view.scan()
    assert not [r for r in sim.faults.rules() if r.count]
    assert polled.data is not None
    assert held.lines_scanned == polled.data.lines_scanned > 0
    for name, stats in polled.data.signatures.items():
        assert held.stats(name) == stats, name
    assert held.stats("cache").occurrences >= 3


async def test_gaps_say_what_cannot_be_read_since_when(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-persists") as sim:
        denied = sim.add_fault(kind="forbidden", resource="jobs")
        logs = sim.add_fault(kind="forbidden", resource="pods/log")
        began = sim_now(sim)
        async with viewed(sim, watch_silence_s=0.2) as (view, _, _, clock):
            async with asyncio.timeout(30):
                while {g.part for g in view.gaps()} != {"jobs", "control_plane_logs"}:
                    await view.wait_changed(view.version)
            gaps = {g.part: g for g in view.gaps()}
            assert gaps["jobs"].status == "forbidden" and gaps["jobs"].hint == HINT
            assert gaps["jobs"].since == began
            assert gaps["control_plane_logs"].hint == \
                "grant get on pods/log in namespace codex-k8s-prod"
            facts = view.facts(signature="cache", since=began, now=sim_now(sim))
            assert any(g.part == "jobs" and g.describe() == f"jobs: forbidden; {HINT}"
                       for g in facts.gaps)
            clock.advance(60)
            sim.faults.remove(denied.id)
            sim.faults.remove(logs.id)
            await settle(view, sim)
            assert view.gaps() == []


async def test_an_unreachable_api_server_opens_gaps_and_the_view_comes_back(
        sim_factory: SimFactory) -> None:
    async with (sim_factory("cache-persists") as sim,
                viewed(sim, retry_deadline_s=0.3, watch_silence_s=0.2) as (view, _, _, _)):
        await settle(view, sim)
        port = int(sim.url.rsplit(":", 1)[1])
        await sim.stop()  # connections refused from now on
        down = sim_now(sim)
        async with asyncio.timeout(30):
            while not {"jobs", "pods", "deployments"} <= {g.part for g in view.gaps()}:
                await view.wait_changed(view.version)
        gaps = {g.part: g for g in view.gaps()}
        assert gaps["jobs"].status == "unreachable" and gaps["jobs"].since == down
        assert gaps["jobs"].hint is None
        await sim.start("127.0.0.1", port)  # back on the same address
        await settle(view, sim)
        async with asyncio.timeout(30):
            while view.gaps():  # each part closes its gap at its first read
                await view.wait_changed(view.version)
