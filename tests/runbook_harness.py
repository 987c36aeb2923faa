"""The responder and a simulated cluster on one manual clock, for runbook tests.

``SimTime`` is the responder's ``Clock`` read off the simulator's clock, so advancing the
simulated cluster advances the responder too (a 30-minute threshold passes in milliseconds).
``Harness`` runs ``create_app`` against the simulator with fake on-call and Owner webhooks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

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
from tests.waiting import first

# Turns of the event loop with no change that make "caught up": an event in flight over
# loopback HTTP takes a few (write, read, parse, apply), a new request some tens.
QUIET_TURNS = 50
T = TypeVar("T")

GITHUB_TOKEN = "ghp_harnessgithubtoken00000000000000000"
CONTROL_PLANE_PATH = "/apis/apps/v1/namespaces/codex-k8s-prod/deployments/codex-k8s-control-plane"


class SimTime:
    """The responder's clock, read off the simulator's manual clock.

    Time moves only through ``advance()`` (which moves the simulator too), so a sleeper
    wakes on it alone. ``sleeps`` counts the sleeps begun and ``wait_slept`` waits for the
    next: a loop that is done for now goes back to sleep on the clock.
    """

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._changed = asyncio.Event()
        self.sleeps = 0
        self._slept = asyncio.Event()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.sim.clock.now(), UTC)

    def sleep(self, seconds: float) -> Coroutine[Any, Any, None]:
        # The deadline is taken now, at the call, not when the coroutine first runs: a task
        # made of it may start after the test has already advanced the clock.
        return self._sleep_until(self.sim.clock.now() + max(0.0, seconds))

    async def _sleep_until(self, deadline: float) -> None:
        self.sleeps += 1
        slept, self._slept = self._slept, asyncio.Event()
        slept.set()
        while self.sim.clock.now() < deadline:
            await self._changed.wait()  # woken by advance()
        await asyncio.sleep(0)

    async def wait_slept(self, seen: int) -> int:
        """Wait until a sleep begins after ``seen`` (a ``sleeps`` value read earlier)."""
        while self.sleeps == seen:
            await self._slept.wait()
        return self.sleeps

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
        """Wait, the clock standing still, until ``done``: what a decision and its action do
        at once, with no further evaluation (looked at again as the loops go back to sleep)."""
        async def check() -> Incident | None:
            incident = await self.incident(incident_id)
            return incident if done(incident) else None

        async def failure() -> str:
            return f"not settled: {(await self.incident(incident_id)).policy}"

        return await self._until(check, failure, timeout)

    async def investigated(self, incident_id: str, timeout: float = 20) -> Incident:
        """Wait for the first evidence and the policy's first step."""
        return await self.settled(
            incident_id,
            lambda i: i.latest_evidence is not None and bool(i.policy.mitigation.decided_at),
            timeout)

    async def tick(self, seconds: float) -> None:
        """Advance simulated time and wait for the watch to finish one pass after it."""
        before = self.passes
        self.clock.advance(seconds)

        async def passed() -> bool:
            return self.passes > before

        async def failure() -> str:
            stacks = "\n".join(f"{t.get_name()}: {_chain(t)}" for t in asyncio.all_tasks())
            return ("the watch loop made no pass after the clock advanced "
                    f"(now={self.sim.clock.now()}, passes={before}):\n{stacks}")

        await self._until(passed, failure, 30)
        await self.caught_up()

    async def caught_up(self, timeout: float = 30) -> None:
        """Wait until the watch has looked at every change the live view received (the
        events an advance of the clock sets off arrive over HTTP a moment later): caught up
        for ``QUIET_TURNS`` turns of the event loop in a row."""
        try:
            async with asyncio.timeout(timeout):  # only a hung test fails on it
                quiet = 0
                while quiet < QUIET_TURNS:
                    if self.runbook.caught_up:
                        quiet += 1
                        await asyncio.sleep(0)  # one turn: ready tasks and I/O callbacks run
                    else:
                        quiet = 0
                        await self._moved(self._mark())  # a pass is under way: its end
        except TimeoutError:
            raise AssertionError("the watch never caught up with the view") from None

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
        """Wait until every queued message is delivered or failed, moving the clock a
        second at a time while nothing happens (the outbox waits on the same clock)."""
        async def check() -> Incident | None:
            incident = await self.incident(incident_id)
            if all(d.status in {"delivered", "failed"} for d in incident.deliveries):
                return incident
            self.clock.advance(1)
            return None

        async def failure() -> str:
            return f"deliveries pending: {(await self.incident(incident_id)).deliveries}"

        return await self._until(check, failure, timeout)

    # -- waiting on the responder's signals ---------------------------------------------------

    def _mark(self) -> int:
        return self.clock.sleeps

    async def _moved(self, mark: int, quiet_turns: int = QUIET_TURNS) -> None:
        """Until a task sleeps on the clock after ``mark`` (a loop that has done its work
        goes back to sleep), or ``quiet_turns`` turns of the event loop go by without."""
        await first(self.clock.wait_slept(mark), _turns(quiet_turns))

    async def _until(self, check: Callable[[], Awaitable[T | None]],
                     failure: Callable[[], Awaitable[str]], timeout: float) -> T:
        """``check()`` again after each sleep begun on the clock or each ``QUIET_TURNS``
        turns of the event loop (see ``_moved``), until it returns something; a wall-clock
        ``timeout`` fails a hung test only."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    mark = self._mark()
                    if result := await check():
                        return result
                    await self._moved(mark)
        except TimeoutError:
            raise AssertionError(await failure()) from None


async def _turns(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


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
