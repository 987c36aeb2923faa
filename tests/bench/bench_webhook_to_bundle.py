"""Benchmark: webhook to evidence bundle posted, through the running service.

Run: `.venv/bin/python -m tests.bench.bench_webhook_to_bundle [--latency-ms 200] [--rounds 5]`.
A simulator (`cache-recovers`) in its own process answers every request after a fixed
latency. The responder (``create_app``, in-process) takes an Alertmanager notification and
posts the evidence to a fake webhook sink; the time measured is from the POST to /webhook
until the sink holds the evidence message. In the same run, the same collectors are timed one
after another and each alone (``bench_evidence.one_round``), so the ratios compare like with
like: bundle posted / slowest collector alone (target <= 1.3) and sequential / bundle posted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from service.app import create_app
from service.config.settings import load_settings
from tests.adapters.fakes.webhook import FakeWebhook
from tests.bench.bench_evidence import run as collector_rounds
from tests.conftest import alert, notification
from tests.procs import free_port
from tests.simkit import simulator_process

TOKEN, READ = "bench-bundle-token-0123", "bench-bundle-read-0123"


async def bundle_times(kubeconfig: Path, workdir: Path, rounds: int) -> list[float]:
    sink = FakeWebhook()
    await sink.start()
    port = free_port()
    settings = load_settings(overrides={
        "server": {"host": "127.0.0.1", "port": port},
        "auth": {"webhook_token": TOKEN, "read_token": READ},
        "store": {"sqlite_path": str(workdir / "bench.db")},
        "logging": {"level": "warning"},
        "kube": {"kubeconfig": str(kubeconfig)},
        "diagnostics": {"collector_timeout_s": 60, "overall_deadline_s": 90},
        "mitigation": {"mode": "observe"},
        "sinks": {"hook": {"type": "webhook", "url": sink.hook_url,
                           "events": ["evidence"]}},
    })
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    times = []
    try:
        async with aiohttp.ClientSession() as http:
            for i in range(rounds + 1):  # the first is a warm-up
                before = len(sink.deliveries)
                body = notification(alert(f"bench-{i}", namespace=f"bench-{i}",
                                          starts=datetime.now(UTC).isoformat()),
                                    group_key=f"bench-{i}")
                started = time.perf_counter()
                async with http.post(f"http://127.0.0.1:{port}/webhook", json=body,
                                     headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
                    assert resp.status == 200
                while len(sink.deliveries) == before:
                    await asyncio.sleep(0.002)
                if i:
                    times.append(time.perf_counter() - started)
    finally:
        await runner.cleanup()
        await sink.close()
    return times


def report(posted: list[float], rounds: list[dict[str, Any]], latency_s: float) -> float:
    bundle = statistics.median(posted)
    slowest = statistics.median(r["slowest_s"] for r in rounds)
    sequential = statistics.median(r["sequential"] for r in rounds)
    print(f"latency per request {latency_s * 1000:.0f} ms: webhook -> bundle posted "
          f"{bundle:.3f} s; slowest collector alone {slowest:.3f} s; collectors one after "
          f"another {sequential:.3f} s; posted / slowest = {bundle / slowest:.2f} "
          f"(target <= 1.3); sequential / posted = {sequential / bundle:.1f}x")
    return bundle / slowest


async def measure(kubeconfig: Path, workdir: Path, rounds: int,
                  latency_s: float) -> float:
    posted = await bundle_times(kubeconfig, workdir, rounds)
    return report(posted, await collector_rounds(kubeconfig, rounds), latency_s)


@pytest.mark.bench
async def test_webhook_to_bundle_small(tmp_path: Path) -> None:
    with simulator_process("cache-recovers", tmp_path) as (control, kubeconfig):
        control.add_fault(kind="latency", seconds=0.05)
        ratio = await measure(kubeconfig, tmp_path, 1, 0.05)
    assert ratio > 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, \
            simulator_process("cache-recovers", Path(tmp)) as (control, kubeconfig):
        control.add_fault(kind="latency", seconds=args.latency_ms / 1000)
        asyncio.run(measure(kubeconfig, Path(tmp), args.rounds, args.latency_ms / 1000))


if __name__ == "__main__":
    main()
