"""Issue 12, finding 3: payload integers bounded by the schema. ``truncatedAlerts`` of
9223372036854775808 was a 500 (SQLite integer overflow) that Alertmanager retried forever, after
``aislot_truncated_alerts_total`` had already grown by it; ``false`` was taken as 0."""

from __future__ import annotations

import json
from typing import Any

import pytest

from service.domain.alerts import MAX_COUNT
from tests.conftest import WEBHOOK_TOKEN, AppStarter, alert, notification


async def _post(client: Any, body: bytes) -> tuple[int, dict[str, Any]]:
    async with client.http.post(f"{client.base}/webhook", data=body, headers={
            "Authorization": f"Bearer {WEBHOOK_TOKEN}",
            "Content-Type": "application/json"}) as r:
        return r.status, await r.json()


async def _truncated_total(client: Any) -> float:
    async with client.http.get(f"{client.base}/metrics") as r:
        text = await r.text()
    line = next(x for x in text.splitlines() if x.startswith("aislot_truncated_alerts_total"))
    return float(line.split()[1])


@pytest.mark.parametrize("value", ["9223372036854775808", "18446744073709551616",
                                   str(MAX_COUNT + 1), "-1", "false", "true", "1.5", "1e300",
                                   '"12"', "null", "[]"])
async def test_out_of_range_or_non_integer_counts_are_a_400_naming_the_field(
    start_app: AppStarter, settings, value: str
) -> None:
    client = await start_app(settings)
    body = json.dumps(notification()).replace('"truncatedAlerts": 0',
                                               f'"truncatedAlerts": {value}')
    assert f'"truncatedAlerts": {value}' in body
    status, err = await _post(client, body.encode())
    assert status == 400, (value, err)
    assert err["error"]["field"] == "truncatedAlerts"
    assert await _truncated_total(client) == 0
    _, listing = await client.get("/incidents")
    assert listing["incidents"] == []


@pytest.mark.parametrize(("value", "count"), [("7", 7), ("7.0", 7), ("1e3", 1000)])
async def test_a_json_integer_is_a_count(start_app: AppStarter, settings, value: str,
                                         count: int) -> None:
    """JSON Schema's integer is a number without a fraction: 7.0 is one, as 7 is."""
    client = await start_app(settings)
    body = json.dumps(notification()).replace('"truncatedAlerts": 0',
                                               f'"truncatedAlerts": {value}')
    assert (await _post(client, body.encode()))[0] == 200
    assert await _truncated_total(client) == count


async def test_the_largest_count_is_stored_and_counted_once(start_app: AppStarter,
                                                             settings) -> None:
    client = await start_app(settings)
    body = notification(alert("fp-big"))
    body["truncatedAlerts"] = MAX_COUNT
    raw = json.dumps(body).encode()
    assert (await _post(client, raw))[0] == 200
    redelivered = await _post(client, raw)
    assert redelivered[0] == 200 and redelivered[1]["redelivery"] is True
    assert await _truncated_total(client) == MAX_COUNT
