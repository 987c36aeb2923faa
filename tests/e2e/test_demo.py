"""The README's first command, ``aislot-responder demo``, runs and tells the story."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _demo(*args: str) -> str:
    run = subprocess.run([sys.executable, "-m", "service", "demo", *args], cwd=ROOT,
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
