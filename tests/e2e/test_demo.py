"""The README's first command, ``make demo`` (``aislot-simulator demo``), runs and tells the story.

The demo is the simulator's: it runs ``aislot-responder serve`` as a child process and talks to
it over HTTP only, so the story below also shows the two programs share the compressed clock.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # scripts/bootstrap installs both console scripts here


def _demo(*args: str) -> str:
    run = subprocess.run([str(BIN / "aislot-simulator"), "demo", *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=180, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_demo_cache_recovers_end_to_end() -> None:
    out = _demo()
    assert "posted to the real Alertmanager" in out  # CI installs it
    for line in ("[evidence_collected] evidence #1: cache confirmed",
                 "[mitigated] kill switch CODEXK8S_KANIKO_CACHE_ENABLED: true -> false (applied)",
                 "control-plane rollout finished", "[resolved] resolved:",
                 "state: resolved  escalated: False",
                 "kill switch: applied (true -> false), rollout complete"):
        assert line in out, line
    assert "MTTR: " in out and "MTTR: -" not in out
    assert "[console] evidence" in out and "[console] resolved" in out
    assert "ghp_" not in out


def test_demo_cache_persists_escalates() -> None:
    out = _demo("--scenario", "cache-persists")
    assert "escalation (repeat) to all" in out
    assert "escalation repeat to all: cache repeated 3 times in a row" in out
    assert "state: resolved" not in out


def test_the_responder_says_where_demo_and_simulate_went() -> None:
    for command, moved in (("demo", "aislot-simulator demo"),
                           ("simulate", "aislot-simulator serve")):
        run = subprocess.run([str(BIN / "aislot-responder"), command, "--scenario", "healthy"],
                             capture_output=True, text=True, timeout=60, check=False)
        assert run.returncode == 2, run.stdout + run.stderr
        assert f"`{command}` moved to `{moved}`" in run.stderr


def test_a_missing_responder_is_one_clear_line(tmp_path: Path) -> None:
    run = subprocess.run([str(BIN / "aislot-simulator"), "demo", "--responder",
                          str(tmp_path / "nowhere")], capture_output=True, text=True,
                         timeout=60, check=False)
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.startswith("aislot-simulator demo: ")
    assert "Traceback" not in run.stderr
