"""``aislot-simulator demo``: the whole runbook on embedded defaults, in under a minute.

A simulated ``codex-k8s-prod`` namespace (scenario ``cache-recovers`` by default) in this process
and the responder (``aislot-responder serve`` as a child process: SQLite in a temporary
directory, a console sink) share one compressed clock; the alert reaches the responder through
the real Alertmanager when it is installed (a direct POST otherwise, said on screen). The
incident's story is printed as it happens, then the ``GET /incidents/<id>`` summary.
Boundary: the responder is driven as a program, over HTTP only; nothing of it is imported.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from simulator.alerting import alertmanager, as_notification, firing_alert, free_port
from simulator.clock import AnchoredClock
from simulator.responder_process import ResponderError, responder_program, running_responder
from simulator.server import Simulator

SPEED = 120.0  # simulated seconds per real second: the 30-minute clean window takes 15 s
REAL_DEADLINE_S = 55.0
_UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def _line(at: str, text: str) -> None:
    print(f"  {at[11:19]}  {text}", flush=True)


def span(seconds: float) -> str:
    """A duration as the responder's messages say it: its two largest units (``4 min 30 s``)."""
    left = round(seconds)
    if left < 0:
        return f"-{span(-left)}"
    parts: list[str] = []
    for unit, size in _UNITS:
        count, left = divmod(left, size)
        if count or parts:
            parts.append(f"{count} {unit}")
    shown = [part for part in parts[:2] if not part.startswith("0 ")]
    return " ".join(shown) or "0 s"


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
                print(f"\nincident {rows[0]['id']} (sim time, story as it happens):", flush=True)
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


def _responder_settings(workdir: Path, base: str, kubeconfig: Path, tokens: dict[str, str],
                        anchor: float) -> dict[str, str]:
    """The responder's configuration as env (``AISLOT_*``), the sim's clock included."""
    port = base.rsplit(":", 1)[-1]
    return {
        "AISLOT_SERVER__HOST": "127.0.0.1", "AISLOT_SERVER__PORT": port,
        "AISLOT_SERVER__PUBLIC_URL": base,
        "AISLOT_AUTH__WEBHOOK_TOKEN": tokens["webhook"], "AISLOT_AUTH__READ_TOKEN": tokens["read"],
        "AISLOT_AUTH__LINK_KEY": tokens["link"],  # messages' links open the page
        "AISLOT_STORE__SQLITE_PATH": str(workdir / "demo.db"),
        "AISLOT_LOGGING__LEVEL": "warning", "AISLOT_LOGGING__FORMAT": "console",
        "AISLOT_KUBE__KUBECONFIG": str(kubeconfig),
        "AISLOT_ESCALATION__MONITOR_INTERVAL_S": "30",
        "AISLOT_SINKS__CONSOLE__TYPE": "console",
        "AISLOT_RUNTIME__TIME_SCALE": str(SPEED),
        "AISLOT_RUNTIME__TIME_ORIGIN": datetime.fromtimestamp(anchor, UTC).isoformat(),
        "AISLOT_RUNTIME__TIME_ANCHOR": repr(anchor),
    }


async def _run(scenario: str, workdir: Path, program: str) -> int:
    anchor = time.time()
    start = datetime.fromtimestamp(anchor, UTC)
    sim = Simulator(scenario, clock=AnchoredClock(anchor, anchor, SPEED))
    await sim.start("127.0.0.1", 0)
    kubeconfig = sim.write_kubeconfig(workdir / "kubeconfig")
    tokens = {"webhook": secrets.token_urlsafe(24), "read": secrets.token_urlsafe(24),
              "link": secrets.token_urlsafe(32)}
    base = f"http://127.0.0.1:{free_port()}"
    print(f"simulated cluster: scenario {scenario!r} at {sim.url} (time x{SPEED:.0f})")
    print(f"responder: {base} (SQLite {workdir / 'demo.db'}, console sink)", flush=True)
    real_deadline = time.monotonic() + REAL_DEADLINE_S
    try:
        async with running_responder(program, base, _responder_settings(
                workdir, base, kubeconfig, tokens, anchor)):
            incident = await _deliver_and_follow(workdir, base, tokens, scenario, start,
                                                 real_deadline)
    finally:
        await sim.stop()
    return _summary(incident)


async def _deliver_and_follow(workdir: Path, base: str, tokens: dict[str, str], scenario: str,
                              start: datetime, real_deadline: float) -> dict[str, Any] | None:
    alert = firing_alert(start - timedelta(minutes=3), scenario)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http, \
            alertmanager(workdir, f"{base}/webhook", tokens["webhook"]) as am:
        if am is not None:
            print(f"alert: posted to the real Alertmanager at {am}, which notifies the "
                  "responder", flush=True)
            async with http.post(f"{am}/api/v2/alerts", json=[alert]) as resp:
                resp.raise_for_status()
        else:
            print("alert: Alertmanager is not installed; posting its webhook payload "
                  "directly", flush=True)
            async with http.post(f"{base}/webhook", json=as_notification(alert), headers={
                    "Authorization": f"Bearer {tokens['webhook']}"}) as resp:
                resp.raise_for_status()
        return await _follow(http, base, tokens["read"], scenario, real_deadline)


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
          f"/{len(incident['deliveries'])}, timeline entries: {len(incident['timeline'])}",
          flush=True)
    return 0


def run_demo(args: argparse.Namespace) -> int:
    """`aislot-simulator demo [--scenario NAME] [--responder PROGRAM]`."""
    try:
        program = responder_program(args.responder)
        with tempfile.TemporaryDirectory(prefix="aislot-demo-") as tmp:
            return asyncio.run(_run(args.scenario, Path(tmp), program))
    except (ResponderError, ValueError) as exc:
        print(f"aislot-simulator demo: {exc}", file=sys.stderr)
        return 2
