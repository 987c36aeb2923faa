"""Benchmark: API traffic of one incident watched for 30 simulated minutes, polling vs live view.

Run: `.venv/bin/python -m tests.bench.bench_api_traffic [--minutes 30] [--lines-per-s 5]`.
Two identical in-process simulators (`cache-persists`, manual clock) get the same steady
control-plane log (`--lines-per-s` slog lines of the control-plane's own kind every simulated
second, on top of the platform's). The switch is flipped at the start, then, side by side in
the same run:

- polling (today): `collect_facts` since the flip every `monitor_interval_s` (60 s) of
  simulated time: jobs and pods listed, the registry, the switch, every control-plane log since
  the flip and the failed jobs' tails read again at each tick;
- live view: `NamespaceView` started at the flip, `facts()` read every 60 s (from memory).

Reported: requests and bytes the API server sent (bodies; streams with their chunk framing),
by "verb resource", and bytes read per byte of log produced in the namespace over the window
(every pod's container log, without timestamps). Target for the view: at most 1.2x.
The pytest test runs 6 minutes and prints the same figures; it asserts byte counts only.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from service.cluster.client import KubeClient
from service.config.settings import KubeSettings, Settings
from service.runbook.diagnostics import collect_evidence, collect_facts
from service.runbook.view import NamespaceView
from service.runbook.view import evidence as view_evidence
from simulator import phrasebook
from simulator.clock import parse_time
from simulator.logbook import LogOptions
from simulator.server import Simulator
from simulator.store import WatchEvent
from tests.runbook_harness import SimTime
from tests.simkit import running_simulator
from tests.viewkit import NS, settle, sim_now

CP = "codex-k8s-control-plane"
SET_ENV_OFF = {"spec": {"template": {"spec": {"containers": [
    {"name": "control-plane",
     "env": [{"name": "CODEXK8S_KANIKO_CACHE_ENABLED", "value": "false"}]}]}}}}
STEP_S = 10
TICK_S = 60  # monitor_interval_s


@dataclass
class Run:
    """One way of watching: what the API server sent it."""

    name: str
    requests: collections.Counter[str] = field(default_factory=collections.Counter)
    sent: collections.Counter[str] = field(default_factory=collections.Counter)
    produced: int = 0  # log bytes produced in the namespace over the window
    produced_cp: int = 0  # of which the control-plane's
    at_alert: collections.Counter[str] = field(default_factory=collections.Counter)

    @property
    def bytes(self) -> int:
        return self.sent.total()

    @property
    def ratio(self) -> float:
        return self.bytes / self.produced if self.produced else 0.0


def _steady(sim: Simulator, lo: float, hi: float, per_s: float) -> None:
    """Control-plane lines at a steady rate over (lo, hi]: the relayed chatter of a busy day."""
    journal = sim.world.journals["control-plane"]
    count = int((hi - lo) * per_s)
    for k in range(1, count + 1):
        ts = lo + k / per_s
        journal.add(ts, phrasebook.slog(ts, "INFO", "reconciled run", run_step="build",
                                        queue_depth=k % 17, component="codex-k8s-worker",
                                        detail="build pod scheduled; waiting for the kaniko "
                                               "executor to report progress"))


def _window(pod: dict[str, Any], lo: float, hi: float) -> tuple[float, float] | None:
    """The part of [lo, hi] the pod's (first) container ran in."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    if not statuses:
        return None
    state = statuses[0].get("state") or {}
    if "running" in state:
        return max(lo, parse_time(state["running"]["startedAt"])), hi
    if "terminated" in state:
        term = state["terminated"]
        return max(lo, parse_time(term["startedAt"])), min(hi, parse_time(term["finishedAt"]))
    return None


def _produced(sim: Simulator, pods: dict[str, dict[str, Any]], gone: dict[str, float],
              lo: float, hi: float) -> tuple[int, int]:
    """Log bytes every pod seen wrote over [lo, hi] (all, control-plane); a deleted pod's
    log ends when it went."""
    total = cp = 0
    for name, pod in pods.items():
        span = _window(pod, lo, gone.get(name, hi))
        if span is None or span[0] > span[1]:
            continue
        size = sum(len(c) for c in sim.world.log_source(pod).render(*span, LogOptions()))
        total += size
        if name.startswith(CP):
            cp += size
    return total, cp


async def _one(mode: str, minutes: int, per_s: float, directory: Path) -> Run:
    run = Run(mode)
    async with running_simulator("cache-persists", directory) as sim:
        pods = {o["metadata"]["name"]: o for o in sim.world.store.copies("pods", NS)}

        gone: dict[str, float] = {}

        def seen(event: WatchEvent) -> None:
            if event.plural == "pods":
                pods[event.obj["metadata"]["name"]] = event.obj
                if event.type == "DELETED":
                    gone[event.obj["metadata"]["name"]] = sim.world.now

        unsubscribe = sim.world.store.subscribe(seen)
        settings = Settings(kube=KubeSettings(kubeconfig=sim.kubeconfig_path))
        kube = await KubeClient.from_settings(settings.kube)
        clock = SimTime(sim)
        try:
            await kube.patch_deployment(CP, SET_ENV_OFF)
            flip, start = sim_now(sim), sim.world.now
            asked0, sent0 = collections.Counter(sim.traffic.received), sim.traffic.bytes_sent()
            view = NamespaceView(kube, settings, clock, log_since=flip)
            if mode == "view":
                await view.start()
            for step in range(minutes * 60 // STEP_S):
                _steady(sim, sim.world.now, sim.world.now + STEP_S, per_s)
                clock.advance(STEP_S)
                if (step + 1) * STEP_S % TICK_S:
                    continue
                if mode == "view":
                    await settle(view, sim)
                    view.facts(signature="cache", since=flip, now=sim_now(sim))
                else:
                    await collect_facts(kube, settings, signature="cache", since=flip,
                                        now=sim_now(sim))
            run.requests = collections.Counter(sim.traffic.received) - asked0
            run.sent = sim.traffic.bytes_sent() - sent0  # open streams: what they sent so far
            await view.stop()
            run.produced, run.produced_cp = _produced(sim, pods, gone, start, sim.world.now)
        finally:
            unsubscribe()
            await kube.close()
    return run


async def _evidence(mode: str, directory: Path) -> Run:
    """The first evidence bundle at an alert: by the collectors alone (``poll``), by the
    collectors after the live view read the namespace (``view+sweep``: watch mode before the
    bundle came from the view), or composed from the view (``view``). ``requests``/``sent``:
    from the view's start; ``at_alert``: from the alert (the view caught up) to the bundle."""
    run = Run(mode)
    async with running_simulator("cache-persists", directory) as sim:
        settings = Settings(kube=KubeSettings(kubeconfig=sim.kubeconfig_path))
        kube = await KubeClient.from_settings(settings.kube)
        window_s = settings.diagnostics.log_window_s
        pods = {o["metadata"]["name"]: o for o in sim.world.store.copies("pods", NS)}
        try:
            asked0, sent0 = collections.Counter(sim.traffic.received), sim.traffic.bytes_sent()
            view = NamespaceView(kube, settings, SimTime(sim),
                                 log_since=sim_now(sim) - timedelta(seconds=window_s))
            if mode != "poll":
                await view.start()
                await settle(view, sim)
                async with asyncio.timeout(30):  # the worker logs too
                    while not view_evidence.ready(view, settings, view.log_since or sim_now(sim)):
                        await view.wait_changed(view.version)
            asked1 = collections.Counter(sim.traffic.received)
            if mode == "view":
                bundle = view_evidence.evidence_of(view, settings, incident_id="bench",
                                                   signature="cache", now=sim_now(sim),
                                                   alert_at=None)
            else:
                bundle = await collect_evidence(kube, settings, incident_id="bench",
                                                signature="cache", now=sim_now(sim))
            assert bundle.confirmed and not bundle.missing(), bundle.missing()
            run.at_alert = collections.Counter(sim.traffic.received) - asked1
            run.requests = collections.Counter(sim.traffic.received) - asked0
            run.sent = sim.traffic.bytes_sent() - sent0
            await view.stop()
            run.produced, run.produced_cp = _produced(sim, pods, {}, sim.world.now - window_s,
                                                      sim.world.now)
        finally:
            await kube.close()
    return run


async def measure_evidence() -> list[Run]:
    with tempfile.TemporaryDirectory() as tmp:
        return [await _evidence(mode, Path(tmp) / mode) for mode in ("poll", "view+sweep",
                                                                     "view")]


def report_evidence(runs: list[Run]) -> str:
    rows = ["the first evidence bundle at an alert (6 h log window)",
            f"log bytes in the window: {runs[0].produced:,} (control-plane: "
            f"{runs[0].produced_cp:,})",
            f"{'':10} {'requests':>9} {'bytes read':>13} {'x log bytes':>12} "
            f"{'at the alert':>13}"]
    for run in runs:
        rows.append(f"{run.name:10} {run.requests.total():>9,} {run.bytes:>13,} "
                    f"{run.ratio:>12.2f} {run.at_alert.total():>13,}")
    for run in runs:
        rows.append(f"{run.name} at the alert: "
                    + (", ".join(f"{k} {v}" for k, v in sorted(run.at_alert.items())) or "none"))
    return "\n".join(rows)


async def measure(minutes: int, per_s: float) -> tuple[Run, Run]:
    with tempfile.TemporaryDirectory() as tmp:
        polling = await _one("polling", minutes, per_s, Path(tmp))
        view = await _one("view", minutes, per_s, Path(tmp))
    return polling, view


def report(polling: Run, view: Run, minutes: int) -> str:
    rows = [f"one incident, {minutes} simulated minutes, facts every {TICK_S} s",
            f"log bytes produced in the namespace: {polling.produced:,} "
            f"(control-plane: {polling.produced_cp:,})",
            f"{'':10} {'requests':>9} {'bytes read':>13} {'x log bytes':>12}"]
    for run in (polling, view):
        rows.append(f"{run.name:10} {run.requests.total():>9,} {run.bytes:>13,} "
                    f"{run.ratio:>12.2f}")
    rows.append(f"polling / view: {polling.bytes / max(1, view.bytes):.1f}x the bytes, "
                f"{polling.requests.total() / max(1, view.requests.total()):.1f}x the requests")
    for run in (polling, view):
        parts = ", ".join(f"{k} {v:,}" for k, v in run.sent.most_common())
        rows.append(f"{run.name} bytes by request: {parts}")
    return "\n".join(rows)


@pytest.mark.bench
async def test_api_traffic_small() -> None:
    polling, view = await measure(minutes=6, per_s=5)
    print("\n" + report(polling, view, 6))
    assert polling.produced == view.produced > 0  # the same namespace, the same log
    assert view.bytes < polling.bytes
    assert view.sent["get pods/log"] >= view.produced_cp  # the control-plane log was read


@pytest.mark.bench
async def test_evidence_traffic() -> None:
    poll, before, view = await measure_evidence()
    print("\n" + report_evidence([poll, before, view]))
    # From the view: no request at the alert, and each log byte of the window read once.
    assert view.at_alert.total() == 0 < before.at_alert.total()
    assert view.bytes < before.bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--lines-per-s", type=float, default=5.0)
    args = parser.parse_args()
    polling, view = asyncio.run(measure(args.minutes, args.lines_per_s))
    print(report(polling, view, args.minutes))
    print()
    print(report_evidence(asyncio.run(measure_evidence())))
    print(f"run at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


if __name__ == "__main__":
    main()
