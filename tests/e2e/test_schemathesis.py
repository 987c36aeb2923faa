"""Schemathesis over ``/openapi.json`` against the running service, as the outside test of
issue 12 did: every operation, with the right credentials per operation and with none, a
fixed seed and a small budget. Every check it has must pass: no server error, every response
as the document says, schema-violating data refused and schema-valid data taken.

The service runs for real (``aislot-responder serve``) with a simulated cluster, so the
Owner's approve route answers as in production rather than 503 (no cluster access)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.server import Simulator
from tests.procs import free_port, start_responder, stop

pytestmark = pytest.mark.e2e

TOKENS = {"WEBHOOK": "st-webhook-token-0123456789", "READ": "st-read-token-0123456789",
          "OWNER": "st-owner-token-0123456789"}
# Each operation gets its own credential; ${...} is read from the environment by schemathesis.
CONFIG = """
[checks.negative_data_rejection]
# Refusals the document lists besides 4xx validation: a body over server.max_body_bytes.
expected-statuses = [400, 401, 404, 405, 406, 409, 413, 415, 422]

[[operations]]
include-path = "/webhook"
headers = { Authorization = "Bearer ${ST_WEBHOOK}" }

[[operations]]
include-path-regex = "^/incidents(/\\\\{incident_id\\\\})?$"
headers = { Authorization = "Bearer ${ST_READ}" }

[[operations]]
include-path = "/incidents/{incident_id}/approve"
headers = { Authorization = "Bearer ${ST_OWNER}" }
"""
SEED, EXAMPLES = 20261205, 40


def _schemathesis(base: str, workdir: Path, *, credentials: bool
                  ) -> subprocess.CompletedProcess[str]:
    config = workdir / "schemathesis.toml"
    config.write_text(CONFIG if credentials else
                      CONFIG.split("[[operations]]", 1)[0])
    env = {**os.environ, **{f"ST_{k}": v for k, v in TOKENS.items()}}
    return subprocess.run(
        [str(Path(sys.executable).with_name("st")), "--config-file", str(config), "run",
         f"{base}/openapi.json", "--checks", "all", "--seed", str(SEED),
         "--max-examples", str(EXAMPLES), "--workers", "1", "--output-truncate", "true",
         "--request-timeout", "20"],
        env=env, cwd=workdir, capture_output=True, text=True, timeout=150, check=False)


@pytest.mark.parametrize("credentials", [True, False], ids=["credentials", "none"])
async def test_schemathesis_finds_nothing(tmp_path: Path, credentials: bool) -> None:
    sim = Simulator("healthy")
    await sim.start("127.0.0.1", 0)
    kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
    svc = await asyncio.to_thread(start_responder, tmp_path, {
        "AISLOT_AUTH__WEBHOOK_TOKEN": TOKENS["WEBHOOK"], "AISLOT_AUTH__READ_TOKEN": TOKENS["READ"],
        "AISLOT_AUTH__OWNER_TOKEN": TOKENS["OWNER"], "AISLOT_KUBE__KUBECONFIG": str(kubeconfig),
        "AISLOT_LOGGING__LEVEL": "warning"}, free_port())
    try:
        run = await asyncio.to_thread(_schemathesis, svc.base, tmp_path,
                                      credentials=credentials)
    finally:
        stop(svc.proc)
        await sim.stop()
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    assert "Selected: 7/7" in run.stdout and "Tested: 7" in run.stdout, report
    # Nothing a client sends is the service's error: no traceback, no error-level line, but
    # for a body over the limit (error on purpose: Alertmanager would drop that group).
    bad = [line for line in svc.log().splitlines()
           if ("Traceback" in line or '"level": "error"' in line or line.startswith("ERROR"))
           and '"status": 413' not in line]
    assert bad == [], "\n".join(bad)[:4000]
