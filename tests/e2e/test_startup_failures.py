"""Issue 12, finding 7: a start that cannot succeed prints one clear line and exits 2 before
any background loop starts. On main an unreachable PostgreSQL exited with an 82-line
traceback, and a port in use with a 29-line traceback after the loops had started (aiohttp
bound the port only after the app's start-up, which opens the store and starts the loops)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.procs import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {"AISLOT_AUTH__WEBHOOK_TOKEN": "startup-webhook-token-0123",
          "AISLOT_AUTH__READ_TOKEN": "startup-read-token-0123"}


def _serve(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**{k: v for k, v in os.environ.items() if not k.startswith("AISLOT_")},
            "AISLOT_SERVER__HOST": "127.0.0.1", "AISLOT_LOGGING__FORMAT": "json",
            "AISLOT_STORE__SQLITE_PATH": str(tmp_path / "responder.db"), **TOKENS, **env}
    return subprocess.run([sys.executable, "-m", "service", "serve"], env=full, cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)


def _one_line(run: subprocess.CompletedProcess[str]) -> str:
    out = run.stdout + run.stderr
    assert run.returncode == 2, out
    assert "Traceback" not in out, out
    lines = [line for line in out.splitlines() if line.strip()
             and "kube_config" not in line]  # kubernetes_asyncio's own import-time warning
    assert len(lines) == 1, out
    assert lines[0].startswith("aislot-responder: "), out
    return lines[0]


def test_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _one_line(_serve(tmp_path, {"AISLOT_SERVER__PORT": str(port)}))
    assert f"cannot listen on 127.0.0.1:{port}" in line and "in use" in line
    assert not (tmp_path / "responder.db").exists(), "the store was opened before the bind"


def test_an_unreachable_postgres(tmp_path: Path) -> None:
    dsn = f"postgresql://aislot:pw-secret-0123@127.0.0.1:{free_port()}/aislot"
    line = _one_line(_serve(tmp_path, {
        "AISLOT_SERVER__PORT": str(free_port()), "AISLOT_STORE__BACKEND": "postgres",
        "AISLOT_STORE__POSTGRES_DSN": dsn, "AISLOT_STORE__TIMEOUT_S": "1",
        "AISLOT_STORE__POSTGRES_MIGRATE_TIMEOUT_S": "3"}))
    assert "cannot open the store: postgres" in line and "pw-secret" not in line


def test_an_sqlite_file_that_cannot_be_opened(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    line = _one_line(_serve(tmp_path, {
        "AISLOT_SERVER__PORT": str(free_port()),
        "AISLOT_STORE__SQLITE_PATH": str(tmp_path / "a-file" / "responder.db")}))
    assert "cannot open the store: sqlite" in line


def test_a_bad_config(tmp_path: Path) -> None:
    """A config error is one line per wrong field, after one heading line."""
    run = _serve(tmp_path, {"AISLOT_SERVER__PORT": "http"})
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.startswith("aislot-responder: invalid configuration")
    assert "server.port" in run.stderr and len(run.stderr.splitlines()) == 2
