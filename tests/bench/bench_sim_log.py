"""Benchmark: stream a huge pod log through the simulator; throughput and simulator memory.

Run: `.venv/bin/python -m tests.bench.bench_sim_log [--mb 1024]`.
The simulator runs in its own process (`python -m simulator serve`), a `huge_log`
fault makes the control-plane pod's log `--mb` megabytes (generated lazily, MANIFEST_UNKNOWN
every 997th line), and this process reads `GET .../pods/{pod}/log` in chunks. Reported:
bytes, seconds, MB/s, and the simulator's RSS before, at its highest while streaming (sampled
/proc/PID/status VmRSS) and VmHWM. The pytest test streams ~100 MB and asserts that the
simulator's memory stays flat (bytes and counts only; no wall-clock assertion).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

NS = "codex-k8s-prod"
MB = 1024 * 1024


@dataclass
class Figures:
    """One benchmark run."""

    bytes: int
    lines: int
    signatures: int
    seconds: float
    rss_before_kib: int
    rss_peak_kib: int
    hwm_kib: int

    @property
    def mb_per_s(self) -> float:
        return self.bytes / MB / self.seconds if self.seconds else 0.0

    @property
    def growth_kib(self) -> int:
        return self.rss_peak_kib - self.rss_before_kib


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _call(url: str, method: str = "GET", body: object = None) -> object:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


async def _stream(url: str, pod: str, pid: int) -> tuple[int, int, int, float, int]:
    total = lines = hits = 0
    peak = 0
    started = time.perf_counter()
    log_url = f"{url}/api/v1/namespaces/{NS}/pods/{pod}/log"
    async with aiohttp.ClientSession() as http, http.get(log_url) as resp:
        resp.raise_for_status()
        tail = b""
        async for chunk in resp.content.iter_chunked(1 << 20):
            total += len(chunk)
            lines += chunk.count(b"\n")
            block = tail + chunk
            hits += block.count(b"MANIFEST_UNKNOWN") - tail.count(b"MANIFEST_UNKNOWN")
            tail = chunk[-32:]
            if total // (8 * MB) != (total - len(chunk)) // (8 * MB):
                peak = max(peak, _status_kib(pid, "VmRSS"))
    return total, lines, hits, time.perf_counter() - started, peak


def run(size_mb: int) -> Figures:
    """Start a simulator process, stream `size_mb` of log through it, return the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "simulator",
                "serve",
                "--scenario",
                "healthy",
                "--port",
                "0",
                "--kubeconfig-out",
                str(Path(tmp) / "kubeconfig"),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().split()[3]
            state = _call(f"{url}/_sim/state")
            assert isinstance(state, dict)
            _call(
                f"{url}/_sim/faults",
                "POST",
                {"kind": "huge_log", "bytes": size_mb * MB, "name": "codex-k8s-control-plane-*"},
            )
            pods = _call(
                f"{url}/api/v1/namespaces/{NS}/pods?labelSelector="
                "app.kubernetes.io/component%3Dcontrol-plane"
            )
            assert isinstance(pods, dict)
            pod = pods["items"][0]["metadata"]["name"]
            before = _status_kib(proc.pid, "VmRSS")
            total, lines, hits, seconds, peak = asyncio.run(_stream(url, pod, proc.pid))
            peak = max(peak, _status_kib(proc.pid, "VmRSS"))
            hwm = _status_kib(proc.pid, "VmHWM")
        finally:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            if proc.poll() is None:
                proc.kill()
    return Figures(total, lines, hits, seconds, before, peak, hwm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024, help="log size in MiB (default 1024)")
    args = parser.parse_args()
    fig = run(args.mb)
    print(
        f"streamed      {fig.bytes / MB:10.1f} MiB, {fig.lines} lines, "
        f"{fig.signatures} MANIFEST_UNKNOWN lines"
    )
    print(f"time          {fig.seconds:10.2f} s")
    print(f"throughput    {fig.mb_per_s:10.1f} MiB/s")
    print(
        f"simulator RSS {fig.rss_before_kib / 1024:10.1f} MiB before, "
        f"{fig.rss_peak_kib / 1024:.1f} MiB peak while streaming "
        f"(growth {fig.growth_kib / 1024:.1f} MiB), VmHWM {fig.hwm_kib / 1024:.1f} MiB"
    )


@pytest.mark.bench
def test_hundred_megabytes_stream_with_flat_memory() -> None:
    fig = run(100)
    assert abs(fig.bytes - 100 * MB) < 5 * MB
    assert fig.signatures == (fig.lines + 996) // 997
    assert fig.growth_kib < 32 * 1024, f"simulator RSS grew {fig.growth_kib} KiB"


if __name__ == "__main__":
    main()
