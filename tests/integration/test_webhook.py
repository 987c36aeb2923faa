"""``POST /webhook`` through the running app: auth, validation, dedup, attach, resolve."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import aiohttp

from service.api.keys import STORE
from service.domain.incidents import TimelineEntry
from service.domain.lifecycle import State
from service.store.base import IncidentUpdate, StoreUnavailable
from tests.conftest import READ_TOKEN, WEBHOOK_TOKEN, AppStarter, alert, make_settings, notification
from tests.waiting import until


async def test_firing_alert_opens_an_incident_visible_in_the_api(
    start_app: AppStarter, settings
) -> None:
    client = await start_app(settings)
    status, ack = await client.webhook(notification(alert(job_kind="kaniko")))
    assert status == 200 and ack["status"] == "stored"
    (incident_id,) = ack["incidents"]
    status, incident = await client.get(f"/incidents/{incident_id}")
    assert status == 200
    # The runbook may already have started on it (it runs alongside the intake).
    assert incident["state"] in {"open", "investigating"}
    assert (incident["namespace"], incident["signature"]) == ("codex-k8s-prod", "cache")
    assert incident["job_kinds"] == ["kaniko"]
    assert incident["first_failure_at"] == "2026-02-26T10:00:00Z"
    assert [a["fingerprint"] for a in incident["alerts"]] == ["fp1"]
    assert _intake(incident) == ["opened"]


def _intake(incident: dict) -> list[str]:  # type: ignore[type-arg]
    """The timeline's intake lines (the runbook adds its own as it investigates)."""
    return [e["kind"] for e in incident["timeline"]
            if e["kind"] == "opened" or e["kind"].startswith("alert_")]


async def test_same_notification_50_times_concurrently_is_one_incident_one_entry(
    start_app: AppStarter, settings
) -> None:
    client = await start_app(settings)
    body = notification(alert())
    answers = await asyncio.gather(*[client.webhook(body) for _ in range(50)])
    assert {status for status, _ in answers} == {200}
    assert sum(1 for _, ack in answers if not ack["redelivery"]) == 1
    _, listing = await client.get("/incidents")
    assert len(listing["incidents"]) == 1
    _, incident = await client.get(f"/incidents/{listing['incidents'][0]['id']}")
    assert _intake(incident) == ["opened"]
    assert incident["counters"]["alerts_firing"] == 1


async def test_renotification_attaches_and_mixed_group_handles_each_alert(
    start_app: AppStarter, settings
) -> None:
    client = await start_app(settings)
    _, first = await client.webhook(notification(alert("fp1")))
    incident_id = first["incidents"][0]
    # Same key, another alert (a new failure): attaches. Same group also resolves fp1.
    status, ack = await client.webhook(notification(
        alert("fp2", starts="2026-02-26T09:50:00Z", job_kind="mirror"),
        alert("fp1", status="resolved"),
    ))
    assert status == 200
    assert [(a["action"], a["incident_id"]) for a in ack["alerts"]] == [
        ("attach", incident_id), ("resolve", incident_id)]
    _, incident = await client.get(f"/incidents/{incident_id}")
    assert _intake(incident) == ["opened", "alert_attached", "alert_resolved"]
    assert incident["counters"] == {"alerts_firing": 2, "alerts_resolved": 1}
    assert incident["first_failure_at"] == "2026-02-26T09:50:00Z"
    assert incident["state"] != "resolved"  # Alertmanager's resolve alone does not close it


async def test_new_firing_after_resolution_opens_a_second_incident(
    start_app: AppStarter, settings, clock
) -> None:
    client = await start_app(settings)
    _, first = await client.webhook(notification(alert("fp1")))
    store = client.app[STORE]
    incident_id = first["incidents"][0]
    # No cluster here: the runbook investigates (blind) and tells on-call; then it resolves.

    async def investigated() -> bool:
        incident = await store.get_incident(incident_id)
        return incident is not None and bool(incident.evidence)

    await until(investigated, "the incident was not investigated")
    await store.update(incident_id, IncidentUpdate(state=State.RESOLVED, entries=[TimelineEntry(
        at=clock.now(), kind="resolved", message="test")]), clock.now())
    _, second = await client.webhook(notification(alert("fp1", starts="2026-02-26T12:00:00Z")))
    assert second["incidents"] and second["incidents"] != [incident_id]
    _, listing = await client.get("/incidents")
    states = [i["state"] for i in listing["incidents"]]
    assert states[1] == "resolved" and states[0] in {"open", "investigating"}
    _, done = await client.get("/incidents?state=resolved")
    assert [i["id"] for i in done["incidents"]] == [incident_id]


async def test_credentials(start_app: AppStarter, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, auth={"webhook_basic_user": "am",
                                             "webhook_basic_password": "s3cret-0123456789"})
    client = await start_app(settings)
    body = notification()
    assert (await client.webhook(body, token="wrong"))[0] == 401
    async with client.http.post(f"{client.base}/webhook", json=body) as r:
        assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    for user, password, expected in (("am", "s3cret-0123456789", 200), ("am", "nope", 401),
                                     ("x", "s3cret-0123456789", 401)):
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        async with client.http.post(f"{client.base}/webhook", json=body,
                                    headers={"Authorization": f"Basic {auth}"}) as r:
            assert r.status == expected, (user, password)
    assert (await client.webhook(body, token=WEBHOOK_TOKEN))[0] == 200
    _, listing = await client.get("/incidents")
    assert len(listing["incidents"]) == 1


async def test_bad_input_is_a_4xx_naming_the_field(start_app: AppStarter, tmp_path: Path) -> None:
    client = await start_app(make_settings(tmp_path, server={"max_body_bytes": 4096}))
    auth = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}

    async def post(data: bytes, ctype: str = "application/json") -> tuple[int, dict]:
        async with client.http.post(f"{client.base}/webhook", data=data,
                                    headers={**auth, "Content-Type": ctype}) as r:
            return r.status, await r.json()

    status, err = await post(b"{not json")
    assert status == 400 and "invalid Alertmanager payload" in err["error"]["message"]
    broken = notification(alert())
    broken["alerts"][0]["startsAt"] = "yesterday"
    status, err = await post(json.dumps(broken).encode())
    assert status == 400 and err["error"]["field"] == "alerts.0.startsAt"
    del broken["version"]
    status, err = await post(json.dumps(broken).encode())
    assert status == 400 and err["error"]["field"] == "version"
    status, err = await post(b"\xff\xfe{}")
    assert status == 400 and "UTF-8" in err["error"]["message"]
    status, err = await post(json.dumps(notification()).encode(), "text/plain")
    assert status == 415
    status, err = await post(b"[" + b" " * 5000 + b"]")
    assert status == 413
    _, listing = await client.get("/incidents")
    assert listing["incidents"] == []


async def test_store_that_cannot_commit_answers_503(start_app: AppStarter, settings) -> None:
    client = await start_app(settings)
    store = client.app[STORE]

    async def broken(*args: object, **kwargs: object) -> None:
        raise StoreUnavailable("disk full")

    store.ingest = broken  # the failure a full disk or a locked database gives
    async with client.http.post(f"{client.base}/webhook", json=notification(),
                                headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"}) as r:
        assert r.status == 503 and r.headers["Retry-After"] == "5"
        assert "retry" in (await r.json())["error"]["message"]


async def test_read_api_auth_limits_and_errors(start_app: AppStarter, settings) -> None:
    client = await start_app(settings)
    assert (await client.get("/incidents", token=None))[0] == 401
    assert (await client.get("/incidents", token=WEBHOOK_TOKEN))[0] == 401
    status, err = await client.get("/incidents/inc-nope")
    assert status == 404 and "inc-nope" in err["error"]["message"]
    assert (await client.get("/incidents?limit=0"))[0] == 400
    assert (await client.get("/incidents?limit=abc"))[0] == 400
    status, err = await client.get("/incidents?state=bogus")
    assert status == 400 and err["error"]["field"] == "state"
    for i in range(3):
        await client.webhook(notification(alert(f"fp{i}", error_signature=f"sig{i}")))
    _, listing = await client.get("/incidents?limit=2")
    assert [i["signature"] for i in listing["incidents"]] == ["sig2", "sig1"]


async def test_html_view_for_browsers(start_app: AppStarter, settings) -> None:
    client = await start_app(settings)
    _, ack = await client.webhook(notification(alert(summary="<script>")))
    async with client.http.get(f"{client.base}/incidents/{ack['incidents'][0]}", headers={
        "Authorization": f"Bearer {READ_TOKEN}", "Accept": "text/html,*/*"}) as r:
        page = await r.text()
        assert r.status == 200 and r.content_type == "text/html"
    assert ack["incidents"][0] in page and "<script>" not in page


async def test_ops_endpoints(start_app: AppStarter, settings) -> None:
    client = await start_app(settings)
    await client.webhook(notification())
    assert (await client.get("/healthz", token=None)) == (200, {"status": "ok"})
    assert (await client.get("/readyz", token=None))[0] == 200
    async with client.http.get(f"{client.base}/metrics") as r:
        text = await r.text()
    assert 'aislot_webhooks_total{outcome="stored"} 1.0' in text
    active = [line for line in text.splitlines() if line.startswith("aislot_incidents{")
              and line.endswith(" 1.0")]
    assert len(active) == 1 and 'state="resolved"' not in active[0]
    status, doc = await client.get("/openapi.json", token=None)
    assert status == 200 and "/webhook" in doc["paths"]
    async with client.http.get(f"{client.base}/nope") as r:
        assert r.status == 404 and (await r.json())["error"]["status"] == 404
    assert isinstance(client.http, aiohttp.ClientSession)


async def test_both_cache_alerts_of_the_catalog_are_one_incident(
    start_app: AppStarter, settings
) -> None:
    client = await start_app(settings)
    burst = alert("fp-burst", alertname="AI_SLOT_BUILD_FAILURE_BURST", job_kind="kaniko")
    del burst["labels"]["error_signature"]
    persistent = alert("fp-mu", job_kind="mirror")
    del persistent["labels"]["error_signature"]
    _, first = await client.webhook(notification(burst, group_key="g1"))
    _, second = await client.webhook(notification(persistent, group_key="g2"))
    assert first["incidents"] == second["incidents"]
    _, incident = await client.get(f"/incidents/{first['incidents'][0]}")
    assert incident["signature"] == "cache"
    assert incident["job_kinds"] == ["kaniko", "mirror"]
