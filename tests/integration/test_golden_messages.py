"""Every message of every simulator scenario, as each sink type renders it, against golden files.

The running service (``tests.runbook_harness``) on the simulator's manual clock: the same
scenario gives the same messages at the same simulated times. The messages are read from the
outbox (every message, whichever sink it was routed to) and rendered by each sink type into
``tests/golden/<scenario>/``; ``UPDATE_GOLDEN=1`` rewrites the files (review the diff).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from service.domain.lifecycle import State
from service.domain.messages import Message
from tests.conftest import OWNER_TOKEN, AppStarter
from tests.golden import as_console, as_telegram, check
from tests.runbook_harness import Harness, harness

Drive = Callable[[Harness], Awaitable[str]]


async def _decided(h: Harness, incident_id: str) -> None:
    """The first decision and its action done before the clock moves (a patch sent at one
    simulated second or the next would change what the messages say)."""
    await h.investigated(incident_id)
    await h.settled(incident_id, lambda i: i.policy.mitigation.status != "applying")
    await h.caught_up()  # and the watch has seen what the cluster made of it


async def _until_resolved(h: Harness) -> str:
    incident_id = await h.fire()
    await _decided(h, incident_id)
    await h.run_until(incident_id, lambda i: i.state is State.RESOLVED)
    return incident_id


async def _cache_persists(h: Harness) -> str:
    incident_id = await h.fire()
    await _decided(h, incident_id)
    await h.run_until(incident_id, lambda i: "repeat" in i.policy.escalations)
    return incident_id


async def _ticks(h: Harness, incident_id: str, count: int) -> str:
    await _decided(h, incident_id)
    for _ in range(count):
        await h.tick(30)
    return incident_id


async def _registry_outage(h: Harness) -> str:
    return await _ticks(h, await h.fire(), 4)


async def _rollout_stuck(h: Harness) -> str:
    incident_id = await h.fire()
    await _decided(h, incident_id)
    await h.run_until(incident_id, lambda i: "rollout_stuck" in i.policy.escalations)
    return incident_id


async def _build_ref(h: Harness) -> str:
    incident_id = await h.fire(alertname="AI_SLOT_CODEGEN_CHECK_BUILD_REF_INVALID",
                               error_signature="build-ref", job_kind="codegen")
    return await _ticks(h, incident_id, 2)


async def _refused(h: Harness) -> str:
    """The first decision and what it does at once (a refusal escalates; a dry run records
    its patch), then a minute."""
    incident_id = await h.fire()
    await _decided(h, incident_id)
    await h.settled(incident_id, lambda i: bool(i.policy.escalations)
                    or i.policy.mitigation.patch is not None)
    return await _ticks(h, incident_id, 2)


CACHE_CONFIRMED = {"cache-recovers", "cache-recovers.approval", "cache-recovers.dry-run",
                   "cache-persists", "rollout-stuck", "rbac-restricted",
                   "cache-value-from"}
async def _approved(h: Harness) -> str:
    incident_id = await h.fire()
    await _decided(h, incident_id)
    await _ticks(h, incident_id, 2)
    async with h.client.http.post(f"{h.client.base}/incidents/{incident_id}/approve",
                                  headers={"Authorization": f"Bearer {OWNER_TOKEN}"}) as resp:
        assert resp.status == 200, await resp.text()
    # The approval wakes the watch: the switch is applied before the clock moves.
    await h.settled(incident_id, lambda i: i.policy.mitigation.status == "applied")
    await h.caught_up()
    await h.run_until(incident_id, lambda i: i.state is State.RESOLVED)
    return incident_id


# "<scenario>" or "<scenario>.<mitigation mode>" (auto otherwise): the golden directory.
SCENARIOS: dict[str, Drive] = {
    "cache-recovers.approval": _approved,
    "cache-recovers.dry-run": _refused,
    "cache-recovers": _until_resolved,
    "cache-persists": _cache_persists,
    "registry-outage": _registry_outage,
    "rollout-stuck": _rollout_stuck,
    "healthy": _until_resolved,
    "build-ref": _build_ref,
    "rbac-restricted": _until_resolved,
    "cache-value-from": _refused,
}


async def _messages(h: Harness, incident_id: str) -> list[Message]:
    """Every message the incident queued, once each, in the order queued."""
    incident = await h.delivered(incident_id)
    seen: dict[str, Message] = {}
    for delivery in sorted(incident.deliveries, key=lambda d: d.id):
        seen.setdefault(delivery.key, delivery.message)
    return list(seen.values())


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_each_message_as_each_sink_shows_it(scenario: str, tmp_path: Path,
                                                  start_app: AppStarter) -> None:
    name, _, mode = scenario.partition(".")
    async with harness(tmp_path, name, start_app, mode=mode or "auto") as h:
        incident_id = await SCENARIOS[scenario](h)
        messages = await _messages(h, incident_id)
    assert messages, f"{scenario}: no message at all"
    check(scenario, messages)
    if scenario in CACHE_CONFIRMED:  # the signature's log lines survive the smallest media
        for message in messages:
            if message.event in {"evidence", "escalated"}:
                for render in (as_telegram, as_console):
                    assert "MANIFEST_UNKNOWN" in render(message), (message.key, render)
