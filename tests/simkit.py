"""Shared helpers for tests that need the Kubernetes simulator.

In-process: `running_simulator(...)` (async context manager) starts a `Simulator` with a manual
clock on a free loopback port and writes its kubeconfig; the `sim_factory` and `simulator`
pytest fixtures wrap it. Real tools: `kubectl(...)` runs the real kubectl binary against a
simulator (async, so the in-process server keeps serving). Other process: `simulator_process()`
runs `python -m simulator serve` and `SimControl` drives it through `/_sim/`.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from simulator.server import Simulator
from tests.realkube.cluster import binaries

NAMESPACE = "codex-k8s-prod"
SimFactory = Callable[..., AbstractAsyncContextManager[Simulator]]


@asynccontextmanager
async def running_simulator(
    scenario: str = "healthy",
    directory: Path | None = None,
    start: str | None = None,
    **kwargs: Any,
) -> AsyncIterator[Simulator]:
    """A started manual-clock simulator; `sim.kubeconfig_path` is set when `directory` is."""
    sim = Simulator.manual(scenario, start=start, **kwargs)
    await sim.start("127.0.0.1", 0)
    if directory is not None:
        sim.write_kubeconfig(directory / f"kubeconfig-{scenario}")
    try:
        yield sim
    finally:
        await sim.stop()


@pytest.fixture
def sim_factory(tmp_path: Path) -> SimFactory:
    """`async with sim_factory("cache-recovers") as sim:` -- kubeconfig under tmp_path."""

    def factory(scenario: str = "healthy", **kwargs: Any) -> AbstractAsyncContextManager[Simulator]:
        return running_simulator(scenario, tmp_path, **kwargs)

    return factory


@pytest.fixture
async def simulator(tmp_path: Path) -> AsyncIterator[Simulator]:
    """A running `healthy` simulator with a manual clock and a kubeconfig."""
    async with running_simulator("healthy", tmp_path) as sim:
        yield sim


def kubectl_path() -> str:
    """The real kubectl of the release the realkube tests run (scripts/build-k8s builds it with
    the control plane, once per machine); tests fail (not skip) without it."""
    return str(binaries() / "kubectl")


@dataclass
class Run:
    """A finished process."""

    code: int
    out: str
    err: str


async def kubectl(sim: Simulator, *args: str, timeout: float = 60.0) -> Run:
    """Run the real kubectl against `sim` (its kubeconfig and a private discovery cache)."""
    config = sim.kubeconfig_path
    if config is None:
        raise RuntimeError("start the simulator with a directory to get a kubeconfig")
    cache = Path(config).parent / "kube-cache"
    proc = await asyncio.create_subprocess_exec(
        kubectl_path(),
        f"--kubeconfig={config}",
        f"--cache-dir={cache}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": str(Path(config).parent)},
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:  # timed out or cancelled: no kubectl outlives its test
            proc.kill()
            await proc.wait()
    return Run(proc.returncode or 0, out.decode(), err.decode())


def grep_e(text: str, pattern: str) -> list[str]:
    """`grep -E pattern` over lines, with the real grep binary."""
    done = subprocess.run(
        ["grep", "-E", pattern], input=text, capture_output=True, text=True, check=False
    )
    return done.stdout.splitlines()


@dataclass
class SimControl:
    """Drive a simulator running in another process through its `/_sim/` endpoints."""

    url: str

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def advance(self, seconds: float) -> Any:
        return self._call("POST", "/_sim/clock/advance", {"seconds": seconds})

    def state(self) -> Any:
        return self._call("GET", "/_sim/state")

    def audit(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/_sim/audit")["items"])

    def add_fault(self, **rule: Any) -> Any:
        return self._call("POST", "/_sim/faults", rule)

    def clear_faults(self) -> Any:
        return self._call("DELETE", "/_sim/faults")


@contextmanager
def simulator_process(
    scenario: str, directory: Path, speed: float = 1.0
) -> Iterator[tuple[SimControl, Path]]:
    """Run `python -m simulator serve` in its own process; yields control + kubeconfig."""
    config = directory / f"kubeconfig-{scenario}-proc"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator",
            "serve",
            "--scenario",
            scenario,
            "--port",
            "0",
            "--kubeconfig-out",
            str(config),
            "--speed",
            str(speed),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("simulator listening on "):
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"simulator did not start: {line!r} {err}")
        url = line.split()[3]
        yield SimControl(url), config
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
