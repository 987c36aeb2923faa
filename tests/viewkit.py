"""Helpers for tests of the live view against the in-process simulator.

``caught_up(view, sim)`` says whether the view holds what the simulator holds right now: the
same jobs, pods and Deployments (names and resourceVersions), every running control-plane pod's
log read up to its last line, every failed platform job's tail read, and the switch read for
the Deployment as it is. ``settle`` waits for it on the view's change signal (bounded by a
generous timeout that only turns a hang into a failure).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from service.diagnostics import objects
from service.simulator.clock import rfc3339_nano
from service.simulator.server import Simulator
from service.view import NamespaceView
from service.view.logs import stamp_of

NS = "codex-k8s-prod"


def _versions(items: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {name: obj["metadata"]["resourceVersion"] for name, obj in items.items()}


def _store(sim: Simulator, plural: str) -> dict[str, str]:
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"]
            for o in sim.world.store.items(plural, NS)}


def _logs_read(view: NamespaceView, sim: Simulator) -> bool:
    since = view.log_since.timestamp() if view.log_since is not None else 0.0
    for pod in view.control_plane_pods():
        name = objects.name_of(pod)
        stored = sim.world.store.peek("pods", NS, name)
        if stored is None:
            continue
        lines = list(sim.world.log_source(stored).lines(since - 1, sim.world.now))
        if not lines:
            continue
        follower = view.followers.get(name)
        last = stamp_of(rfc3339_nano(lines[-1][0]).encode())
        if follower is None or follower.cursor.last is None or follower.cursor.last < last:
            return False
    return True


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
                and info.name not in view.tails and not view.gaps():
            return False
    if view.switch_read != view.switch_key() and not view.gaps():
        return False
    return _logs_read(view, sim)


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
