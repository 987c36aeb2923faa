"""`aislot-simulator serve` (`python -m simulator serve`): the simulator as its own process,
driven via `/_sim/`.

This is how other processes use it: start, read the one stdout line, point kubectl
at the written kubeconfig, move time and inject faults over HTTP, stop with SIGTERM.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.simkit import kubectl_path, simulator_process

pytestmark = pytest.mark.e2e


def _kubectl(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kubectl_path(), f"--kubeconfig={config}", f"--cache-dir={config.parent / 'cache'}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_process_serves_kubectl_and_is_driven_remotely(tmp_path: Path) -> None:
    with simulator_process("cache-recovers", tmp_path) as (control, config):
        text = config.read_text()
        assert "namespace: codex-k8s-prod" in text and "token: " in text
        assert f"server: {control.url}" in text
        deploys = _kubectl(config, "get", "deploy")
        assert deploys.returncode == 0, deploys.stderr
        assert "codex-k8s-control-plane   1/1" in deploys.stdout
        before = control.state()
        control.advance(600)
        after = control.state()
        assert len(after["jobs"]) > len(before["jobs"])
        control.add_fault(kind="forbidden", resource="jobs", verb="list")
        denied = _kubectl(config, "get", "jobs")
        assert denied.returncode == 1
        assert 'cannot list resource "jobs" in API group "batch"' in denied.stderr
        control.clear_faults()
        env = _kubectl(
            config,
            "set",
            "env",
            "deploy/codex-k8s-control-plane",
            "CODEXK8S_KANIKO_CACHE_ENABLED=false",
        )
        assert env.returncode == 0, env.stderr
        audit = control.audit()
        assert audit[-1]["method"] == "PATCH" and audit[-1]["patch_type"] == "strategic"


def test_sigterm_stops_cleanly(tmp_path: Path) -> None:
    config = tmp_path / "kc"
    proc = subprocess.Popen(  # the console script scripts/bootstrap installs
        [
            str(Path(sys.executable).parent / "aislot-simulator"),
            "serve",
            "--scenario",
            "healthy",
            "--kubeconfig-out",
            str(config),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("simulator listening on http://127.0.0.1:")
    assert line.strip().endswith(f"kubeconfig={config}")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0


def test_unknown_scenario_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "serve", "--scenario", "nope"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "unknown scenario 'nope'" in done.stderr
