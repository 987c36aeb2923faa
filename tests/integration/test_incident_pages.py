"""Issue 12, finding 10: ``GET /incidents`` pages past the newest 500 with ``before=<cursor>``
(keyset pagination; the cursor is the ``next_before`` of the previous page). On main there was
no way past the newest ``limit`` (at most 500) incidents."""

from __future__ import annotations

import pytest

from tests.conftest import AppStarter, alert, notification


async def test_pages_walk_every_incident_once(start_app: AppStarter, settings) -> None:
    client = await start_app(settings)
    opened = []
    for i in range(7):
        _, ack = await client.webhook(notification(alert(f"fp{i}", error_signature=f"sig{i}"),
                                                   group_key=f"g{i}"))
        opened += ack["incidents"]
    seen, query, pages = [], "", 0
    while True:
        status, page = await client.get(f"/incidents?limit=3{query}")
        assert status == 200
        seen += [i["id"] for i in page["incidents"]]
        pages += 1
        if page["next_before"] is None:
            break
        query = f"&before={page['next_before']}"
    assert pages == 3 and seen == list(reversed(opened))
    _, exact = await client.get("/incidents?limit=7")
    assert len(exact["incidents"]) == 7 and exact["next_before"] is None


@pytest.mark.parametrize("before", ["inc-20260226-100000-ffffff", "a b", "x" * 200, "%00", ""])
async def test_a_cursor_naming_no_incident_is_a_404_and_a_malformed_one_a_400(
    start_app: AppStarter, settings, before: str
) -> None:
    client = await start_app(settings)
    await client.webhook(notification())
    status, err = await client.get(f"/incidents?before={before}")
    assert status == (404 if before.startswith("inc-") else 400)
    assert err["error"]["field"] == "before"
