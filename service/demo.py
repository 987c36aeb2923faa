"""``aislot-responder demo``: the service on embedded defaults, answering a sample alert.

Starts the responder in-process on a free loopback port with SQLite in a temporary directory,
posts one ALT-CK8S-AISLOT-BUILD-0001 alert to it as Alertmanager would, and prints the incident
that ``GET /incidents/<id>`` returns.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from service.app import create_app
from service.logs import configure_logging
from service.settings import load_settings


def sample_notification(now: datetime) -> dict[str, Any]:
    """One firing MANIFEST_UNKNOWN alert, shaped as Alertmanager's webhook sends it."""
    labels = {
        "alertname": "AI_SLOT_BUILD_MANIFEST_UNKNOWN_PERSISTENT",
        "namespace": "codex-k8s-prod", "error_signature": "cache", "job_kind": "kaniko",
        "severity": "page", "alert_id": "ALT-CK8S-AISLOT-BUILD-0001",
    }
    return {
        "version": "4", "groupKey": '{}:{alertname="AI_SLOT_BUILD_MANIFEST_UNKNOWN_PERSISTENT"}',
        "truncatedAlerts": 0, "status": "firing", "receiver": "aislot-responder",
        "groupLabels": {"alertname": labels["alertname"], "namespace": labels["namespace"]},
        "commonLabels": labels, "commonAnnotations": {}, "externalURL": "http://alertmanager",
        "alerts": [{
            "status": "firing", "labels": labels,
            "annotations": {"summary": "MANIFEST_UNKNOWN while retrieving image from cache"},
            "startsAt": (now - timedelta(minutes=4)).isoformat(),
            "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus/graph",
            "fingerprint": secrets.token_hex(8),
        }],
    }


async def _run(workdir: Path) -> int:
    webhook_token, read_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    settings = load_settings(overrides={
        "server": {"host": "127.0.0.1", "port": 0},
        "auth": {"webhook_token": webhook_token, "read_token": read_token},
        "store": {"sqlite_path": str(workdir / "demo.db")},
    })
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    base = f"http://127.0.0.1:{port}"
    print(f"responder listening on {base} (SQLite at {workdir / 'demo.db'})")
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            body = sample_notification(datetime.now(UTC))
            print("posting a sample alert directly (as Alertmanager's webhook would)")
            async with http.post(f"{base}/webhook", json=body,
                                 headers={"Authorization": f"Bearer {webhook_token}"}) as resp:
                ack = await resp.json()
                print(f"POST /webhook -> {resp.status}: {json.dumps(ack)}")
                if resp.status != 200:
                    return 1
            incident_id = ack["incidents"][0]
            async with http.get(f"{base}/incidents/{incident_id}",
                                headers={"Authorization": f"Bearer {read_token}"}) as resp:
                incident = await resp.json()
            print(f"GET /incidents/{incident_id} -> {resp.status}")
            print(json.dumps(incident, indent=2))
    finally:
        await runner.cleanup()
    return 0


def run_demo(args: argparse.Namespace) -> int:
    configure_logging("warning", "console")
    with tempfile.TemporaryDirectory(prefix="aislot-demo-") as tmp:
        code = asyncio.run(_run(Path(tmp)))
    sys.stdout.flush()
    return code
