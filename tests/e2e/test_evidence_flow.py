"""Real Alertmanager -> the responder (a subprocess) -> the simulated cluster -> every sink.

The evidence bundle arrives at the fake Slack, Telegram, GitHub, PagerDuty and webhook
receivers; and no token from the cluster's logs (the clone URLs carry `ghp_` tokens) appears
in the store file, the API, any sink payload or the service's log.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from simulator.clock import AnchoredClock
from simulator.server import Simulator
from tests.adapters.fakes.github import FakeGithub
from tests.adapters.fakes.pagerduty import FakePagerDuty
from tests.adapters.fakes.slack import FakeSlack
from tests.adapters.fakes.telegram import FakeTelegram
from tests.adapters.fakes.webhook import FakeWebhook
from tests.procs import alertmanager, free_port, start_responder, stop

TOKEN, READ = "flow-webhook-token-0123", "flow-read-token-0123"
GH, TG, PD = "ghp_flowsinktoken000000000000000000000", "123456:flow-bot-token", "pdroutingkey01"
SECRET = re.compile(r"(ghp_[A-Za-z0-9]{20,}|x-access-token:(?!\[REDACTED\])[^@\s\"]+@)")


async def _wait(predicate, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


async def test_bundle_reaches_every_sink_through_real_alertmanager_redacted(
        tmp_path: Path) -> None:
    anchor = time.time()
    sim = Simulator("cache-recovers", clock=AnchoredClock(anchor, anchor, 10.0))
    await sim.start("127.0.0.1", 0)
    kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
    slack, hook = FakeSlack(), FakeWebhook()
    telegram, github = FakeTelegram(TG, {"-100200"}), FakeGithub(GH, "codex-k8s/codex-k8s", {205})
    pagerduty = FakePagerDuty({PD})
    fakes = (slack, hook, telegram, github, pagerduty)
    for fake in fakes:
        await fake.start()
    env = {
        "AISLOT_AUTH__WEBHOOK_TOKEN": TOKEN, "AISLOT_AUTH__READ_TOKEN": READ,
        "AISLOT_KUBE__KUBECONFIG": str(kubeconfig),
        "AISLOT_RUNTIME__TIME_SCALE": "10.0",
        "AISLOT_RUNTIME__TIME_ORIGIN": datetime.fromtimestamp(anchor, UTC).isoformat(),
        "AISLOT_RUNTIME__TIME_ANCHOR": repr(anchor),
        "AISLOT_LOGGING__LEVEL": "debug",
        "AISLOT_SINKS__SLACK__TYPE": "slack", "AISLOT_SINKS__SLACK__URL": slack.hook_url,
        "AISLOT_SINKS__HOOK__TYPE": "webhook", "AISLOT_SINKS__HOOK__URL": hook.hook_url,
        "AISLOT_SINKS__TG__TYPE": "telegram", "AISLOT_SINKS__TG__URL": telegram.url,
        "AISLOT_SINKS__TG__TOKEN": TG, "AISLOT_SINKS__TG__CHAT_ID": "-100200",
        "AISLOT_SINKS__GH__TYPE": "github", "AISLOT_SINKS__GH__URL": github.url,
        "AISLOT_SINKS__GH__TOKEN": GH, "AISLOT_SINKS__GH__REPO": "codex-k8s/codex-k8s",
        "AISLOT_SINKS__PD__TYPE": "pagerduty", "AISLOT_SINKS__PD__URL": pagerduty.url,
        "AISLOT_SINKS__PD__TOKEN": PD,
    }
    svc = await asyncio.to_thread(start_responder, tmp_path, env, free_port())
    try:
        with alertmanager(tmp_path, f"{svc.base}/webhook", TOKEN) as am:
            starts = datetime.fromtimestamp(sim.clock.now(), UTC) - timedelta(minutes=4)
            await asyncio.to_thread(am.post_alerts, [{
                "labels": {"alertname": "AI_SLOT_BUILD_MANIFEST_UNKNOWN_PERSISTENT",
                           "namespace": "codex-k8s-prod", "error_signature": "cache"},
                "annotations": {"summary": "MANIFEST_UNKNOWN"},
                "startsAt": starts.isoformat()}])
            await _wait(lambda: len(hook.deliveries) >= 1 and len(slack.received) >= 1
                        and len(telegram.messages) >= 1 and len(pagerduty.received) >= 1)
            evidence = next(b for b in hook.deliveries if b["message"]["event"] == "evidence")
            message = evidence["message"]
            assert message["facts"] and "cache" in message["title"]
            titles = [s["title"] for s in message["sections"]]
            assert any(t.startswith("Failed jobs") for t in titles)
            assert any("Control-plane log" in t for t in titles)
            assert all(len(m["text"]) <= 4096 for m in telegram.messages)
            assert pagerduty.received[0].json()["dedup_key"].startswith("inc-")

            async with aiohttp.ClientSession() as http, http.get(
                    f"{svc.base}/incidents", headers={"Authorization": f"Bearer {READ}"}) as r:
                incident_id = (await r.json())["incidents"][0]["id"]
            async with aiohttp.ClientSession() as http, http.get(
                    f"{svc.base}/incidents/{incident_id}",
                    headers={"Authorization": f"Bearer {READ}"}) as r:
                api_text = await r.text()
            bundle = json.loads(api_text)["evidence"][0]
            assert bundle["confirmed"] and bundle["run_ids"]

        # The cluster's logs really carry tokens, so the sweep below can fail.
        raw_logs = await _raw_pod_log(sim)
        assert SECRET.search(raw_logs), "the simulator no longer puts tokens in its logs"
        payloads = [r.text for f in fakes for r in f.received]
        stored = b"".join(p.read_bytes() for p in tmp_path.glob("responder.db*"))
        for where, text in [("api", api_text), ("service log", svc.log()),
                            ("store", stored.decode("utf-8", "replace")),
                            *[("sink payload", p) for p in payloads]]:
            found = SECRET.search(text)
            assert found is None, f"secret in the {where}: {found.group(0)[:12]}..."
            for token in (TOKEN, READ, GH, PD):
                assert where == "sink payload" or token not in text, (where, token[:6])
    finally:
        stop(svc.proc)
        for fake in fakes:
            await fake.close()
        await sim.stop()


async def _raw_pod_log(sim: Simulator) -> str:
    pods = [p["metadata"]["name"] for p in sim.world.store.items("pods", "codex-k8s-prod")
            if "kaniko" in p["metadata"]["name"]]
    assert sim.kubeconfig_path is not None
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {sim.token}"}) as http:
        texts = []
        for pod in pods[:5]:
            async with http.get(f"{sim.url}/api/v1/namespaces/codex-k8s-prod/pods/{pod}/log") as r:
                texts.append(await r.text())
    return "\n".join(texts)
