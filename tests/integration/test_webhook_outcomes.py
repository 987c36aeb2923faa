"""Issue 12, finding 5: every ``/webhook`` outcome is logged once and counted by status in
``aislot_webhooks_total``, and body sizes go to ``aislot_webhook_body_bytes``. On main a 413
(a group over ``server.max_body_bytes``, which Alertmanager drops as unrecoverable) and a 500
were neither logged as rejected nor counted: the responder said nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from service.api.keys import STORE
from service.store.base import StoreUnavailable
from tests.conftest import WEBHOOK_TOKEN, AppStarter, alert, make_settings, notification

LIMIT = 4096


async def _post(client: Any, data: bytes, ctype: str = "application/json",
                token: str = WEBHOOK_TOKEN) -> int:
    async with client.http.post(f"{client.base}/webhook", data=data, headers={
            "Authorization": f"Bearer {token}", "Content-Type": ctype}) as r:
        await r.read()
        return r.status


async def _metrics(client: Any) -> dict[str, float]:
    async with client.http.get(f"{client.base}/metrics") as r:
        text = await r.text()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(("aislot_webhooks_total", "aislot_webhook_body_bytes"))}


def _big_group(size: int) -> bytes:
    """A real-looking notification of many alerts, just over ``size`` bytes."""
    alerts, body = [], b""
    while len(body) <= size:
        alerts.append(alert(f"fp-{len(alerts)}", job=f"kaniko-{len(alerts)}"))
        body = json.dumps(notification(*alerts)).encode()
    return body


async def test_every_outcome_is_counted_by_status_and_logged_once(
    start_app: AppStarter, tmp_path: Path
) -> None:
    client = await start_app(make_settings(tmp_path, server={"max_body_bytes": LIMIT}))
    good = json.dumps(notification()).encode()
    big = _big_group(LIMIT)
    store = client.app[STORE]
    real_ingest = store.ingest

    async def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    async def unavailable(*args: object, **kwargs: object) -> None:
        raise StoreUnavailable("disk full")

    with capture_logs() as logs:
        assert await _post(client, good) == 200
        assert await _post(client, good) == 200                    # redelivery
        assert await _post(client, good, token="w" * 20) == 401
        assert await _post(client, b"{", ) == 400
        assert await _post(client, good, ctype="text/plain") == 415
        assert await _post(client, big) == 413
        store.ingest = unavailable
        assert await _post(client, good) == 503
        store.ingest = crash
        assert await _post(client, good) == 500
        store.ingest = real_ingest
    counts = await _metrics(client)
    for outcome in ("stored", "redelivery", "rejected_401", "rejected_400", "rejected_415",
                    "rejected_413", "store_unavailable", "failed"):
        assert counts[f'aislot_webhooks_total{{outcome="{outcome}"}}'] == 1, outcome
    # One line per request, whatever its outcome; the 500 is not logged twice.
    outcomes = [e for e in logs if e["event"].startswith("webhook_")]
    assert len(outcomes) == 8, [e["event"] for e in outcomes]
    assert not [e for e in logs if e["event"] == "request_failed"]
    (too_big,) = [e for e in logs if e.get("status") == 413]
    assert too_big["event"] == "webhook_rejected" and too_big["log_level"] == "error"
    assert too_big["body_bytes"] == len(big) and too_big["limit_bytes"] == LIMIT
    (failed,) = [e for e in logs if e["event"] == "webhook_failed"]
    assert failed["log_level"] == "error" and failed["exc_info"]
    # Two stored bodies and the refused one: the operator sees a group nearing the limit.
    assert counts["aislot_webhook_body_bytes_count"] == 5
    assert counts['aislot_webhook_body_bytes_bucket{le="+Inf"}'] - counts[
        f'aislot_webhook_body_bytes_bucket{{le="{float(LIMIT)}"}}'] == 1


async def test_a_413_names_the_size_and_the_limit(start_app: AppStarter, tmp_path: Path) -> None:
    client = await start_app(make_settings(tmp_path, server={"max_body_bytes": LIMIT}))
    big = _big_group(LIMIT)
    async with client.http.post(f"{client.base}/webhook", data=big, headers={
            "Authorization": f"Bearer {WEBHOOK_TOKEN}",
            "Content-Type": "application/json"}) as r:
        assert r.status == 413
        error = (await r.json())["error"]
    assert str(len(big)) in error["message"] and str(LIMIT) in error["message"]
    assert "server.max_body_bytes" in error["message"]
