"""The responder and a simulated cluster on one manual clock, for runbook tests.

``SimTime`` is the responder's ``Clock`` read off the simulator's clock, so advancing the
simulated cluster advances the responder too (a 30-minute threshold passes in milliseconds).
``Harness`` runs ``create_app`` against the simulator with fake on-call and Owner webhooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from service.api.keys import METRICS, RUNBOOK, STORE
from service.domain.incidents import Incident
from service.runbook.pipeline import Runbook
from service.store.base import Store
from simulator.server import Simulator
from tests.adapters.fakes.github import FakeGithub
from tests.adapters.fakes.webhook import FakeWebhook
from tests.conftest import Client, alert, make_settings, notification
from tests.simkit import running_simulator

GITHUB_TOKEN = "ghp_harnessgithubtoken00000000000000000"
CONTROL_PLANE_PATH = "/apis/apps/v1/namespaces/codex-k8s-prod/deployments/codex-k8s-control-plane"


class SimTime:
    """The responder's clock, read off the simulator's manual clock."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._changed = asyncio.Event()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.sim.clock.now(), UTC)

    def sleep(self, seconds: float) -> Coroutine[Any, Any, None]:
        # The deadline is taken now, at the call, not when the coroutine first runs: a task
        # made of it may start after the test has already advanced the clock.
        return self._sleep_until(self.sim.clock.now() + max(0.0, seconds))

    async def _sleep_until(self, deadline: float) -> None:
        while self.sim.clock.now() < deadline:
            # Woken by advance(); the short real timeout re-reads the clock in case time was
            # moved without advance() (the simulator's own control API, say).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), 0.05)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.sim.advance(seconds)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()


def _chain(task: asyncio.Task[Any]) -> str:
    """Where a task waits: its coroutine's await chain (for a clear failure message)."""
    out, coro = [], task.get_coro()
    while coro is not None and hasattr(coro, "cr_frame"):
        frame = coro.cr_frame
        if frame is not None:
            extra = f"(deadline={frame.f_locals['deadline']})" if "deadline" in frame.f_locals \
                else ""
            out.append(f"{frame.f_code.co_name}:{frame.f_lineno}{extra}")
        coro = coro.cr_await
    out.append(repr(coro)[:80])
    return " > ".join(out)


def watch_passes(app: web.Application) -> float:
    """The runbook watch's completed passes in ``app``, from its metrics."""
    return app[METRICS].registry.get_sample_value("aislot_watch_passes_total") or 0.0


@dataclass
class Harness:
    sim: Simulator
    clock: SimTime
    client: Client
    app: web.Application
    oncall: FakeWebhook
    owner: FakeWebhook
    github: FakeGithub

    @property
    def store(self) -> Store:
        return self.app[STORE]

    @property
    def runbook(self) -> Runbook:
        return self.app[RUNBOOK]

    @property
    def passes(self) -> float:
        """The watch's completed passes, as ``/metrics`` shows them."""
        return watch_passes(self.app)

    def patches(self) -> list[Any]:
        """Write requests the cluster accepted on the control-plane Deployment."""
        return [e for e in self.sim.audit.entries()
                if e.method == "PATCH" and e.path == CONTROL_PLANE_PATH and e.status < 300]

    def writes(self) -> list[Any]:
        return [e for e in self.sim.audit.entries()
                if e.method in {"PATCH", "PUT", "POST", "DELETE"} and e.status < 300
                and "selfsubjectaccessreviews" not in e.path]

    async def fire(self, minutes_ago: float = 3, **labels: str) -> str:
        starts = datetime.fromtimestamp(self.sim.clock.now() - minutes_ago * 60, UTC)
        status, ack = await self.client.webhook(notification(
            alert("fp-runbook", starts=starts.isoformat(), **labels)))
        assert status == 200, ack
        incident_id: str = ack["incidents"][0]
        return incident_id

    async def incident(self, incident_id: str) -> Incident:
        found = await self.store.get_incident(incident_id)
        assert found is not None
        return found

    async def settled(self, incident_id: str, done: Callable[[Incident], bool],
                      timeout: float = 20) -> Incident:
        """Wait (real time, the clock standing still) until ``done``: what a decision and
        its action do at once, with no further evaluation."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            incident = await self.incident(incident_id)
            if done(incident):
                return incident
            await asyncio.sleep(0.02)
        raise AssertionError(f"not settled: {(await self.incident(incident_id)).policy}")

    async def investigated(self, incident_id: str, timeout: float = 20) -> Incident:
        """Wait (real time, bounded) for the first evidence and the policy's first step."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            incident = await self.incident(incident_id)
            if incident.latest_evidence is not None and incident.policy.mitigation.decided_at:
                return incident
            await asyncio.sleep(0.02)
        raise AssertionError(f"no evidence for {incident_id}: {await self.incident(incident_id)}")

    async def tick(self, seconds: float) -> None:
        """Advance simulated time and wait for the watch to finish one pass after it."""
        before = self.passes
        self.clock.advance(seconds)
        deadline = time.monotonic() + 30
        while self.passes <= before:
            if time.monotonic() > deadline:
                stacks = "\n".join(f"{t.get_name()}: {_chain(t)}" for t in asyncio.all_tasks())
                raise AssertionError("the watch loop made no pass after the clock advanced "
                                     f"(now={self.sim.clock.now()}, passes={before}):\n"
                                     + stacks)
            await asyncio.sleep(0.01)
        await self.caught_up()

    async def caught_up(self, checks: int = 3, timeout: float = 30) -> None:
        """Wait (real time, bounded) until the watch has looked at every change the live view
        received (the events an advance of the clock sets off arrive over HTTP a moment later),
        ``checks`` checks in a row."""
        quiet, deadline = 0, time.monotonic() + timeout
        while quiet < checks:
            assert time.monotonic() < deadline, "the watch never caught up with the view"
            quiet = quiet + 1 if self.runbook.caught_up else 0
            await asyncio.sleep(0.01)

    async def run_until(self, incident_id: str, done: Callable[[Incident], bool], *,
                        step_s: float = 30, max_s: float = 3 * 3600) -> Incident:
        elapsed = 0.0
        while elapsed <= max_s:
            incident = await self.incident(incident_id)
            if done(incident):
                return incident
            await self.tick(step_s)
            elapsed += step_s
        raise AssertionError(f"not reached in {max_s}s of simulated time: "
                             f"{(await self.incident(incident_id)).policy}")

    async def delivered(self, incident_id: str, timeout: float = 20) -> Incident:
        """Wait (real time) until every queued message is delivered or failed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            incident = await self.incident(incident_id)
            if all(d.status in {"delivered", "failed"} for d in incident.deliveries):
                return incident
            self.clock.advance(1)  # the outbox polls on the same clock
            await asyncio.sleep(0.02)
        raise AssertionError(f"deliveries pending: {(await self.incident(incident_id)).deliveries}")


@asynccontextmanager
async def harness(tmp_path: Path, scenario: str, start_app: Any, *, mode: str = "auto",
                  **sections: dict[str, Any]) -> AsyncIterator[Harness]:
    oncall, owner = FakeWebhook(), FakeWebhook()
    github = FakeGithub(GITHUB_TOKEN, "codex-k8s/codex-k8s", {205})
    for fake in (oncall, owner, github):
        await fake.start()
    try:
        async with running_simulator(scenario, tmp_path) as sim:
            assert sim.kubeconfig_path is not None
            clock = SimTime(sim)
            defaults: dict[str, dict[str, Any]] = {
                "kube": {"kubeconfig": str(sim.kubeconfig_path), "retry_deadline_s": 5},
                "mitigation": {"mode": mode},
                "escalation": {"monitor_interval_s": 30},
                "diagnostics": {"reinvestigate_interval_s": 600},
                "sinks": {"oncall": {"type": "webhook", "url": oncall.hook_url,
                                     "audience": "oncall"},
                          "owner": {"type": "webhook", "url": owner.hook_url,
                                    "audience": "owner"},
                          "issue": {"type": "github", "url": github.url, "token": GITHUB_TOKEN,
                                    "repo": "codex-k8s/codex-k8s",
                                    "events": ["escalated", "resolved"]}},
            }
            for name, values in sections.items():
                defaults[name] = {**defaults.get(name, {}), **values}
            settings = make_settings(tmp_path, **defaults)
            client = await start_app(settings, clock=clock)
            yield Harness(sim, clock, client, client.app, oncall, owner, github)
    finally:
        for fake in (oncall, owner, github):
            await fake.close()
