"""The store contract, run against both backends: SQLite (tmp file) and PostgreSQL (real server).

Every test gets a fresh store (a new file, a new database) and asserts the results the
``Store`` protocol promises, so the two backends give the same answers for the same calls.
PostgreSQL's own behaviour (several replicas, failures) is in ``tests/e2e/test_postgres_replicas``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from service.domain.alerts import MAX_COUNT, Notification
from service.domain.evidence import (
    Collected,
    CollectorStatus,
    EvidenceBundle,
    KillSwitchState,
    RegistryHealth,
)
from service.domain.incidents import IdentityRules, Incident, TimelineEntry
from service.domain.lifecycle import IllegalTransition, State
from service.domain.messages import Delivery, Message
from service.domain.policy_record import MitigationRecord, PolicyRecord
from service.store.base import IncidentUpdate, StaleUpdate, Store
from service.store.postgres import PostgresStore
from service.store.sqlite import SqliteStore
from tests.adapters.pg_server import PgServer, shared
from tests.conftest import alert, notification

RULES = IdentityRules(default_namespace="codex-k8s-prod",
                      alert_signatures={"AI_SLOT_BUILD_CACHE_MANIFEST_UNKNOWN": "cache"})
T0 = datetime(2026, 2, 26, 10, 5, tzinfo=UTC)
LEASE = timedelta(seconds=120)  # a claim's lease: both stores' default (store.claim_lease_s)


@pytest.fixture(scope="session")
def pg() -> PgServer:
    return shared()


@dataclass
class Backend:
    """Makes stores on one location (file or database); ``reopen`` is a restart."""

    name: str
    make: Callable[..., Store]
    stores: list[Store] = field(default_factory=list)

    async def open(self, **kwargs: Any) -> Store:
        store = self.make(**kwargs)
        await store.open()
        self.stores.append(store)
        return store


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        def make(**kw: Any) -> Store:
            return SqliteStore(tmp_path / "store.db", rules=RULES, related_issue="205", **kw)
    else:
        dsn = await request.getfixturevalue("pg").acreate_database()

        def make(**kw: Any) -> Store:
            kw.setdefault("claim_lease_s", LEASE.total_seconds())
            return PostgresStore(dsn, rules=RULES, related_issue="205", **kw)
    found = Backend(request.param, make)
    yield found
    for store in found.stores:
        await store.close()


@pytest.fixture
async def store(backend: Backend) -> Store:
    return await backend.open()


def body(*alerts: dict[str, Any], group_key: str = '{}:{alertname="X"}') -> tuple[Notification,
                                                                                 bytes]:
    payload = notification(*alerts, group_key=group_key)
    return Notification.model_validate(payload), json.dumps(payload).encode()


def message(incident_id: str, key: str = "opened-1", event: str = "opened") -> Message:
    return Message(incident_id=incident_id, event=event, key=key,
                   title="AI-slot builds failing", summary="MANIFEST_UNKNOWN",
                   incident_url=f"http://responder/incidents/{incident_id}", created_at=T0)


def bundle(incident_id: str) -> EvidenceBundle:
    forbidden: Collected[Any] = Collected(status=CollectorStatus.FORBIDDEN,
                                          hint="get pods/log in codex-k8s-prod")
    return EvidenceBundle(
        incident_id=incident_id, collected_at=T0, since=T0 - timedelta(hours=6),
        signature="cache", confirmed=True, first_error_at=T0 - timedelta(minutes=5),
        run_ids=["run-1", "run-2"], duration_s=1.25,
        workloads=Collected(status=CollectorStatus.TIMEOUT, error="deadline"),
        control_plane_logs=forbidden, worker_logs=forbidden,
        failed_jobs=Collected(status=CollectorStatus.ERROR, error="500"),
        registry=Collected(status=CollectorStatus.OK, data=RegistryHealth(
            registry_available=True, mirror_jobs_failed=1, failed_mirror_jobs=["mirror-1"])),
        kill_switch=Collected(status=CollectorStatus.OK, data=KillSwitchState(
            location="deployment/codex-k8s-control-plane env", value="true")))


def entry(kind: str, at: datetime = T0) -> TimelineEntry:
    return TimelineEntry(at=at, kind=kind, message=kind.replace("_", " "))


async def move(store: Store, incident_id: str, target: State, change: TimelineEntry
               ) -> Incident:
    """A state change with its timeline line, as the runbook stores one."""
    await store.update(incident_id, IncidentUpdate(state=target, entries=[change]), change.at)
    incident = await store.get_incident(incident_id)
    assert incident is not None
    return incident


async def deliveries(store: Store, incident_id: str) -> list[Delivery]:
    incident = await store.get_incident(incident_id)
    assert incident is not None
    return incident.deliveries


async def open_incident(store: Store, fingerprint: str = "fp1", at: datetime = T0,
                        **labels: str) -> str:
    result = await store.ingest(*body(alert(fingerprint, **labels),
                                      group_key=f"{{}}:{{fp={fingerprint}}}"), at)
    assert result.opened, result
    return result.opened[0]


async def test_50_concurrent_identical_notifications_are_one_incident_one_entry(
        store: Store) -> None:
    parsed, raw = body(alert(job_kind="kaniko"))
    results = await asyncio.gather(*(store.ingest(parsed, raw, T0) for _ in range(50)))
    assert sorted(r.redelivery for r in results) == [False] + [True] * 49
    first = next(r for r in results if not r.redelivery)
    assert len(first.opened) == 1
    incident = await store.get_incident(first.opened[0])
    assert incident is not None
    assert [e.kind for e in incident.timeline] == ["opened"]
    assert len(incident.alerts) == 1 and incident.counters.alerts_firing == 1
    assert incident.job_kinds == ["kaniko"] and incident.related_issue == "205"
    assert incident.first_failure_at == datetime(2026, 2, 26, 10, 0, tzinfo=UTC)
    assert await store.count_by_state() == {"open": 1}


async def test_concurrent_distinct_alerts_of_one_key_open_one_incident(store: Store) -> None:
    bodies = [body(alert(f"fp-{i}", starts=f"2026-02-26T09:{i:02d}:00Z", job_kind=f"k{i % 3}"),
                   group_key=f"{{}}:{{n={i}}}") for i in range(30)]
    results = await asyncio.gather(*(store.ingest(p, r, T0) for p, r in bodies))
    assert sum(len(r.opened) for r in results) == 1
    assert len({i for r in results for i in r.incidents}) == 1
    incident = await store.get_incident(results[0].incidents[0])
    assert incident is not None
    assert incident.counters.alerts_firing == 30 and len(incident.alerts) == 30
    assert sorted(e.kind for e in incident.timeline) == ["alert_attached"] * 29 + ["opened"]
    assert incident.first_failure_at == datetime(2026, 2, 26, 9, 0, tzinfo=UTC)
    assert sorted(incident.job_kinds) == ["k0", "k1", "k2"]


async def test_attach_resolve_note_and_new_incident_after_resolution(store: Store) -> None:
    first = await open_incident(store, "fp1", job_kind="kaniko")
    later = T0 + timedelta(minutes=1)
    attached = await store.ingest(*body(alert("fp2", starts="2026-02-26T09:30:00Z",
                                              job_kind="mirror")), later)
    assert [p.action for p in attached.plans] == ["attach"] and attached.incidents == [first]
    resolved = await store.ingest(*body(alert("fp1", "resolved")), later)
    assert [p.action for p in resolved.plans] == ["resolve"] and resolved.incidents == [first]
    stray = await store.ingest(*body(alert("fp-x", "resolved", error_signature="other")), later)
    assert [p.action for p in stray.plans] == ["orphan"] and stray.incidents == []

    incident = await store.get_incident(first)
    assert incident is not None
    assert [e.kind for e in incident.timeline] == ["opened", "alert_attached", "alert_resolved"]
    assert incident.counters.alerts_firing == 2 and incident.counters.alerts_resolved == 1
    assert incident.state is State.OPEN and incident.updated_at == later
    assert incident.first_failure_at == datetime(2026, 2, 26, 9, 30, tzinfo=UTC)
    assert incident.job_kinds == ["kaniko", "mirror"]
    assert [(a.fingerprint, a.status) for a in incident.alerts] == [
        ("fp1", "firing"), ("fp2", "firing"), ("fp1", "resolved")]

    done = await move(store, first, State.RESOLVED, entry("resolved", later))
    assert done.state is State.RESOLVED and done.resolved_at == later
    again = await store.ingest(*body(alert("fp1", starts="2026-02-26T11:00:00Z")), later)
    assert len(again.opened) == 1 and again.opened[0] != first
    assert await store.active_incidents() == again.opened
    assert await store.count_by_state() == {"open": 1, "resolved": 1}


async def test_state_changes_apply_transition_and_reject_illegal_moves(store: Store) -> None:
    incident_id = await open_incident(store)
    with pytest.raises(IllegalTransition):
        await move(store, incident_id, State.MONITORING, entry("skip"))
    with pytest.raises(KeyError):
        await move(store, "inc-missing", State.INVESTIGATING, entry("x"))
    moved = await move(store, incident_id, State.INVESTIGATING, entry("investigating"))
    assert moved.state is State.INVESTIGATING
    assert [e.kind for e in moved.timeline] == ["opened", "investigating"]
    with pytest.raises(IllegalTransition):
        await store.update(incident_id, IncidentUpdate(state=State.OPEN,
                                                       entries=[entry("nope")]), T0)
    with pytest.raises(KeyError):
        await store.update("inc-missing", IncidentUpdate(), T0)
    after = await store.get_incident(incident_id)
    assert after is not None and [e.kind for e in after.timeline] == ["opened", "investigating"]


async def test_update_stores_policy_evidence_messages_and_state_atomically(store: Store) -> None:
    incident_id = await open_incident(store)
    await move(store, incident_id, State.INVESTIGATING, entry("investigating"))
    now = T0 + timedelta(minutes=2)
    policy = PolicyRecord(version=1,
                          mitigation=MitigationRecord(status="applied", previous_value="true"),
                          mttr_s=42.5)
    evidence = bundle(incident_id)
    change = IncidentUpdate(policy=policy, evidence=evidence, state=State.MITIGATING,
                            escalated=True, entries=[entry("switch_applied", now)],
                            messages=[(message(incident_id, "mitigated-1", "mitigated"),
                                       ["chat", "pager"]), (message(incident_id, "x"), [])])
    await store.update(incident_id, change, now)
    incident = await store.get_incident(incident_id)
    assert incident is not None
    assert incident.state is State.MITIGATING and incident.escalated
    assert incident.policy == policy and incident.updated_at == now
    assert incident.evidence == [evidence]
    assert [e.kind for e in incident.timeline] == [
        "opened", "investigating", "switch_applied", "notification_queued"]
    assert [(d.sink, d.key, d.status) for d in incident.deliveries] == [
        ("chat", "mitigated-1", "pending"), ("pager", "mitigated-1", "pending")]

    # The same messages again queue nothing new; an illegal state stores none of the change.
    await store.update(incident_id, IncidentUpdate(messages=change.messages), now)
    with pytest.raises(IllegalTransition):
        await store.update(incident_id, IncidentUpdate(
            state=State.OPEN, policy=PolicyRecord(version=2), evidence=evidence,
            entries=[entry("lost")], messages=[(message(incident_id, "lost"), ["chat"])]), now)
    after = await store.get_incident(incident_id)
    assert after is not None
    assert after.timeline == incident.timeline and after.policy == policy
    assert len(after.deliveries) == 2 and len(after.evidence) == 1

    # A writer that read an older record loses: nothing of its change is stored.
    with pytest.raises(StaleUpdate):
        await store.update(incident_id, IncidentUpdate(
            policy=PolicyRecord(version=1), entries=[entry("stale")]), now)
    assert (await store.get_incident(incident_id)).timeline == incident.timeline  # type: ignore[union-attr]

    resolved_at = now + timedelta(minutes=30)
    await store.update(incident_id, IncidentUpdate(state=State.RESOLVED), resolved_at)
    final = await store.get_incident(incident_id)
    assert final is not None and final.resolved_at == resolved_at and final.escalated


async def test_outbox_enqueue_claim_and_finish(store: Store) -> None:
    incident_id = await open_incident(store)
    first = await store.enqueue(message(incident_id), ["chat", "pager"], T0)
    assert len(first) == 2
    assert await store.enqueue(message(incident_id), ["chat", "pager"], T0) == []
    later = await store.enqueue(message(incident_id, "evidence-1", "evidence"), ["chat"],
                                T0 + timedelta(seconds=5))
    incident = await store.get_incident(incident_id)
    assert incident is not None
    assert [e.kind for e in incident.timeline] == ["opened"] + ["notification_queued"] * 2

    assert await store.claim_due(T0 - timedelta(seconds=1), 10) == []
    claimed = await store.claim_due(T0, 10)
    assert [d.id for d in claimed] == first
    assert all(d.status == "sending" and d.attempts == 1 for d in claimed)
    assert claimed[0].message == message(incident_id)
    chat, pager = claimed
    await store.finish_delivery(chat.id, delivered=True, now=T0 + timedelta(seconds=1))
    await store.finish_delivery(pager.id, delivered=False, now=T0, error="503",
                                retry_at=T0 + timedelta(seconds=30))
    due = await store.claim_due(T0 + timedelta(seconds=10), 10)
    assert [d.id for d in due] == later
    await store.finish_delivery(later[0], delivered=False, now=T0, error="403 forbidden")
    retried = await store.claim_due(T0 + timedelta(seconds=30), 1)
    assert [(d.id, d.attempts) for d in retried] == [(pager.id, 2)]
    # Left ``sending`` (a crash before the outcome): leased while it may be in flight, then
    # due again, as it was when it fell due.
    leased_until = T0 + timedelta(seconds=30) + LEASE
    assert await store.claim_due(leased_until - timedelta(seconds=1), 10) == []
    again = await store.claim_due(leased_until, 10)
    assert [(d.id, d.attempts, d.next_attempt_at) for d in again] == [
        (pager.id, 3, leased_until)]

    rows = {d.id: d for d in await deliveries(store, incident_id)}
    assert rows[chat.id].status == "delivered"
    assert rows[chat.id].delivered_at == T0 + timedelta(seconds=1)
    assert rows[chat.id].last_error is None
    assert (rows[later[0]].status, rows[later[0]].last_error) == ("failed", "403 forbidden")
    assert (rows[pager.id].status, rows[pager.id].last_error) == ("sending", "503")
    assert rows[pager.id].next_attempt_at == leased_until + LEASE


async def test_evidence_round_trips_with_nul_and_unicode(store: Store) -> None:
    incident_id = await open_incident(store)
    evidence = bundle(incident_id)
    assert evidence.kill_switch.data is not None
    odd = evidence.model_copy(update={"signature": "cache \x00 ✓ \u2028 😀",
                                      "run_ids": ["run\x00nul", "ünï"]})
    await store.update(incident_id, IncidentUpdate(evidence=odd, entries=[entry("evidence")]), T0)
    incident = await store.get_incident(incident_id)
    assert incident is not None and incident.evidence == [odd]
    assert incident.timeline[-1].kind == "evidence"


async def test_list_ordering_filter_and_limit(store: Store) -> None:
    ids = [await open_incident(store, f"fp{i}", T0 + timedelta(minutes=i),
                               error_signature=f"sig-{i}") for i in range(4)]
    same_instant = await open_incident(store, "fp-same", T0 + timedelta(minutes=3),
                                       error_signature="sig-same")
    await move(store, ids[1], State.INVESTIGATING, entry("investigating"))
    await move(store, ids[2], State.RESOLVED, entry("resolved"))
    listed = await store.list_incidents(None, 10)
    assert [s.id for s in listed] == [same_instant, ids[3], ids[2], ids[1], ids[0]]
    assert [s.id for s in await store.list_incidents(None, 2)] == [same_instant, ids[3]]
    assert [s.id for s in await store.list_incidents(State.INVESTIGATING, 10)] == [ids[1]]
    assert await store.list_incidents(State.MONITORING, 10) == []
    assert await store.active_incidents() == [ids[0], ids[1], ids[3], same_instant]
    assert await store.count_by_state() == {"open": 3, "investigating": 1, "resolved": 1}
    assert listed[3].state is State.INVESTIGATING and listed[4].opened_at == T0
    for missing in ("inc-missing", "inc\x00nul", "%00'; --"):
        assert await store.get_incident(missing) is None
        with pytest.raises(KeyError):
            await move(store, missing, State.RESOLVED, entry("x"))


async def test_restart_keeps_everything(backend: Backend, store: Store) -> None:
    parsed, raw = body(alert(job_kind="kaniko"))
    incident_id = (await store.ingest(parsed, raw, T0)).opened[0]
    await store.update(incident_id, IncidentUpdate(
        state=State.INVESTIGATING, evidence=bundle(incident_id), entries=[entry("collected")],
        messages=[(message(incident_id), ["chat"])],
        policy=PolicyRecord(version=1, mttr_s=1.0)), T0)
    (sent,) = await store.claim_due(T0, 10)
    await store.finish_delivery(sent.id, delivered=True, now=T0)
    await store.enqueue(message(incident_id, "evidence-1", "evidence"), ["chat"], T0)
    (in_flight,) = await store.claim_due(T0, 10)
    before = await store.get_incident(incident_id)
    listing = await store.list_incidents(None, 10)
    await store.close()
    backend.stores.remove(store)

    reopened = await backend.open()
    after = await reopened.get_incident(incident_id)
    assert before is not None and after is not None
    assert after.model_copy(update={"deliveries": []}) == before.model_copy(
        update={"deliveries": []})
    assert after.deliveries[0] == before.deliveries[0]
    # The claim a stopped process held is given back: due at once, not at the lease's end.
    assert after.deliveries[1] == before.deliveries[1].model_copy(
        update={"next_attempt_at": T0})
    assert await reopened.list_incidents(None, 10) == listing
    assert [(d.id, d.attempts) for d in await reopened.claim_due(T0, 10)] == [
        (in_flight.id, 2)]
    again = await reopened.ingest(parsed, raw, T0)
    assert again.redelivery
    await reopened.ping()


async def _scenario(store: Store) -> str:
    """Intake, state changes, outbox and evidence; everything the store then shows, as JSON
    with the (random) incident ids replaced by their order of opening.

    Times are compared as instants: PostgreSQL's TIMESTAMPTZ answers in UTC where SQLite gives
    back the offset it was handed (an alert's ``startsAt`` of +02:00, here).
    """
    first = await open_incident(store, "fp1", job_kind="kaniko")
    minute = timedelta(minutes=1)
    await store.ingest(*body(alert("fp2", starts="2026-02-26T09:00:00+02:00")), T0 + minute)
    await store.ingest(*body(alert("fp1", "resolved")), T0 + 2 * minute)
    await store.update(first, IncidentUpdate(
        state=State.INVESTIGATING, evidence=bundle(first), entries=[entry("collected")],
        messages=[(message(first), ["chat", "pager"])], policy=PolicyRecord(version=1, mttr_s=3.0),
        escalated=True), T0 + 3 * minute)
    chat, pager = await store.claim_due(T0 + 3 * minute, 10)
    await store.finish_delivery(chat.id, delivered=True, now=T0 + 4 * minute)
    await store.finish_delivery(pager.id, delivered=False, now=T0 + 4 * minute, error="503",
                                retry_at=T0 + 9 * minute)
    await move(store, first, State.RESOLVED, entry("resolved", T0 + 6 * minute))
    second = await open_incident(store, "fp3", T0 + 7 * minute)
    shown: dict[str, Any] = {
        "incidents": [i.model_dump() for i in [await store.get_incident(first),
                                               await store.get_incident(second)] if i],
        "listing": [s.model_dump() for s in await store.list_incidents(None, 10)],
        "counts": await store.count_by_state(),
        "active": await store.active_incidents(),
    }
    text = json.dumps(shown, sort_keys=True,
                      default=lambda value: value.astimezone(UTC).isoformat())
    return text.replace(first, "INCIDENT-1").replace(second, "INCIDENT-2")


async def test_both_backends_show_the_same_for_the_same_calls(tmp_path: Path,
                                                               pg: PgServer) -> None:
    sqlite = SqliteStore(tmp_path / "same.db", rules=RULES, related_issue="205")
    postgres = PostgresStore(await pg.acreate_database(), rules=RULES, related_issue="205",
                             claim_lease_s=LEASE.total_seconds())
    shown = []
    for store in (sqlite, postgres):
        await store.open()
        try:
            shown.append(await _scenario(store))
        finally:
            await store.close()
    assert shown[0] == shown[1]


async def test_the_largest_truncated_count_the_schema_allows_fits(store: Store) -> None:
    """The payload's bound (``MAX_COUNT``) is what both stores' columns hold (issue 12, 3)."""
    payload = notification(alert("fp-max"))
    payload["truncatedAlerts"] = MAX_COUNT
    result = await store.ingest(Notification.model_validate(payload),
                                json.dumps(payload).encode(), T0)
    assert result.opened and not result.redelivery


async def test_keyset_pages_cover_every_incident_once_while_new_ones_arrive(
        store: Store) -> None:
    """``before`` pages past the newest (issue 12, finding 10): same instants keep insertion
    order, an incident opened meanwhile does not shift the pages, a state filter holds."""
    ids = [await open_incident(store, f"fp{i}", T0 + timedelta(minutes=i // 2),
                               error_signature=f"sig-{i}") for i in range(7)]
    newest_first = list(reversed(ids))
    first = await store.list_incidents(None, 3)
    assert [s.id for s in first] == newest_first[:3]
    await open_incident(store, "fp-late", T0 + timedelta(hours=1), error_signature="sig-late")
    second = await store.list_incidents(None, 3, before=first[-1].id)
    third = await store.list_incidents(None, 3, before=second[-1].id)
    assert [s.id for s in second + third] == newest_first[3:]
    assert await store.list_incidents(None, 3, before=ids[0]) == []
    await move(store, ids[1], State.INVESTIGATING, entry("investigating"))
    await move(store, ids[4], State.INVESTIGATING, entry("investigating"))
    assert [s.id for s in await store.list_incidents(State.INVESTIGATING, 5,
                                                     before=ids[4])] == [ids[1]]
    for unknown in ("inc-missing", "inc\x00nul"):
        with pytest.raises(KeyError):
            await store.list_incidents(None, 3, before=unknown)
