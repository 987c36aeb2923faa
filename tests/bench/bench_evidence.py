"""Benchmark: time to evidence with a fixed latency on every API request.

Run: `.venv/bin/python -m tests.bench.bench_evidence [--latency-ms 200] [--rounds 5]`.
A simulator (`cache-recovers`) in its own process, so its work does not share our event loop,
answers every request after the injected latency. In the same run, each round measures:

- concurrent: `collect_evidence` (all collectors at once, the production path);
- sequential: the same six collectors awaited one after another;
- slowest alone: each collector alone; the slowest of them.

The figure of merit is concurrent / slowest-alone (target <= 1.3): running everything at once
should cost about as much as the one collector with the longest chain of round trips.
Medians over the rounds are printed. The pytest test runs one small round and checks the
bundles are whole; it asserts no times.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from service.cluster.client import KubeClient
from service.config.settings import KubeSettings, Settings
from service.domain.evidence import CollectorStatus
from service.runbook.diagnostics.collector import Window, collect
from service.runbook.diagnostics.investigation import collect_evidence, evidence_collectors
from tests.simkit import simulator_process

COLLECTORS = [name for name, _ in evidence_collectors(Settings()).entries()]


async def _timed(fn: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await fn()
    return time.perf_counter() - started, result


async def one_round(kube: KubeClient, settings: Settings, now: datetime) -> dict[str, Any]:
    """One measurement of each way; returns seconds and whether every outcome was ok."""
    since = datetime.fromtimestamp(now.timestamp() - settings.diagnostics.log_window_s, UTC)
    concurrent, bundle = await _timed(lambda: collect_evidence(
        kube, settings, incident_id="bench", signature="cache", now=now))
    ok = all(c.status is CollectorStatus.OK for c in bundle.collectors().values())
    alone: dict[str, float] = {}
    window, limit = Window(since, now), settings.diagnostics.collector_timeout_s
    for name, collector in evidence_collectors(settings).entries():
        started = time.perf_counter()
        got = await collect(collector, kube, window, timeout_s=limit)
        alone[name] = time.perf_counter() - started
        ok = ok and got.status is CollectorStatus.OK

    async def one_after_another() -> None:
        for _, collector in evidence_collectors(settings).entries():
            await collect(collector, kube, window, timeout_s=limit)

    sequential, _ = await _timed(one_after_another)
    slowest = max(alone, key=lambda k: alone[k])
    return {"concurrent": concurrent, "sequential": sequential, "alone": alone,
            "slowest": slowest, "slowest_s": alone[slowest], "ok": ok,
            "confirmed": bundle.confirmed}


async def run(kubeconfig: Path, rounds: int) -> list[dict[str, Any]]:
    settings = Settings(kube=KubeSettings(kubeconfig=kubeconfig),
                        diagnostics={"collector_timeout_s": 60, "overall_deadline_s": 90})
    kube = await KubeClient.from_settings(settings.kube)
    try:
        # Warm-up, not measured: connection pool, the simulator's first renders.
        await one_round(kube, settings, datetime.now(UTC))
        # The simulator process runs on the wall clock (speed 1).
        return [await one_round(kube, settings, datetime.now(UTC)) for _ in range(rounds)]
    finally:
        await kube.close()


def report(results: list[dict[str, Any]], latency_s: float) -> dict[str, float]:
    med = {key: statistics.median(r[key] for r in results)
           for key in ("concurrent", "sequential", "slowest_s")}
    ratio = med["concurrent"] / med["slowest_s"]
    print(f"latency per request: {latency_s * 1000:.0f} ms, rounds: {len(results)}")
    alone = {name: statistics.median(r["alone"][name] for r in results) for name in COLLECTORS}
    for name, seconds in alone.items():
        print(f"  {name:<20} alone {seconds:6.3f} s")
    slowest = max(alone, key=lambda k: alone[k])
    print(f"  concurrent (collect_evidence) {med['concurrent']:6.3f} s")
    print(f"  sequential (one after another) {med['sequential']:6.3f} s")
    print(f"  slowest alone ({slowest}) {med['slowest_s']:6.3f} s")
    print(f"  concurrent / slowest = {ratio:.2f} (target <= 1.3); "
          f"sequential / concurrent = {med['sequential'] / med['concurrent']:.1f}x")
    return {**med, "ratio": ratio}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, \
            simulator_process("cache-recovers", Path(tmp)) as (control, kubeconfig):
        control.add_fault(kind="latency", seconds=args.latency_ms / 1000)
        results = asyncio.run(run(kubeconfig, args.rounds))
    report(results, args.latency_ms / 1000)
    if not all(r["ok"] and r["confirmed"] for r in results):
        raise SystemExit("some collector did not answer ok: figures are not comparable")


@pytest.mark.bench
async def test_time_to_evidence_small(tmp_path: Path) -> None:
    with simulator_process("cache-recovers", tmp_path) as (control, kubeconfig):
        control.add_fault(kind="latency", seconds=0.05)
        results = await run(kubeconfig, 1)
    report(results, 0.05)
    assert all(r["ok"] and r["confirmed"] for r in results)


if __name__ == "__main__":
    main()
