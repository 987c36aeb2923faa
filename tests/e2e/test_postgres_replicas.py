"""Two ``aislot-responder serve`` replicas share one PostgreSQL database (a real server).

Both start at once (their migrations race), then receive the same notifications concurrently,
each notification split across both replicas and delivered more than once: exactly one incident
per key, every alert stored once, one acknowledgement that is not a redelivery per body, and
both replicas show the same incidents.
"""

from __future__ import annotations

import itertools
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.adapters.pg_server import PgServer, shared
from tests.conftest import alert, notification
from tests.procs import Responder, http, start_responder, stop

pytestmark = pytest.mark.e2e

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
        assert listings[0] == listings[1]
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
        assert len(migrated) == 3 and all("postgres" in line for line in migrated)  # once
        for replica in replicas:
            assert "Traceback" not in replica.log(), replica.log()[-3000:]
    finally:
        for replica in replicas:
            stop(replica.proc)
