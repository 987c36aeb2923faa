"""Every acked alert survives a SIGKILL right after the acks (the service as a subprocess)."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import alert, notification
from tests.procs import http, start_responder, stop

TOKEN, READ = "durable-webhook-token-0123", "durable-read-token-0123"
ENV = {"AISLOT_AUTH__WEBHOOK_TOKEN": TOKEN, "AISLOT_AUTH__READ_TOKEN": READ}


def test_acked_alerts_survive_sigkill(tmp_path: Path) -> None:
    svc = start_responder(tmp_path, ENV)
    bodies = [
        notification(alert(f"fp-{i}", error_signature=f"sig-{i % 40}",
                           starts=f"2026-02-26T10:{i % 60:02d}:00Z"),
                     group_key=f'{{}}:{{alertname="A{i}"}}')
        for i in range(300)
    ]
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda b: http("POST", f"{svc.base}/webhook", b, TOKEN), bodies))
    svc.proc.send_signal(signal.SIGKILL)  # right after the last ack, no graceful shutdown
    svc.proc.wait()
    acked = {b["alerts"][0]["fingerprint"]: ack["incidents"][0]
             for b, (status, ack) in zip(bodies, answers, strict=True) if status == 200}
    assert len(acked) == len(bodies)

    again = start_responder(tmp_path, ENV, port=int(svc.base.rsplit(":", 1)[1]))
    try:
        _, listing = http("GET", f"{again.base}/incidents?limit=500", token=READ)
        assert len(listing["incidents"]) == 40
        found: dict[str, str] = {}
        for summary in listing["incidents"]:
            _, inc = http("GET", f"{again.base}/incidents/{summary['id']}", token=READ)
            found.update({a["fingerprint"]: inc["id"] for a in inc["alerts"]})
        assert found == acked
        # Redelivery after the restart changes nothing.
        status, ack = http("POST", f"{again.base}/webhook", bodies[0], TOKEN)
        assert status == 200 and ack["redelivery"] is True
    finally:
        stop(again.proc)


def test_sigterm_drains_in_flight_requests_and_exits_cleanly(tmp_path: Path) -> None:
    svc = start_responder(tmp_path, ENV)
    bodies = [notification(alert(f"term-{i}", error_signature=f"t-{i % 7}"),
                           group_key=f"term-{i}") for i in range(400)]

    def post(body: dict[str, object]) -> int:
        try:
            return http("POST", f"{svc.base}/webhook", body, TOKEN)[0]
        except OSError:
            # Refused, or reset while still in the accept queue when the listener closed:
            # unanswered, so Alertmanager retries it. Never a 5xx, never an unstored ack.
            return -1

    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(post, b) for b in bodies]
        while sum(f.done() for f in futures) < 50:
            pass
        svc.proc.send_signal(signal.SIGTERM)
        statuses = [f.result() for f in futures]
    assert svc.proc.wait(30) == 0
    assert set(statuses) <= {200, -1} and statuses.count(200) >= 50
    acked = [b["alerts"][0]["fingerprint"] for b, s in zip(bodies, statuses, strict=True)
             if s == 200]
    again = start_responder(tmp_path, ENV)
    try:
        stored: set[str] = set()
        _, listing = http("GET", f"{again.base}/incidents?limit=500", token=READ)
        for summary in listing["incidents"]:
            _, inc = http("GET", f"{again.base}/incidents/{summary['id']}", token=READ)
            stored.update(a["fingerprint"] for a in inc["alerts"])
        assert set(acked) <= stored
    finally:
        stop(again.proc)
