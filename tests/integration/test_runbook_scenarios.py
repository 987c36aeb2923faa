"""Every simulator scenario through the running service, on a compressed (manual) clock."""

from __future__ import annotations

from pathlib import Path

from service.domain.lifecycle import State
from tests.conftest import AppStarter
from tests.runbook_harness import harness
from tests.waiting import until


def _events(fake) -> list[str]:  # type: ignore[no-untyped-def]
    return [body["message"]["event"] for body in fake.unique.values()]


async def test_cache_recovers_mitigated_resolved_with_mttr(tmp_path: Path,
                                                         start_app: AppStarter) -> None:
    async with harness(tmp_path, "cache-recovers", start_app) as h:
        incident_id = await h.fire()
        first = await h.investigated(incident_id)
        bundle = first.latest_evidence
        assert bundle is not None and bundle.confirmed and bundle.run_ids
        done = await h.run_until(incident_id, lambda i: i.state is State.RESOLVED)
        policy = done.policy
        assert policy.mitigation.status == "applied"
        assert (policy.mitigation.previous_value, policy.mitigation.new_value) == ("true",
                                                                                  "false")
        assert policy.mitigation.rollout == "complete"
        assert policy.escalations == {} and not done.escalated
        assert policy.mttr_s is not None and 0 < policy.mttr_s < 30 * 60
        assert len(h.patches()) == 1
        done = await h.delivered(incident_id)
        assert _events(h.oncall) == ["evidence", "mitigated", "resolved"]
        assert _events(h.owner) == ["resolved"]
        (final,) = h.github.comments[205]  # the related issue gets the final update
        for part in ("Recovered", "Root cause", "MANIFEST_UNKNOWN", "MTTR", "Timeline",
                     "Kill switch CODEXK8S_KANIKO_CACHE_ENABLED=false"):
            assert part in final["body"], part
        kinds = [e.kind for e in done.timeline]
        for kind in ("opened", "investigation_started", "evidence_collected", "mitigated",
                     "resolved"):
            assert kind in kinds


async def test_cache_persists_escalates_to_oncall_and_owner_exactly_once(
        tmp_path: Path, start_app: AppStarter) -> None:
    async with harness(tmp_path, "cache-persists", start_app) as h:
        incident_id = await h.fire()
        await h.investigated(incident_id)
        # The patch sent before the clock moves: the streak then reaches 5 before 30 minutes.
        await h.settled(incident_id, lambda i: i.policy.mitigation.status != "applying")
        escalated = await h.run_until(incident_id, lambda i: "repeat" in i.policy.escalations)
        assert escalated.escalated and escalated.policy.watch.streak == 3
        # More failures in a row do not escalate again (the 30-minute rule may fire on its
        # own premise meanwhile: only builds count, and they keep failing).
        more = await h.run_until(incident_id, lambda i: i.policy.watch.streak >= 5)
        assert set(more.policy.escalations) <= {"repeat", "recovery_deadline"}
        await h.delivered(incident_id)
        for fake in (h.oncall, h.owner):
            keys = [b["message"]["key"] for b in fake.unique.values()]
            assert keys.count("escalated-repeat") == 1
        assert set(_events(h.owner)) == {"escalated"}
        body = next(b for b in h.owner.unique.values()
                    if b["message"]["key"] == "escalated-repeat")
        text = str(body)
        assert "3 times in a row" in text and "rollback" in text.lower()
        assert len(h.patches()) == 1


async def test_registry_outage_escalates_at_once_without_the_switch(
        tmp_path: Path, start_app: AppStarter) -> None:
    async with harness(tmp_path, "registry-outage", start_app) as h:
        incident_id = await h.fire()
        incident = await h.investigated(incident_id)
        assert "registry" in incident.policy.escalations  # on the first decision, no tick
        assert incident.policy.mitigation.status == "skipped"
        for _ in range(10):
            await h.tick(30)
        assert h.writes() == []
        await h.delivered(incident_id)
        assert _events(h.oncall) == ["evidence", "escalated"]


async def test_rollout_stuck_escalates_rule_4(tmp_path: Path, start_app: AppStarter) -> None:
    async with harness(tmp_path, "rollout-stuck", start_app) as h:
        incident_id = await h.fire()
        await h.investigated(incident_id)
        stuck = await h.run_until(incident_id, lambda i: "rollout_stuck" in i.policy.escalations)
        mit = stuck.policy.mitigation
        assert mit.status == "applied" and mit.rollout == "stuck"
        assert mit.applied_at is not None and mit.rollout_deadline_at is not None
        assert stuck.policy.escalations["rollout_stuck"].at >= mit.rollout_deadline_at


async def test_slow_recovery_fires_rule_2_from_the_timer_alone(
        tmp_path: Path, start_app: AppStarter) -> None:
    # observe mode and nobody flips the switch: nothing recovers, and no webhook comes.
    async with harness(tmp_path, "cache-recovers", start_app, mode="observe") as h:
        incident_id = await h.fire()
        first = await h.investigated(incident_id)
        assert first.latest_evidence is not None
        start = first.policy.episode_start
        # No earlier episode in this scenario's 20 minutes: the episode is all of them.
        assert start is not None and start == first.latest_evidence.first_error_at
        late = await h.run_until(incident_id,
                                 lambda i: "recovery_deadline" in i.policy.escalations)
        fired = late.policy.escalations["recovery_deadline"]
        assert 30 * 60 <= (fired.at - start).total_seconds() <= 30 * 60 + 30
        assert h.writes() == []


async def test_spurious_alert_on_a_healthy_cluster_is_not_mitigated(
        tmp_path: Path, start_app: AppStarter) -> None:
    async with harness(tmp_path, "healthy", start_app) as h:
        incident_id = await h.fire()
        incident = await h.investigated(incident_id)
        assert incident.latest_evidence is not None
        assert not incident.latest_evidence.confirmed
        assert incident.policy.mitigation.status == "not_needed"
        done = await h.run_until(incident_id, lambda i: i.state is State.RESOLVED)
        assert h.writes() == [] and done.policy.escalations == {}


async def test_renotifications_attach_without_rerunning_the_investigation(
        tmp_path: Path, start_app: AppStarter) -> None:
    async with harness(tmp_path, "cache-persists", start_app, mode="observe") as h:
        incident_id = await h.fire()
        await h.investigated(incident_id)
        await h.tick(60)
        again = await h.fire(minutes_ago=1, job_kind="mirror")  # a new alert, same key
        assert again == incident_id
        await h.tick(30)
        incident = await h.incident(incident_id)
        assert len(incident.evidence) == 1  # within reinvestigate_interval_s (600 s)
        assert [e.kind for e in incident.timeline].count("alert_attached") == 1
        for _ in range(20):
            await h.tick(30)
        await h.fire(minutes_ago=0, job_kind="build")  # after the interval: a fresh bundle

        async def two_bundles() -> bool:
            return len((await h.incident(incident_id)).evidence) >= 2

        await until(two_bundles, "no second bundle")
