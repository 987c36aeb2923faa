"""Every decision and every message from the namespace as it is now (issue: fresh facts).

One test per defect found by trying the responder as a new user would: each failed on the
code before it (messages from the first bundle, the repeat rule counting from the patch, the
clock from the oldest line, a root cause for an unconfirmed alert, advice written before the
decision, a refused patch retried forever, a blind responder saying nothing).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from service.domain.lifecycle import State
from tests.adapters.fakes.webhook import FakeWebhook
from tests.conftest import AppStarter, alert, make_settings, notification
from tests.runbook_harness import CONTROL_PLANE_PATH, Harness, harness
from tests.waiting import until


def _messages(h: Harness, event: str, fake: str = "oncall") -> list[dict[str, Any]]:
    sink = getattr(h, fake)
    return [b["message"] for b in sink.unique.values() if b["message"]["event"] == event]


def _fact(message: dict[str, Any], name: str) -> str:
    return next(f["value"] for f in message["facts"] if f["name"] == name)


def _text(message: dict[str, Any]) -> str:
    return "\n".join([message["title"], message["summary"],
                      *[f"{f['name']}: {f['value']}" for f in message["facts"]],
                      *[f"{s['title']}\n" + "\n".join(s["lines"]) for s in message["sections"]]])


async def test_cache_persists_escalation_names_the_runs_after_the_switch_and_false(
        tmp_path: Path, start_app: AppStarter) -> None:
    async with harness(tmp_path, "cache-persists", start_app) as h:
        incident_id = await h.fire()
        await h.investigated(incident_id)
        fired = await h.run_until(incident_id, lambda i: "repeat" in i.policy.escalations)
        await h.delivered(incident_id)
        (message,) = _messages(h, "escalated", "owner")
        assert _fact(message, "Kill switch now").endswith("= false, rollout complete")
        after = [b for b in fired.policy.watch.builds.values() if b.status == "Failed"]
        assert len(after) >= 3 and all(b.run_id for b in after)
        runs = _fact(message, "Run ids")
        text = _text(message)
        for build in after:
            assert build.run_id in runs and build.job in text
        last = max(b.finished_at for b in after if b.finished_at)
        assert _fact(message, "Last error") >= f"{last:%Y-%m-%d %H:%M:%S} UTC"
        bundle = fired.latest_evidence
        assert bundle is not None and bundle.last_error_at is not None and \
            bundle.last_error_at < last  # the first bundle's last error is older
        assert "= true" not in _fact(message, "Kill switch now")


async def test_rollout_stuck_pages_no_one_with_the_repeat_rule(
        tmp_path: Path, start_app: AppStarter) -> None:
    async with harness(tmp_path, "rollout-stuck", start_app) as h:
        incident_id = await h.fire()
        await h.investigated(incident_id)
        await h.run_until(incident_id, lambda i: "rollout_stuck" in i.policy.escalations)
        for _ in range(20):  # ten more minutes of failing builds from the old pod
            await h.tick(30)
        incident = await h.incident(incident_id)
        assert "repeat" not in incident.policy.escalations
        assert incident.policy.watch.since is None  # nothing counted: the rollout never ended


async def test_an_old_episode_does_not_start_the_clock(tmp_path: Path,
                                                       start_app: AppStarter) -> None:
    async with harness(tmp_path, "cache-recurring", start_app, mode="observe") as h:
        incident_id = await h.fire()
        first = await h.investigated(incident_id)
        bundle = first.latest_evidence
        assert bundle is not None and bundle.first_error_at is not None
        now = h.clock.now()
        assert now - bundle.first_error_at > timedelta(hours=4)  # the old episode's line
        start = first.policy.episode_start
        assert start is not None and timedelta(0) < now - start <= timedelta(minutes=21)
        assert bundle.last_success_at is not None and bundle.last_success_at < start
        assert "recovery_deadline" not in first.policy.escalations
        late = await h.run_until(incident_id,
                                 lambda i: "recovery_deadline" in i.policy.escalations)
        fired = late.policy.escalations["recovery_deadline"]
        assert timedelta(minutes=30) <= fired.at - start <= timedelta(minutes=30, seconds=30)
        await h.delivered(incident_id)
        (message,) = _messages(h, "escalated")
        assert _fact(message, "First failure") == f"{start:%Y-%m-%d %H:%M:%S} UTC"


async def test_the_recovery_deadline_pages_oncall_and_the_owner(
        tmp_path: Path, start_app: AppStarter) -> None:
    async with harness(tmp_path, "cache-recovers", start_app, mode="observe") as h:
        incident_id = await h.fire()
        await h.investigated(incident_id)
        await h.run_until(incident_id, lambda i: "recovery_deadline" in i.policy.escalations)
        await h.delivered(incident_id)
        assert [m["key"] for m in _messages(h, "escalated", "owner")] == [
            "escalated-recovery_deadline"]
        assert [m["key"] for m in _messages(h, "escalated")] == ["escalated-recovery_deadline"]


async def test_healthy_resolves_without_a_root_cause_or_an_mttr_sample(
        tmp_path: Path, start_app: AppStarter) -> None:
    async with harness(tmp_path, "healthy", start_app) as h:
        incident_id = await h.fire()
        await h.investigated(incident_id)
        done = await h.run_until(incident_id, lambda i: i.state is State.RESOLVED)
        assert done.policy.mttr_s is None
        await h.delivered(incident_id)
        (final,) = _messages(h, "resolved")
        (root,) = [s["lines"] for s in final["sections"] if s["title"] == "Root cause"]
        assert "Stale registry cache" not in root[0] and "MANIFEST_UNKNOWN" not in root[0]
        assert "Not established" in root[0] and "not confirmed" in final["title"]
        assert "Stale registry cache" not in _text(final)
        async with h.client.http.get(f"{h.client.base}/metrics") as resp:
            metrics = await resp.text()
        assert 'aislot_incident_mttr_seconds_count{namespace="codex-k8s-prod",' \
               'signature="cache"} 0.0' in metrics


async def test_the_first_message_says_what_the_decision_does(
        tmp_path: Path, start_app: AppStarter) -> None:
    async with harness(tmp_path, "registry-outage", start_app) as h:
        incident_id = await h.fire()
        await h.investigated(incident_id)
        await h.delivered(incident_id)
        (first,) = _messages(h, "evidence")
        step = next(s for s in first["sections"] if s["title"] == "Next step (runbook)")
        assert not any("CODEXK8S_KANIKO_CACHE_ENABLED" in line for line in step["lines"])
        assert "will not help" in step["lines"][0]
    async with harness(tmp_path / "auto", "cache-recovers", start_app) as h:
        incident_id = await h.fire()
        await h.investigated(incident_id)
        await h.delivered(incident_id)
        (first,) = _messages(h, "evidence")
        step = next(s for s in first["sections"] if s["title"] == "Next step (runbook)")
        assert step["lines"][0].startswith("1. The responder sets "
                                           "CODEXK8S_KANIKO_CACHE_ENABLED=false")


async def _refused_once(h: Harness) -> None:
    incident_id = await h.fire()
    await h.investigated(incident_id)
    # The first decision, its action and the judgement of its outcome: no tick in between.
    incident = await h.settled(incident_id, lambda i: bool(i.policy.escalations))
    mit = incident.policy.mitigation
    assert mit.status == "failed" and list(incident.policy.escalations) == ["mitigation_failed"]
    assert mit.previous_value == "true" and mit.manual is not None
    for _ in range(6):
        await h.tick(30)
    await h.delivered(incident_id)
    (message,) = _messages(h, "escalated")
    text = _text(message)
    assert mit.failure is not None and mit.failure.split(":")[0] in text
    assert mit.manual in text
    again = await h.incident(incident_id)
    assert list(again.policy.escalations) == ["mitigation_failed"]
    assert [e.kind for e in again.timeline].count("mitigation_failed") == 1


async def test_a_forbidden_patch_is_one_escalation_at_once(
        tmp_path: Path, start_app: AppStarter) -> None:
    async with harness(tmp_path, "cache-recovers", start_app) as h:
        h.sim.add_fault(kind="forbidden", verb="patch", resource="deployments")
        await _refused_once(h)
        assert h.writes() == []
        assert sum(1 for e in h.sim.audit.entries() if e.method == "PATCH") == 1  # no retries


async def test_an_invalid_patch_is_one_escalation_at_once(
        tmp_path: Path, start_app: AppStarter) -> None:
    async with harness(tmp_path, "cache-recovers", start_app) as h:
        h.sim.add_fault(kind="error", status=422, verb="patch", resource="deployments")
        await _refused_once(h)
        assert sum(1 for e in h.sim.audit.entries() if e.method == "PATCH") == 1


async def test_a_switch_sourced_by_value_from_is_never_patched_with_value(
        tmp_path: Path, start_app: AppStarter) -> None:
    async with harness(tmp_path, "cache-value-from", start_app) as h:
        await _refused_once(h)
        assert [e for e in h.sim.audit.entries() if e.method == "PATCH"] == []
        incident = (await h.store.active_incidents())[0]
        mit = (await h.incident(incident)).policy.mitigation
        assert mit.failure is not None and "secret/codex-k8s-runtime" in mit.failure
        assert mit.manual is not None and "patch secret codex-k8s-runtime" in mit.manual
        # The apiserver itself would refuse the `value` patch (422), as the real one does.
        body = {"spec": {"template": {"spec": {"containers": [{
            "name": "control-plane",
            "env": [{"name": "CODEXK8S_KANIKO_CACHE_ENABLED", "value": "false"}]}]}}}}
        async with h.client.http.patch(
                h.sim.url + CONTROL_PLANE_PATH, json=body,
                headers={"Authorization": f"Bearer {h.sim.token}",
                         "Content-Type": "application/strategic-merge-patch+json"}) as resp:
            answer = await resp.text()
        assert resp.status == 422 and "may not be specified when `value` is not empty" in answer


async def test_losing_the_job_list_for_longer_than_the_limit_escalates_once(
        tmp_path: Path, start_app: AppStarter) -> None:
    # Watches end after 1 s (real) here, so the revoked grant shows at the next one, as it
    # does at a real apiserver's next watch (open watches are not cut by an RBAC change).
    async with harness(tmp_path, "cache-recovers", start_app,
                       kube={"watch_timeout_s": 1},
                       escalation={"monitor_interval_s": 30, "blind_after_s": 300}) as h:
        incident_id = await h.fire()
        await h.investigated(incident_id)
        await h.run_until(incident_id, lambda i: i.policy.mitigation.rollout == "complete")
        h.sim.add_fault(kind="forbidden", resource="jobs")
        lost = await h.settled(incident_id, lambda i: "jobs" in i.policy.watch.gaps)
        assert "blind" not in lost.policy.escalations
        blind = await h.run_until(incident_id, lambda i: "blind" in i.policy.escalations)
        fired = blind.policy.escalations["blind"]
        assert fired.at - lost.policy.watch.gaps["jobs"] >= timedelta(minutes=5)
        assert re.search(r"grant (list|watch) on jobs", fired.reason), fired.reason
        for _ in range(20):
            await h.tick(30)
        await h.delivered(incident_id)
        keys = [m["key"] for m in _messages(h, "escalated")]
        assert keys.count("escalated-blind") == 1


async def test_build_ref_escalates_at_once_with_the_bad_ref(
        tmp_path: Path, start_app: AppStarter) -> None:
    async with harness(tmp_path, "build-ref", start_app) as h:
        incident_id = await h.fire(alertname="AI_SLOT_CODEGEN_CHECK_BUILD_REF_INVALID",
                                   error_signature="build-ref", job_kind="codegen")
        incident = await h.investigated(incident_id)
        assert incident.latest_evidence is not None and incident.latest_evidence.confirmed
        assert incident.latest_evidence.causes == ["release/2026-02-3x"]
        assert list(incident.policy.escalations) == ["no_fix"]
        assert h.writes() == []
        await h.delivered(incident_id)
        (message,) = _messages(h, "escalated")
        assert "release/2026-02-3x" in message["summary"]


async def test_no_cluster_access_at_all_tells_oncall_at_once(
        tmp_path: Path, start_app: AppStarter) -> None:
    oncall = FakeWebhook()
    await oncall.start()
    try:
        settings = make_settings(
            tmp_path, kube={"kubeconfig": str(tmp_path / "missing-kubeconfig")},
            sinks={"oncall": {"type": "webhook", "url": oncall.hook_url, "audience": "oncall"}})
        client = await start_app(settings)
        status, ack = await client.webhook(notification(alert()))
        assert status == 200
        incident_id = ack["incidents"][0]
        await until(lambda: any(b["message"]["event"] == "escalated"
                                for b in oncall.unique.values()), "on-call was not told")
        (message,) = [b["message"] for b in oncall.unique.values()
                      if b["message"]["event"] == "escalated"]
        assert message["key"] == "escalated-blind" and "no cluster access" in message["summary"]
        assert "missing-kubeconfig" in message["summary"]
        _, incident = await client.get(f"/incidents/{incident_id}")
        assert incident["state"] == "investigating" and incident["escalated"]
    finally:
        await oncall.close()
