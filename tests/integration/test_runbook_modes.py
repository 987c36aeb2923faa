"""The safety policy's modes: dry-run never writes, observe notices a person, approval waits."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from service.domain.lifecycle import State
from service.store.base import IncidentUpdate
from tests.conftest import OWNER_TOKEN, READ_TOKEN, AppStarter
from tests.runbook_harness import harness
from tests.simkit import kubectl
from tests.waiting import until


async def test_dry_run_records_the_exact_patch_and_never_writes(
        tmp_path: Path, start_app: AppStarter) -> None:
    async with harness(tmp_path, "cache-recovers", start_app, mode="dry-run") as h:
        incident_id = await h.fire()
        await h.investigated(incident_id)
        for _ in range(6):
            await h.tick(30)
        incident = await h.incident(incident_id)
        mit = incident.policy.mitigation
        assert mit.status == "dry_run" and mit.patch is not None
        (patch,) = mit.patch["patches"]  # type: ignore[misc]
        assert patch["kind"] == "deployment" and patch["patch_type"] == "strategic"
        assert patch["body"]["spec"]["template"]["spec"]["containers"] == [{
            "name": "control-plane",
            "env": [{"name": "CODEXK8S_KANIKO_CACHE_ENABLED", "value": "false"}]}]
        assert "dry_run" in [e.kind for e in incident.timeline]
        assert h.writes() == []


async def test_observe_never_writes_but_notices_a_person_flipping_the_switch(
        tmp_path: Path, start_app: AppStarter) -> None:
    async with harness(tmp_path, "cache-recovers", start_app, mode="observe") as h:
        incident_id = await h.fire()
        await h.investigated(incident_id)
        for _ in range(3):
            await h.tick(30)
        assert (await h.incident(incident_id)).policy.mitigation.status == "observing"
        assert h.writes() == []
        run = await kubectl(h.sim, "-n", "codex-k8s-prod", "set", "env",
                            "deploy/codex-k8s-control-plane",
                            "CODEXK8S_KANIKO_CACHE_ENABLED=false")
        assert run.code == 0, run.err
        flipped_at = h.clock.now()
        await h.tick(30)
        noticed = await h.incident(incident_id)
        mit = noticed.policy.mitigation
        assert mit.status == "observed_off" and mit.new_value == "false"
        since = noticed.policy.watch.since
        assert since is not None and 0 <= (since - flipped_at).total_seconds() <= 30
        done = await h.run_until(incident_id, lambda i: i.state is State.RESOLVED)
        assert done.policy.mttr_s is not None
        assert len(h.patches()) == 1  # the person's, through kubectl; none of ours


async def test_approval_waits_then_applies_once(tmp_path: Path, start_app: AppStarter) -> None:
    async with harness(tmp_path, "cache-recovers", start_app, mode="approval") as h:
        incident_id = await h.fire()
        await h.investigated(incident_id)
        for _ in range(4):
            await h.tick(30)
        waiting = await h.incident(incident_id)
        assert waiting.policy.mitigation.status == "awaiting_approval"
        assert h.patches() == []
        await h.delivered(incident_id)
        asks = [b for b in h.owner.unique.values()
                if b["message"]["key"] == "approval-request"]
        assert len(asks) == 1 and "/approve" in asks[0]["message"]["summary"]

        url = f"{h.client.base}/incidents/{incident_id}/approve"
        async with h.client.http.post(url, headers={
                "Authorization": f"Bearer {READ_TOKEN}"}) as resp:
            assert resp.status == 401
        async with h.client.http.post(f"{h.client.base}/incidents/nope/approve", headers={
                "Authorization": f"Bearer {OWNER_TOKEN}"}) as resp:
            assert resp.status == 404
        async with h.client.http.post(url, headers={
                "Authorization": f"Bearer {OWNER_TOKEN}"}) as resp:
            body = await resp.json()
            assert resp.status == 200 and body["approved_by"] == "owner"
        async with h.client.http.post(url, headers={
                "Authorization": f"Bearer {OWNER_TOKEN}"}) as resp:
            assert resp.status == 409
            assert "nothing to approve" in (await resp.json())["error"]["message"]
        applied = await h.run_until(
            incident_id, lambda i: i.policy.mitigation.status == "applied")
        assert applied.policy.mitigation.approved_by == "owner"
        assert any(e.kind == "approved" for e in applied.timeline)
        for _ in range(4):
            await h.tick(30)
        assert len(h.patches()) == 1


async def test_an_approval_written_during_a_watch_step_is_not_lost(
        tmp_path: Path, start_app: AppStarter) -> None:
    """Another replica approves while this one's step is between its read and its write:
    the step's write is stale and refused, and the next pass applies the approval. (Polled:
    a step that reads the cluster holds the window open for as long as the test needs; a step
    on the live view reads memory, but its write goes through the same stale check.)"""
    async with harness(tmp_path, "cache-recovers", start_app, mode="approval",
                       kube={"observe": "poll"}) as h:
        incident_id = await h.fire()
        first = await h.investigated(incident_id)
        assert first.policy.mitigation.status == "awaiting_approval"
        assert first.policy.episode_start is not None
        # Up to just before the 30-minute deadline: the step below escalates, so it writes.
        deadline = first.policy.episode_start + timedelta(minutes=30)
        while h.clock.now() + timedelta(seconds=60) < deadline:
            await h.tick(30)
        h.sim.add_fault(kind="latency", verb="list", resource="jobs", seconds=1.0)
        step = asyncio.create_task(h.tick(60))  # the watch reads, then waits on the cluster
        # Its job list is held by the fault.
        await until(lambda: h.sim.traffic.in_flight["list"] > 0, "the watch read nothing")
        current = (await h.incident(incident_id)).policy
        approved = current.successor()
        approved.mitigation.status = "approved"
        approved.mitigation.approved_by = "replica-b"
        await h.store.update(incident_id, IncidentUpdate(policy=approved), h.clock.now())
        await step
        h.sim.faults.clear()
        applied = await h.run_until(
            incident_id, lambda i: i.policy.mitigation.status == "applied")
        assert applied.policy.mitigation.approved_by == "replica-b"
        assert "recovery_deadline" in applied.policy.escalations  # decided again, not lost
        assert len(h.patches()) == 1
