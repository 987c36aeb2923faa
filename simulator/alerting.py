"""The alert a scenario raises, and the real Alertmanager that carries it to the responder.

Purpose: the demo's (and the realkube tests') way in: the catalog alert as Prometheus hands it to
Alertmanager, the same alert as Alertmanager's webhook (payload version 4) would carry it, and
the real Alertmanager binary routing to a webhook when it is installed.
Boundary: a child process and HTTP only; nothing of the responder is imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

ALERTNAME = "AI_SLOT_BUILD_MANIFEST_UNKNOWN_PERSISTENT"
BUILD_REF_ALERTNAME = "AI_SLOT_CODEGEN_CHECK_BUILD_REF_INVALID"


def firing_alert(starts: datetime, scenario: str = "cache-recovers") -> dict[str, Any]:
    """The catalog alert the scenario raises, as Prometheus hands it to Alertmanager."""
    build_ref = scenario == "build-ref"
    return {
        "labels": {"alertname": BUILD_REF_ALERTNAME if build_ref else ALERTNAME,
                   "namespace": "codex-k8s-prod",
                   "error_signature": "build-ref" if build_ref else "cache",
                   "job_kind": "codegen" if build_ref else "kaniko", "severity": "page",
                   "alert_id": "ALT-CK8S-AISLOT-BUILD-0001"},
        "annotations": {"summary": "codegen-check cannot check out the build ref" if build_ref
                        else "MANIFEST_UNKNOWN in control-plane logs (>= 2 in 15m)",
                        "runbook_url": "docs/ops/runbook_ai_slot_build_failures.md"},
        "startsAt": starts.isoformat(), "generatorURL": "http://prometheus/graph",
    }


def as_notification(alert: dict[str, Any]) -> dict[str, Any]:
    """The same alert as Alertmanager's webhook (payload version 4) would carry it."""
    name = alert["labels"]["alertname"]
    return {
        "version": "4", "groupKey": f'{{}}:{{alertname="{name}"}}', "truncatedAlerts": 0,
        "status": "firing", "receiver": "aislot-responder",
        "groupLabels": {"alertname": name, "namespace": "codex-k8s-prod"},
        "commonLabels": alert["labels"], "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager.local",
        "alerts": [{**alert, "status": "firing", "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": secrets.token_hex(8)}],
    }


@contextlib.asynccontextmanager
async def alertmanager(workdir: Path, webhook: str, token: str) -> AsyncIterator[str | None]:
    """The real Alertmanager routing to ``webhook``, or None when it is not installed."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        yield None
        return
    port = free_port()
    config = workdir / "alertmanager.yml"
    config.write_text(json.dumps({
        "route": {"receiver": "responder", "group_by": ["alertname", "namespace"],
                  "group_wait": "0s", "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "responder", "webhook_configs": [{
            "url": webhook, "send_resolved": True,
            "http_config": {"authorization": {"type": "Bearer", "credentials": token}}}]}],
    }))
    (workdir / "am").mkdir()
    proc = subprocess.Popen(  # noqa: ASYNC220, S603 - our own child process
        [binary, f"--config.file={config}", f"--storage.path={workdir / 'am'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            for _ in range(100):
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(f"{base}/-/ready") as resp:
                        if resp.status == 200:
                            break
                await asyncio.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(proc.wait, 5)


def free_port() -> int:
    """A free loopback port (for a child process to listen on)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
