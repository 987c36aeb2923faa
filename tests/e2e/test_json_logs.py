"""In JSON mode every line ``aislot-responder serve`` prints is one JSON object: start-up, a
start with no cluster (the kube client library's own warning included), requests, shutdown;
no aiohttp banner. The console format stays readable lines for the demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import alert, notification
from tests.procs import http, start_responder, stop

pytestmark = pytest.mark.e2e

WEBHOOK, READ = "json-logs-webhook-token-0001", "json-logs-read-token-00001"
LINK_KEY = "json-logs-link-key-" + "0123456789abcdef" * 2


def _run(tmp_path: Path, fmt: str) -> str:
    """Start the service without a cluster, use it a little, stop it; its whole output."""
    home = tmp_path / "home"  # no ~/.kube/config: the library warns, the service goes on
    home.mkdir()
    env = {"AISLOT_AUTH__WEBHOOK_TOKEN": WEBHOOK, "AISLOT_AUTH__READ_TOKEN": READ,
           "AISLOT_AUTH__LINK_KEY": LINK_KEY, "AISLOT_LOGGING__FORMAT": fmt,
           "HOME": str(home), "KUBECONFIG": "", "PYTHONWARNINGS": "default"}
    svc = start_responder(tmp_path, env)
    try:
        status, ack = http("POST", f"{svc.base}/webhook", notification(alert("fp-json")),
                           token=WEBHOOK)
        assert status == 200, ack
        status, _ = http("GET", f"{svc.base}/incidents/{ack['incidents'][0]}", token=READ)
        assert status == 200
        assert http("GET", f"{svc.base}/incidents/nope", token=READ)[0] == 404
        assert http("GET", f"{svc.base}/incidents")[0] == 401
    finally:
        stop(svc.proc)
    assert svc.proc.returncode == 0, svc.log()
    return svc.log()


def test_every_line_in_json_mode_is_json(tmp_path: Path) -> None:
    output = _run(tmp_path, "json")
    lines = output.splitlines()
    events: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        try:
            events.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"line {number} is not JSON: {line!r}\n{output}") from None
        assert isinstance(events[-1], dict) and "event" in events[-1] and "level" in events[-1]
    names = [e["event"] for e in events]
    for name in ("store_migrated", "kube_unavailable", "server_listening", "webhook_stored",
                 "server_stopped"):
        assert name in names, (name, names)
    library = [e for e in events if str(e.get("logger", "")).startswith("kubernetes_asyncio")]
    assert library and all("timestamp" in e for e in library)  # a library's line, as JSON
    assert "Running on" not in output and LINK_KEY not in output and READ not in output


def test_console_format_stays_readable(tmp_path: Path) -> None:
    output = _run(tmp_path, "console")
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines and not any(line.lstrip().startswith("{") for line in lines)
    assert any("server_listening" in line for line in lines)
    assert any("kubernetes_asyncio" in line for line in lines)
    assert "Running on" not in output
