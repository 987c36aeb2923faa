"""``aislot-responder demo``: the whole runbook on embedded defaults, in under a minute.

A simulated ``codex-k8s-prod`` namespace (scenario ``cache-recovers`` by default) and the
responder (SQLite in a temporary directory, a console sink) share one compressed clock; the
alert reaches the responder through the real Alertmanager when it is installed (a direct POST
otherwise, said on screen). The incident's story is printed as it happens, then the
``GET /incidents/<id>`` summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from service.app import create_app
from service.domain.timetext import span
from service.logs import configure_logging
from service.settings import load_settings
from service.simulator.server import Simulator

SPEED = 120.0  # simulated seconds per real second: the 30-minute clean window takes 15 s
REAL_DEADLINE_S = 55.0
ALERTNAME = "AI_SLOT_BUILD_MANIFEST_UNKNOWN_PERSISTENT"
BUILD_REF_ALERTNAME = "AI_SLOT_CODEGEN_CHECK_BUILD_REF_INVALID"


class AnchoredSimClock:
    """The simulator's clock on the responder's formula: start + (wall - anchor) * speed."""

    def __init__(self, start: float, anchor: float, speed: float) -> None:
        self._start, self._anchor, self._speed, self._offset = start, anchor, speed, 0.0

    def now(self) -> float:
        return self._start + (time.time() - self._anchor) * self._speed + self._offset

    def advance(self, seconds: float) -> float:
        self._offset += seconds
        return self.now()


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
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _line(at: str, text: str) -> None:
    print(f"  {at[11:19]}  {text}", flush=True)


async def _follow(http: aiohttp.ClientSession, base: str, token: str, scenario: str,
                  real_deadline: float) -> dict[str, Any] | None:
    headers = {"Authorization": f"Bearer {token}"}
    incident: dict[str, Any] | None = None
    shown = 0
    settle_until: float | None = None
    while time.monotonic() < real_deadline:
        if incident is None:
            async with http.get(f"{base}/incidents", headers=headers) as resp:
                rows = (await resp.json())["incidents"]
            if rows:
                incident = {"id": rows[0]["id"]}
                print(f"\nincident {rows[0]['id']} (sim time, story as it happens):")
        if incident is not None:
            async with http.get(f"{base}/incidents/{incident['id']}", headers=headers) as resp:
                incident = await resp.json()
            for entry in incident["timeline"][shown:]:
                if entry["kind"] != "notification_queued":
                    _line(entry["at"], f"[{entry['kind']}] {entry['message']}")
            shown = len(incident["timeline"])
            done = incident["state"] == "resolved" or (
                scenario != "cache-recovers" and incident["escalated"])
            if done and settle_until is None:
                settle_until = time.monotonic() + 2.0  # let the last messages go out
            if settle_until is not None and time.monotonic() > settle_until:
                return incident
        await asyncio.sleep(0.25)
    return incident


async def _run(scenario: str, workdir: Path) -> int:
    anchor = time.time()
    start = datetime.fromtimestamp(anchor, UTC)
    sim = Simulator(scenario, clock=AnchoredSimClock(anchor, anchor, SPEED))
    await sim.start("127.0.0.1", 0)
    kubeconfig = sim.write_kubeconfig(workdir / "kubeconfig")
    webhook_token, read_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = load_settings(overrides={
        "server": {"host": "127.0.0.1", "port": port, "public_url": base},
        "auth": {"webhook_token": webhook_token, "read_token": read_token,
                 "link_key": secrets.token_urlsafe(32)},  # messages' links open the page
        "store": {"sqlite_path": str(workdir / "demo.db")},
        "logging": {"level": "warning", "format": "console"},
        "kube": {"kubeconfig": str(kubeconfig)},
        "escalation": {"monitor_interval_s": 30},
        "sinks": {"console": {"type": "console"}},
        "runtime": {"time_scale": SPEED, "time_origin": start.isoformat(),
                    "time_anchor": anchor},
    })
    print(f"simulated cluster: scenario {scenario!r} at {sim.url} (time x{SPEED:.0f})")
    print(f"responder: {base} (SQLite {workdir / 'demo.db'}, console sink)")
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    real_deadline = time.monotonic() + REAL_DEADLINE_S
    try:
        alert = firing_alert(start - timedelta(minutes=3), scenario)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http, \
                alertmanager(workdir, f"{base}/webhook", webhook_token) as am:
            if am is not None:
                print(f"alert: posted to the real Alertmanager at {am}, which notifies the "
                      "responder")
                async with http.post(f"{am}/api/v2/alerts", json=[alert]) as resp:
                    resp.raise_for_status()
            else:
                print("alert: Alertmanager is not installed; posting its webhook payload "
                      "directly")
                async with http.post(f"{base}/webhook", json=as_notification(alert), headers={
                        "Authorization": f"Bearer {webhook_token}"}) as resp:
                    resp.raise_for_status()
            incident = await _follow(http, base, read_token, scenario, real_deadline)
    finally:
        await runner.cleanup()
        await sim.stop()
    return _summary(incident)


def _switch_line(mitigation: dict[str, Any]) -> str:
    """What happened to the switch, without ``None -> None`` when it was never touched."""
    status = str(mitigation["status"]).replace("_", " ")
    before, after = mitigation.get("previous_value"), mitigation.get("new_value")
    if before is None and after is None:
        return f"{status} (not changed)"
    line = f"{status} ({before if before is not None else 'unset'} -> {after or 'unchanged'})"
    rollout = mitigation.get("rollout")
    return f"{line}, rollout {rollout}" if rollout and rollout not in {"none", "n/a"} else line


def _summary(incident: dict[str, Any] | None) -> int:
    if incident is None or "state" not in incident:
        print("\nno incident was opened", file=sys.stderr)
        return 1
    policy = incident["policy"]
    mitigation = policy["mitigation"]
    print(f"\nGET /incidents/{incident['id']} summary:")
    print(f"  state: {incident['state']}  escalated: {incident['escalated']}")
    print(f"  kill switch: {_switch_line(mitigation)}")
    mttr = policy["mttr_s"]
    print(f"  MTTR: {span(mttr) if mttr is not None else '-'}")
    for rule, esc in policy["escalations"].items():
        print(f"  escalation {rule} to {esc['audience']}: {esc['reason']}")
    delivered = sum(1 for d in incident["deliveries"] if d["status"] == "delivered")
    print(f"  evidence bundles: {len(incident['evidence'])}, messages delivered: {delivered}"
          f"/{len(incident['deliveries'])}, timeline entries: {len(incident['timeline'])}")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    configure_logging("warning", "console")
    with tempfile.TemporaryDirectory(prefix="aislot-demo-") as tmp:
        return asyncio.run(_run(args.scenario, Path(tmp)))
