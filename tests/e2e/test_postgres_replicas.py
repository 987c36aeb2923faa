"""Several replicas on one PostgreSQL database (a real server), and PostgreSQL's failures.

In process: several ``PostgresStore``s on one database open together (migrations race), dedup
and open one incident per key together, claim disjoint deliveries (``SKIP LOCKED`` and the
claim lease), and a server that is unreachable, locked or drops its connections gives
``StoreUnavailable`` or a transparent retry. As processes: two ``aislot-responder serve``
replicas start at once, then receive the same notifications concurrently, each notification
split across both and delivered more than once: exactly one incident per key, every alert
stored once, one acknowledgement that is not a redelivery per body, the same view on both.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from service.domain.lifecycle import State
from service.store.base import StoreUnavailable
from service.store.dialect import POSTGRES
from service.store.postgres import PostgresStore
from service.store.schema import migrations
from tests.adapters.pg_server import PgServer, shared
from tests.adapters.test_store_contract import (
    RULES,
    T0,
    body,
    entry,
    message,
    move,
    open_incident,
)
from tests.conftest import alert, notification
from tests.procs import Responder, http, start_responder, stop, wait_until

TOKEN, READ = "replica-webhook-token-0123", "replica-read-token-0123"
KEYS = 12
ALERTS_PER_KEY = 5
COPIES = 3  # each body is posted this many times, alternating replicas


@pytest.fixture(scope="session")
def pg() -> PgServer:
    return shared()


def _bodies() -> list[dict[str, Any]]:
    bodies = []
    for key, n in itertools.product(range(KEYS), range(ALERTS_PER_KEY)):
        labels = {"error_signature": f"sig-{key}", "job_kind": f"kind-{n % 2}"}
        bodies.append(notification(
            alert(f"fp-{key}-{n}", starts=f"2026-02-26T10:{n:02d}:00Z", **labels),
            group_key=f'{{}}:{{alertname="A",sig="{key}",n="{n}"}}'))
    # One notification carrying two keys at once, in both orders (lock order must not matter).
    for order, group in (((0, 1), "a"), ((1, 0), "b")):
        pair = [alert(f"fp-pair-{k}-{group}", error_signature=f"sig-{k}", job_kind="kind-0")
                for k in order]
        bodies.append(notification(*pair, group_key=f"{{}}:{{pair={group}}}"))
    return bodies


@pytest.mark.e2e
def test_two_replicas_one_incident_per_key_no_duplicate_alerts(tmp_path: Path,
                                                                 pg: PgServer) -> None:
    env = {"AISLOT_AUTH__WEBHOOK_TOKEN": TOKEN, "AISLOT_AUTH__READ_TOKEN": READ,
           "AISLOT_STORE__BACKEND": "postgres",
           "AISLOT_STORE__POSTGRES_DSN": pg.create_database()}
    dirs = [tmp_path / "a", tmp_path / "b"]
    for directory in dirs:
        directory.mkdir()
    with ThreadPoolExecutor(max_workers=2) as pool:
        replicas: list[Responder] = list(pool.map(lambda d: start_responder(d, env), dirs))
    try:
        bodies = _bodies()
        posts = [(replicas[(i + copy) % 2], i) for copy in range(COPIES)
                 for i in range(len(bodies))]

        def post(job: tuple[Responder, int]) -> tuple[int, int, Any]:
            target, index = job
            status, ack = http("POST", f"{target.base}/webhook", bodies[index], TOKEN)
            return index, status, ack

        with ThreadPoolExecutor(max_workers=24) as pool:
            answers = list(pool.map(post, posts))
        assert all(status == 200 for _, status, _ in answers), [
            (i, s, a) for i, s, a in answers if s != 200][:3]
        first_acks = Counter(i for i, _, ack in answers if not ack["redelivery"])
        assert first_acks == Counter(range(len(bodies)))  # each body acted on exactly once

        listings = [http("GET", f"{r.base}/incidents?limit=500", token=READ)[1]["incidents"]
                    for r in replicas]
        # The same incidents on both (their states move on: with no cluster here, the leader
        # investigates each, blind, and tells on-call).
        assert [(s["id"], s["signature"]) for s in listings[0]] == [
            (s["id"], s["signature"]) for s in listings[1]]
        by_signature = Counter(s["signature"] for s in listings[0])
        assert by_signature == Counter(f"sig-{k}" for k in range(KEYS))  # one per key

        for summary in listings[0]:
            _, incident = http("GET", f"{replicas[1].base}/incidents/{summary['id']}",
                               token=READ)
            deliveries = [(a["fingerprint"], a["status"], a["starts_at"])
                          for a in incident["alerts"]]
            assert len(deliveries) == len(set(deliveries)), incident["alerts"]
            key = int(summary["signature"].split("-")[1])
            expected = ALERTS_PER_KEY + (2 if key in (0, 1) else 0)
            assert incident["counters"]["alerts_firing"] == len(deliveries) == expected
            kinds = Counter(e["kind"] for e in incident["timeline"])
            assert kinds["opened"] == 1 and kinds["alert_attached"] == expected - 1
            assert sorted(incident["job_kinds"]) == ["kind-0", "kind-1"]
        migrated = [line for r in replicas for line in r.log().splitlines()
                    if "store_migrated" in line]
        # Each migration once, by one replica.
        assert len(migrated) == len(migrations(POSTGRES))
        assert all("postgres" in line for line in migrated)
        for replica in replicas:
            assert "Traceback" not in replica.log(), replica.log()[-3000:]
    finally:
        for replica in replicas:
            stop(replica.proc)


@pytest.fixture
async def pg_dsn(pg: PgServer) -> str:
    return await pg.acreate_database()


async def _replicas(dsn: str, n: int, **kw: Any) -> list[PostgresStore]:
    stores = [PostgresStore(dsn, rules=RULES, related_issue="205", **kw) for _ in range(n)]
    await asyncio.gather(*(s.open() for s in stores))  # migrations race: one wins, all agree
    return stores


async def test_replicas_share_dedup_and_open_one_incident_per_key(pg_dsn: str) -> None:
    stores = await _replicas(pg_dsn, 3)
    try:
        same = body(alert("fp-same"))
        distinct = [body(alert(f"fp-{i}", error_signature=f"sig-{i % 4}"),
                         group_key=f"{{}}:{{n={i}}}") for i in range(40)]
        calls = [stores[i % 3].ingest(*same, T0) for i in range(30)]
        calls += [stores[i % 3].ingest(p, r, T0) for i, (p, r) in enumerate(distinct)]
        results = await asyncio.gather(*calls)
        assert sum(not r.redelivery for r in results[:30]) == 1
        assert await stores[0].count_by_state() == {"open": 5}
        listing = await stores[1].list_incidents(None, 10)
        assert sorted(s.signature for s in listing) == ["cache", "sig-0", "sig-1", "sig-2",
                                                        "sig-3"]
        for summary in listing:
            incident = await stores[2].get_incident(summary.id)
            assert incident is not None
            assert len(incident.alerts) == incident.counters.alerts_firing
            assert [e.kind for e in incident.timeline].count("opened") == 1
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_replicas_claim_disjoint_deliveries_and_respect_the_lease(pg_dsn: str) -> None:
    a, b = await _replicas(pg_dsn, 2, claim_lease_s=60.0)
    try:
        incident_id = await open_incident(a)
        for i in range(20):
            await a.enqueue(message(incident_id, f"k{i}"), ["chat"], T0)
        first, second = await asyncio.gather(a.claim_due(T0, 15), b.claim_due(T0, 15))
        ids = [d.id for d in first] + [d.id for d in second]
        assert len(ids) == len(set(ids)) == 20
        assert await b.claim_due(T0 + timedelta(seconds=59), 50) == []  # in flight elsewhere
        await a.finish_delivery(first[0].id, delivered=True, now=T0)
        expired = await b.claim_due(T0 + timedelta(seconds=60), 50)  # a crashed replica's
        assert len(expired) == 19 and all(d.attempts == 2 for d in expired)
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_a_closing_replica_gives_its_claims_back(pg_dsn: str) -> None:
    a, b = await _replicas(pg_dsn, 2, claim_lease_s=300.0)
    try:
        incident_id = await open_incident(a)
        await a.enqueue(message(incident_id), ["chat", "pager"], T0)
        claimed = await a.claim_due(T0, 1)
        assert [d.attempts for d in await b.claim_due(T0, 10)] == [1]  # the other one
        await a.close()  # graceful stop mid-send: due again at once, not after the lease
        resumed = await b.claim_due(T0, 10)
        assert [(d.id, d.attempts) for d in resumed] == [(claimed[0].id, 2)]
    finally:
        await asyncio.gather(a.close(), b.close())


async def test_migrations_are_recorded_once(pg_dsn: str) -> None:
    stores = await _replicas(pg_dsn, 4)
    await asyncio.gather(*(s.close() for s in stores))
    conn = await asyncpg.connect(pg_dsn)
    try:
        versions = [r["version"] for r in await conn.fetch(
            "SELECT version FROM schema_version ORDER BY version")]
    finally:
        await conn.close()
    assert versions == [number for number, _ in migrations(POSTGRES)]


async def test_unreachable_or_locked_database_is_store_unavailable(pg: PgServer,
                                                                    pg_dsn: str) -> None:
    closed_port = pg_dsn.replace(f":{pg.port}/", ":1/")
    with pytest.raises(StoreUnavailable):
        await PostgresStore(closed_port, rules=RULES, timeout_s=1.0).open()
    unopened = PostgresStore(pg_dsn, rules=RULES)
    with pytest.raises(StoreUnavailable):
        await unopened.ping()

    store = PostgresStore(pg_dsn, rules=RULES, timeout_s=0.5)
    await store.open()
    blocker = await asyncpg.connect(pg_dsn)
    try:
        incident_id = await open_incident(store)
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("SELECT 1 FROM incidents WHERE id = $1 FOR UPDATE", incident_id)
        with pytest.raises(StoreUnavailable):
            await move(store, incident_id, State.INVESTIGATING, entry("blocked"))
        await tx.rollback()
        moved = await move(store, incident_id, State.INVESTIGATING, entry("free"))
        assert [e.kind for e in moved.timeline] == ["opened", "free"]
        # The server drops every connection: the store retries on fresh ones.
        await blocker.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                              " WHERE datname = current_database() AND pid <> pg_backend_pid()")
        await store.ping()
        moved = await move(store, incident_id, State.RESOLVED, entry("after_reconnect"))
        assert moved.state is State.RESOLVED
    finally:
        await blocker.close()
        await store.close()


@pytest.mark.e2e
async def test_an_alert_at_a_non_leader_is_investigated_at_once(tmp_path: Path,
                                                                pg: PgServer) -> None:
    """The leader hears of the other replica's incident at its commit (LISTEN/NOTIFY): the
    evidence comes long before the next watch pass, which is an hour away here."""
    from simulator.server import Simulator
    from tests.adapters.fakes.webhook import FakeWebhook

    hook = FakeWebhook()
    await hook.start()
    sim = Simulator("cache-persists")
    await sim.start("127.0.0.1", 0)
    kubeconfig = sim.write_kubeconfig(tmp_path / "kubeconfig")
    env = {"AISLOT_AUTH__WEBHOOK_TOKEN": TOKEN, "AISLOT_AUTH__READ_TOKEN": READ,
           "AISLOT_STORE__BACKEND": "postgres",
           "AISLOT_STORE__POSTGRES_DSN": await pg.acreate_database(),
           "AISLOT_KUBE__KUBECONFIG": str(kubeconfig),
           "AISLOT_ESCALATION__MONITOR_INTERVAL_S": "3600",
           "AISLOT_SINKS__HOOK__TYPE": "webhook", "AISLOT_SINKS__HOOK__URL": hook.hook_url}
    replicas: list[Responder] = []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            replicas.append(await asyncio.to_thread(start_responder, tmp_path / name, env))

        def leaders() -> list[Responder]:
            return [r for r in replicas if "runbook_leader" in r.log()]

        await asyncio.to_thread(wait_until, lambda: len(leaders()) == 1, 30.0)
        follower = next(r for r in replicas if r not in leaders())
        await asyncio.sleep(1.0)  # the leader's first watch pass (nothing open) is over
        status, ack = await asyncio.to_thread(
            http, "POST", f"{follower.base}/webhook",
            notification(alert("fp-follower", error_signature="cache")), TOKEN)
        assert status == 200 and len(ack["incidents"]) == 1
        incident_url = f"{follower.base}/incidents/{ack['incidents'][0]}"

        def investigated() -> bool:
            incident = http("GET", incident_url, token=READ)[1]
            return any(e["kind"] == "evidence_collected" for e in incident["timeline"])

        await asyncio.to_thread(wait_until, investigated, 30.0)
        assert "evidence_collected" in leaders()[0].log()
        assert "evidence_collected" not in follower.log()  # it never leads the runbook
        # One sender: only the leader works the outbox, and the bundle arrives once.
        await asyncio.to_thread(wait_until, lambda: hook.deliveries, 30.0)
        assert "outbox_started" in leaders()[0].log()
        assert "outbox_started" not in follower.log()
        assert "evidence" in [d["message"]["event"] for d in hook.deliveries]
        assert len(hook.keys) == len(set(hook.keys))  # nothing sent twice
    finally:
        for replica in replicas:
            stop(replica.proc)
        await sim.stop()
        await hook.close()


async def test_the_leader_hears_every_incident_another_replica_commits(pg_dsn: str) -> None:
    leader, other = await _replicas(pg_dsn, 2)
    heard: list[str] = []
    try:
        assert await leader.lead() and not await other.lead()
        await leader.follow_changes(heard.extend)
        many = [alert(f"fp-many-{i}", error_signature=f"sig-many-{i}") for i in range(400)]
        result = await other.ingest(*body(*many, group_key="{}:{many}"), T0)
        assert len(result.incidents) == 400  # over 8000 bytes of ids: several notices
        redelivered = await other.ingest(*body(*many, group_key="{}:{many}"), T0)
        assert redelivered.redelivery

        async def all_heard() -> None:
            while len(heard) < 400:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(all_heard(), 10.0)
        await asyncio.sleep(0.2)  # a redelivery announces nothing
        assert heard == result.incidents
    finally:
        await asyncio.gather(leader.close(), other.close())
