"""Helpers for tests of the live view against the in-process simulator.

``caught_up(view, sim)`` says whether the view holds what the simulator holds right now: the
same jobs, pods and Deployments (names and resourceVersions), every control-plane pod's log read
to its last line (as many lines as the simulator has), every failed platform job's tail read,
and the switch read for the Deployment as it is. ``settle`` waits for it on the view's change
signal (bounded by a generous timeout that only turns a hang into a failure).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from service.cluster import objects
from service.runbook.view import NamespaceView
from simulator.clock import parse_time
from simulator.server import Simulator

NS = "codex-k8s-prod"


def _versions(items: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {name: obj["metadata"]["resourceVersion"] for name, obj in items.items()}


def _store(sim: Simulator, plural: str) -> dict[str, str]:
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"]
            for o in sim.world.store.items(plural, NS)}


def _started(pod: dict[str, Any]) -> float | None:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        state = status.get("state") or {}
        for key in ("running", "terminated"):
            if key in state:
                return parse_time(state[key]["startedAt"])
    return None


def log_lines(view: NamespaceView, sim: Simulator) -> dict[str, tuple[int, int]]:
    """Per control-plane pod: lines the view read, lines the simulator holds for it (from the
    view's start for the first pods, else from the container's start)."""
    counts = {}
    for pod in view.control_plane_pods():
        name = objects.name_of(pod)
        stored = sim.world.store.peek("pods", NS, name)
        started = _started(stored) if stored is not None else None
        if stored is None or started is None:
            continue
        follower = view.followers.get(name)
        since = follower.cursor.since if follower is not None else None
        lo = max(started, float(int(since.timestamp()))) if since is not None else started
        held = len(list(sim.world.log_source(stored).lines(lo, sim.world.now)))
        counts[name] = (follower.cursor.lines if follower is not None else -1, held)
    return counts


def caught_up(view: NamespaceView, sim: Simulator) -> bool:
    if not view.synced:
        return False
    for reflector in (view.jobs, view.pods, view.deployments):
        if _versions(reflector.items) != _store(sim, reflector.resource):
            return False
    for job in view.jobs.items.values():
        info = objects.job_info(job, view.settings.platform)
        if info.status == "Failed" and objects.is_platform_job(job, info.kind,
                                                               view.settings.platform) \
                and info.name not in view.job_tails.tails and not view.gaps():
            return False
    if view.switch_read != view.switch_key() and not view.gaps():
        return False
    return all(read >= held for read, held in log_lines(view, sim).values())


async def settle(view: NamespaceView, sim: Simulator, timeout: float = 30.0) -> None:
    """Wait, on the view's change signal, until it has caught up with the simulator."""
    async with asyncio.timeout(timeout):
        while True:
            seen = view.version
            if caught_up(view, sim):
                return
            await view.wait_changed(seen)


def sim_now(sim: Simulator) -> datetime:
    return datetime.fromtimestamp(sim.world.now, UTC)
