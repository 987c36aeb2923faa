"""Benchmark: how soon the responder acts on what happens in the namespace, polling vs live view.

Run: `.venv/bin/python -m tests.bench.bench_reaction [--runs 20]`.
The running service (``create_app`` against an in-process simulator, one manual clock) watches
an incident after the kill switch, side by side in the same run with ``kube.observe: poll``
(the collectors again every ``monitor_interval_s`` = 60 s, the baseline) and ``watch`` (the
live view). Two events, each measured from the moment it happens in the cluster to the moment
the responder's decision on it is in the store:

- ``repeat``: in ``cache-persists``, the third build in a row failing after the rollout
  (more than ``repeat_threshold`` = 2): the Owner's escalation is queued;
- ``recovered``: in ``cache-recovers``, the first build that completes after the rollout:
  the watch notes the recovery.

Simulated time moves in steps that stop at every instant the simulator has something planned
and at the watch's timer, and after each step the service is given (real) time to catch up,
so an event happens at a step and a timed pass runs at its own instant. Reaction = simulated
seconds from the event to the decision's instant + real seconds from the step that brought
the decision's instant to the service being caught up with the decision in the store (an upper
bound: it includes the checks' own pauses). Each run starts the incident at another phase of
the polling timer. Reported: p50 and p95 over the runs, per event and per way; target for the
view: p95 < 2 s.
The pytest test runs one incident per event and way; it asserts what the responder decided.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from service.domain.incidents import Incident
from tests.conftest import app_starter
from tests.runbook_harness import Harness, harness

MAX_STEP_S = 60.0
QUIET_CHECKS = 3  # the service is caught up this many checks in a row: nothing more to come
CHECK_S = 0.005


@dataclass(frozen=True)
class Event:
    """What is measured in a scenario: when it happened, and when the responder decided."""

    name: str
    scenario: str

    def decided(self, incident: Incident) -> datetime | None:
        if self.name == "repeat":
            fired = incident.policy.escalations.get("repeat")
            return fired.at if fired is not None else None
        for entry in incident.timeline:
            if entry.kind == "policy" and entry.message.endswith("recovered"):
                return entry.at
        return None

    def happened(self, incident: Incident) -> datetime:
        watch = incident.policy.watch
        if self.name == "recovered":
            assert watch.first_success_at is not None
            return watch.first_success_at
        ordered = sorted(watch.builds.values(), key=lambda b: (b.finished_at, b.job))
        streak = 0
        for build in ordered:
            streak = streak + 1 if build.status == "Failed" else 0
            if streak == 3:  # more than repeat_threshold (2) in a row
                assert build.finished_at is not None
                return build.finished_at
        raise AssertionError(f"no third failure in a row: {ordered}")


EVENTS = [Event("repeat", "cache-persists"), Event("recovered", "cache-recovers")]


async def _caught_up(h: Harness) -> float:
    """Wait (real time) until the service has nothing more to do at this instant; the real
    time it first was so."""
    quiet, since = 0, time.monotonic()
    deadline = since + 30
    while quiet < QUIET_CHECKS and time.monotonic() < deadline:
        if h.runbook.caught_up:
            since = since if quiet else time.monotonic()
            quiet += 1
        else:
            quiet = 0
        await asyncio.sleep(CHECK_S)
    return since


def _step(h: Harness) -> float:
    """Seconds to the next instant something is planned: the simulator's, or the watch's."""
    now = h.sim.clock.now()
    due = [t for t in (h.sim.world.agenda.next_at(),
                       h.runbook.timer_at.timestamp() if h.runbook.timer_at else None)
           if t is not None and t > now]
    return min([MAX_STEP_S, *(t - now for t in due)])


async def one_run(event: Event, observe: str, phase_s: float, workdir: Path,
                  max_s: float = 3600) -> tuple[float, Incident]:
    """One incident: seconds from ``event`` happening to the responder's decision on it."""
    async with app_starter() as start, harness(
            workdir, event.scenario, start, kube={"observe": observe},
            escalation={"monitor_interval_s": 60}) as h:
        h.clock.advance(phase_s)
        incident_id = await h.fire()
        await h.investigated(incident_id)
        stepped: dict[float, float] = {}  # simulated instant -> real time of the step
        elapsed = 0.0
        while elapsed < max_s:
            step = _step(h)
            h.clock.advance(step)
            elapsed += step
            stepped[h.sim.clock.now()] = time.monotonic()
            seen = await _caught_up(h)
            incident = await h.incident(incident_id)
            decided = event.decided(incident)
            if decided is not None:
                sim_s = (decided - event.happened(incident)).total_seconds()
                real_s = seen - stepped.get(decided.timestamp(), seen)
                return sim_s + real_s, incident
        raise AssertionError(f"{event.name} not decided in {max_s}s ({observe})")


async def run(runs: int) -> dict[tuple[str, str], list[float]]:
    out: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(runs):
            phase = (n * 60 / max(runs, 1)) % 60  # spread over the polling period
            for event in EVENTS:
                for observe in ("poll", "watch"):
                    workdir = Path(tmp) / f"{event.name}-{observe}-{n}"
                    workdir.mkdir()
                    seconds, _ = await one_run(event, observe, phase, workdir)
                    out.setdefault((event.name, observe), []).append(seconds)
    return out


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(results: dict[tuple[str, str], list[float]]) -> str:
    lines = [f"{'event':<10} {'way':<6} {'runs':>4} {'p50 s':>8} {'p95 s':>8} {'max s':>8}"]
    for (name, observe), values in sorted(results.items()):
        lines.append(f"{name:<10} {observe:<6} {len(values):>4} {_p(values, .5):>8.2f} "
                     f"{_p(values, .95):>8.2f} {max(values):>8.2f}")
    for name in sorted({n for n, _ in results}):
        poll, view = results[(name, "poll")], results[(name, "watch")]
        lines.append(f"{name}: p95 watch/poll = "
                     f"{_p(view, .95) / max(_p(poll, .95), 1e-9):.3f}, "
                     f"mean {statistics.fmean(view):.2f} s vs {statistics.fmean(poll):.2f} s")
    return "\n".join(lines)


@pytest.mark.bench
@pytest.mark.parametrize("observe", ["poll", "watch"])
@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.name)
async def test_reaction_small(event: Event, observe: str, tmp_path: Path) -> None:
    seconds, incident = await one_run(event, observe, 17.0, tmp_path)
    print(f"\n{event.name} {observe}: {seconds:.2f} s")
    if event.name == "repeat":
        fired = incident.policy.escalations["repeat"]
        assert fired.audience == "all" or "owner" in fired.audience
        assert incident.policy.watch.streak >= 3
    else:
        assert incident.policy.watch.first_success_at is not None
    assert seconds >= 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    print(report(asyncio.run(run(args.runs))))


if __name__ == "__main__":
    main()
