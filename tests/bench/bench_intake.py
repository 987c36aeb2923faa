"""Webhook intake: throughput and ack latency of the responder (durable, group commit) against
a bare aiohttp handler that only parses JSON, side by side in the same run, plus the
responder's memory over a long run. Figures are printed; nothing asserts on time.

    python -m tests.bench.bench_intake --requests 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import alert, notification
from tests.procs import free_port, http, start_responder, stop, wait_until

TOKEN = "bench-webhook-token-0123456789"
ENV = {"AISLOT_AUTH__WEBHOOK_TOKEN": TOKEN, "AISLOT_AUTH__READ_TOKEN": "bench-read-0123456789",
       "AISLOT_LOGGING__LEVEL": "warning"}


@dataclass
class Run:
    name: str
    concurrency: int
    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def bodies(count: int, offset: int) -> list[bytes]:
    return [json.dumps(notification(
        alert(f"bench-{offset + i}", error_signature=f"sig-{(offset + i) % 50}"),
        group_key=f'{{}}:{{alertname="B{offset + i}"}}')).encode() for i in range(count)]


async def load(url: str, payloads: list[bytes], concurrency: int, name: str) -> Run:
    latencies: list[float] = []
    errors = 0
    queue = iter(payloads)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            for body in queue:
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        elapsed = time.perf_counter() - started
    return Run(name, concurrency, len(payloads), elapsed, latencies, errors)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def start_bare() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.bench.bare_server", str(port)],
                            cwd=Path(__file__).resolve().parents[2])
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return http("GET", f"{base}/readyz", timeout=1)[0] == 200
        except OSError:
            return False

    wait_until(up, what="bare server")
    return proc, base


def compare(requests: int, levels: list[int], workdir: Path) -> list[tuple[Run, Run]]:
    bare, bare_base = start_bare()
    ours = start_responder(workdir, ENV)
    results = []
    offset = 0
    try:
        for level in levels:
            payloads = bodies(requests, offset)
            offset += requests
            base_run = asyncio.run(load(f"{bare_base}/webhook", payloads, level, "bare"))
            our_run = asyncio.run(load(f"{ours.base}/webhook", payloads, level, "responder"))
            results.append((base_run, our_run))
    finally:
        stop(bare)
        stop(ours.proc)
    return results


def memory_run(requests: int, workdir: Path, batch: int = 10_000) -> list[int]:
    """RSS of the responder (KiB) after warm-up and after each further batch."""
    workdir.mkdir(parents=True, exist_ok=True)
    ours = start_responder(workdir, ENV)
    samples = []
    try:
        asyncio.run(load(f"{ours.base}/webhook", bodies(2000, 10**7), 32, "warmup"))
        samples.append(rss_kib(ours.proc.pid))
        done = 0
        while done < requests:
            n = min(batch, requests - done)
            asyncio.run(load(f"{ours.base}/webhook", bodies(n, 2 * 10**7 + done), 32, "mem"))
            done += n
            samples.append(rss_kib(ours.proc.pid))
    finally:
        stop(ours.proc)
    return samples


def commit_floor_ms(workdir: Path, commits: int = 300) -> float:
    """One durable SQLite commit on this disk (WAL, synchronous=FULL, as the store runs it).

    At concurrency 1 every webhook waits for its own fsync, so this bounds the ratio there:
    bare / (bare + commit), whatever the code does.
    """
    import sqlite3

    conn = sqlite3.connect(workdir / "floor.db", isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t (body BLOB)")
        started = time.perf_counter()
        for _ in range(commits):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t VALUES (?)", (b"x" * 600,))
            conn.execute("COMMIT")
        return (time.perf_counter() - started) / commits * 1000
    finally:
        conn.close()


def report(results: list[tuple[Run, Run]]) -> str:
    lines = ["concurrency  bare rps  ours rps  ratio  bare p50/p99 ms  ours p50/p99 ms  errors"]
    for bare, ours in results:
        lines.append(
            f"{bare.concurrency:>11}  {bare.rps:>8.0f}  {ours.rps:>8.0f}"
            f"  {ours.rps / bare.rps:>5.2f}"
            f"  {bare.pct(0.5):>6.1f}/{bare.pct(0.99):<7.1f}  {ours.pct(0.5):>6.1f}/"
            f"{ours.pct(0.99):<7.1f}  {bare.errors}/{ours.errors}")
    return "\n".join(lines)


@pytest.mark.bench
def test_intake_against_bare_handler(tmp_path: Path) -> None:
    results = compare(1500, [1, 16, 64], tmp_path)
    print("\n" + report(results))
    print(f"durable commit on this disk: {commit_floor_ms(tmp_path, commits=50):.2f} ms")
    for bare, ours in results:
        assert bare.errors == 0 and ours.errors == 0
        assert len(ours.latencies) == ours.requests
    samples = memory_run(6000, tmp_path / "mem", batch=3000)
    print(f"responder RSS KiB after warm-up and each batch: {samples}")
    assert len(samples) == 3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100_000, help="for the memory run")
    parser.add_argument("--per-level", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(report(compare(args.per_level, [1, 16, 64, 256], Path(tmp))))
        print(f"durable commit on this disk: {commit_floor_ms(Path(tmp)):.2f} ms")
        samples = memory_run(args.requests, Path(tmp) / "mem")
        growth = samples[-1] - samples[0]
        print(f"RSS KiB {samples}; growth after warm-up {growth} KiB "
              f"({statistics.mean(samples):.0f} mean)")


if __name__ == "__main__":
    main()
