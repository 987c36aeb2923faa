"""SIGKILL the responder (a subprocess) at points of the mitigation and escalation path, then
restart it: exactly one patch in the simulator's audit, exactly one delivery per message.

The simulated cluster runs in the test process on the responder's own compressed clock
(same origin and anchor, so the two processes agree on the time).
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from simulator.clock import AnchoredClock
from simulator.server import Simulator
from tests.adapters.fakes.github import FakeGithub
from tests.adapters.fakes.webhook import FakeWebhook
from tests.conftest import alert, notification
from tests.procs import Responder, free_port, start_responder, stop
from tests.runbook_harness import CONTROL_PLANE_PATH

SPEED = 60.0
TOKEN, READ, GH_TOKEN = "crash-webhook-token-01", "crash-read-token-01", "ghp_crashtesttoken0"
REPO = "codex-k8s/codex-k8s"


@dataclass
class World:
    tmp: Path
    sim: Simulator
    oncall: FakeWebhook
    github: FakeGithub
    env: dict[str, str]
    port: int
    svc: Responder | None = None

    async def start(self) -> None:
        self.svc = await asyncio.to_thread(start_responder, self.tmp, self.env, self.port)

    def kill(self) -> None:
        assert self.svc is not None
        self.svc.proc.send_signal(signal.SIGKILL)
        self.svc.proc.wait()

    async def fire(self) -> str:
        assert self.svc is not None
        starts = datetime.fromtimestamp(self.sim.clock.now(), UTC) - timedelta(minutes=3)
        async with aiohttp.ClientSession() as http, http.post(
                f"{self.svc.base}/webhook", json=notification(alert(
                    "crash-fp", starts=starts.isoformat())),
                headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
            ack = await resp.json()
        assert resp.status == 200, ack
        incident_id: str = ack["incidents"][0]
        return incident_id

    async def incident(self, incident_id: str) -> dict[str, Any]:
        assert self.svc is not None
        async with aiohttp.ClientSession() as http, http.get(
                f"{self.svc.base}/incidents/{incident_id}",
                headers={"Authorization": f"Bearer {READ}"}) as resp:
            body: dict[str, Any] = await resp.json()
            return body

    async def until(self, incident_id: str, done: Callable[[dict[str, Any]], bool],
                    timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            last = await self.incident(incident_id)
            if done(last):
                return last
            await asyncio.sleep(0.05)
        sent = [(d["key"], d["status"]) for d in last.get("deliveries", [])]
        raise AssertionError(f"timed out; policy={last.get('policy')} deliveries={sent}")

    async def settled(self, condition: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.01)

    def patches(self) -> list[Any]:
        return [e for e in self.sim.audit.entries()
                if e.method == "PATCH" and e.path == CONTROL_PLANE_PATH and e.status < 300]


@asynccontextmanager
async def world(tmp: Path, scenario: str) -> AsyncIterator[World]:
    anchor = time.time()
    sim = Simulator(scenario, clock=AnchoredClock(anchor, anchor, SPEED))
    await sim.start("127.0.0.1", 0)
    kubeconfig = sim.write_kubeconfig(tmp / "kubeconfig")
    oncall, github = FakeWebhook(), FakeGithub(GH_TOKEN, REPO, {205})
    await oncall.start()
    await github.start()
    env = {
        "AISLOT_AUTH__WEBHOOK_TOKEN": TOKEN, "AISLOT_AUTH__READ_TOKEN": READ,
        "AISLOT_KUBE__KUBECONFIG": str(kubeconfig), "AISLOT_KUBE__RETRY_DEADLINE_S": "3",
        "AISLOT_RUNTIME__TIME_SCALE": str(SPEED),
        "AISLOT_RUNTIME__TIME_ORIGIN": datetime.fromtimestamp(anchor, UTC).isoformat(),
        "AISLOT_RUNTIME__TIME_ANCHOR": repr(anchor),
        "AISLOT_ESCALATION__MONITOR_INTERVAL_S": "30",
        "AISLOT_SINKS__ONCALL__TYPE": "webhook", "AISLOT_SINKS__ONCALL__URL": oncall.hook_url,
        "AISLOT_SINKS__ONCALL__AUDIENCE": "oncall",
        "AISLOT_SINKS__GITHUB__TYPE": "github", "AISLOT_SINKS__GITHUB__URL": github.url,
        "AISLOT_SINKS__GITHUB__TOKEN": GH_TOKEN, "AISLOT_SINKS__GITHUB__REPO": REPO,
        "AISLOT_SINKS__GITHUB__EVENTS": '["escalated", "resolved"]',
    }
    w = World(tmp, sim, oncall, github, env, free_port())
    try:
        yield w
    finally:
        if w.svc is not None:
            stop(w.svc.proc)
        await oncall.close()
        await github.close()
        await sim.stop()


def _mitigation(status: str) -> Callable[[dict[str, Any]], bool]:
    return lambda i: i["policy"]["mitigation"]["status"] == status


def _all_delivered(i: dict[str, Any]) -> bool:
    return bool(i["deliveries"]) and all(d["status"] == "delivered" for d in i["deliveries"])


async def test_killed_while_the_patch_is_in_flight(tmp_path: Path) -> None:
    async with world(tmp_path, "cache-recovers") as w:
        w.sim.add_fault(kind="latency", verb="patch", resource="deployments", seconds=1.5)
        await w.start()
        incident_id = await w.fire()
        await w.until(incident_id, _mitigation("applying"))
        await w.settled(lambda: w.sim.traffic.in_flight["patch"] == 1)  # held by the fault
        w.kill()
        w.sim.faults.clear()
        # The cut request still lands on the cluster side, as on a real apiserver.
        await w.settled(lambda: w.sim.traffic.in_flight["patch"] == 0)
        await w.start()
        done = await w.until(incident_id, lambda i: i["policy"]["mitigation"]["rollout"]
                             == "complete")
        assert done["policy"]["mitigation"]["status"] == "applied"
        # The value read before the patch was stored before it was sent: after the crash
        # the switch reads false, and the record still says what it was.
        assert (done["policy"]["mitigation"]["previous_value"],
                done["policy"]["mitigation"]["new_value"]) == ("true", "false")
        mitigated = [e for e in done["timeline"] if e["kind"] == "mitigated"]
        assert [e["message"] for e in mitigated] == [
            "kill switch CODEXK8S_KANIKO_CACHE_ENABLED: true -> false (applied)"]
        assert len(w.patches()) == 1
        await w.until(incident_id, _all_delivered)
        keys = [d["key"] for d in (await w.incident(incident_id))["deliveries"]]
        assert keys.count("mitigated-applied") == 1
        assert sum(1 for b in w.oncall.unique.values()
                   if b["message"]["event"] == "mitigated") == 1


async def test_killed_right_after_the_patch_lands(tmp_path: Path) -> None:
    async with world(tmp_path, "cache-recovers") as w:
        await w.start()
        incident_id = await w.fire()
        deadline = time.monotonic() + 60
        while not w.patches():
            assert time.monotonic() < deadline, "no patch arrived"
            await asyncio.sleep(0.002)
        w.kill()  # before (or just after) the outcome is recorded
        await w.start()
        done = await w.until(incident_id, lambda i: i["policy"]["mitigation"]["rollout"]
                             == "complete")
        assert done["policy"]["mitigation"]["status"] == "applied"
        # The watch goes on to the recovery (a build completing with the cache off), and
        # the switch is never patched again on the way.
        await w.until(incident_id, lambda i: i["policy"]["watch"]["first_success_at"])
        assert len(w.patches()) == 1


async def test_killed_while_the_escalation_is_being_delivered(tmp_path: Path) -> None:
    async with world(tmp_path, "cache-persists") as w:
        await w.start()
        incident_id = await w.fire()
        await w.until(incident_id, _mitigation("applied"))
        await w.until(incident_id, _all_delivered)
        # Every sink now hangs for 1 s before answering: the escalation's sends are cut.
        w.oncall.hang_next(50, 1.0)
        w.github.hang_next(50, 1.0)
        await w.until(incident_id, lambda i: any(
            d["key"] == "escalated-repeat" and d["status"] == "sending"
            for d in i["deliveries"]))
        w.kill()
        await asyncio.sleep(1.5)  # the cut requests complete on the receivers' side
        w.oncall._faults.clear()
        w.github._faults.clear()
        await w.start()
        await w.until(incident_id, lambda i: all(
            d["status"] == "delivered" for d in i["deliveries"]
            if d["key"] == "escalated-repeat"))
        escalations = [b for b in w.oncall.unique.values()
                       if b["message"]["key"] == "escalated-repeat"]
        assert len(escalations) == 1
        comments = [c for c in w.github.comments[205] if "escalated-repeat" in c["body"]]
        assert len(comments) == 1
        incident = await w.incident(incident_id)
        # At x60 the 30-minute recovery deadline may come too (correctly); each rule once.
        assert "repeat" in incident["policy"]["escalations"]
        keys = [d["key"] for d in incident["deliveries"] if d["sink"] == "oncall"]
        assert len(keys) == len(set(keys))
        assert len(w.patches()) == 1
