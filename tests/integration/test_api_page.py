"""The incident routes over HTTP: Accept negotiation, the security headers on every answer,
and the grants that messages' links carry (one incident, read or approve, until expiry)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from multidict import CIMultiDict
from pydantic import SecretStr
from structlog.testing import capture_logs

from service.api.grants import GrantSigner
from service.runtime.clock import ManualClock
from tests.conftest import (
    OWNER_TOKEN,
    READ_TOKEN,
    AppStarter,
    Client,
    alert,
    make_settings,
    notification,
)
from tests.runbook_harness import harness

LINK_KEY = "page-test-link-key-" + "0123456789abcdef" * 2
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def _settings(tmp_path: Path, **sections: dict[str, Any]):  # type: ignore[no-untyped-def]
    return make_settings(tmp_path, auth={"link_key": LINK_KEY, "link_ttl_s": 3600}, **sections)


async def _get(client: Client, path: str, *, accept: str | None = None,
               token: str | None = READ_TOKEN) -> tuple[int, CIMultiDict[str], str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if accept is not None:
        headers["Accept"] = accept
    async with client.http.get(f"{client.base}{path}", headers=headers,
                               allow_redirects=False) as r:
        return r.status, r.headers.copy(), await r.text()


async def _incident(client: Client, fingerprint: str = "fp1", **labels: str) -> str:
    status, ack = await client.webhook(notification(alert(fingerprint, **labels)))
    assert status == 200, ack
    incident_id: str = ack["incidents"][0]
    return incident_id


def _assert_secure(headers: Mapping[str, str], *, no_store: bool = True) -> None:
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "script-src" not in csp and "unsafe-inline" not in csp  # no script runs at all
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    if no_store:
        assert headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("accept", "kind"), [
    (None, "application/json"),
    ("*/*", "application/json"),
    ("application/json", "application/json"),
    (BROWSER, "text/html"),
    ("text/*", "text/html"),
    ("text/html;q=0.5, application/json;q=0.9", "application/json"),
    ("application/json;q=0.2, text/html", "text/html"),
    ("text/html;q=0, */*;q=0.1", "application/json"),
])
async def test_accept_picks_json_or_html_by_q_value(
        start_app: AppStarter, tmp_path: Path, accept: str | None, kind: str) -> None:
    client = await start_app(_settings(tmp_path))
    incident_id = await _incident(client)
    for path in (f"/incidents/{incident_id}", "/incidents"):
        status, headers, body = await _get(client, path, accept=accept)
        assert status == 200, body
        assert headers["Content-Type"].startswith(kind), (path, headers["Content-Type"])
        assert headers["Vary"] == "Accept"
        _assert_secure(headers)


@pytest.mark.parametrize(("accept", "status"), [
    ("image/png", 406), ("text/html;q=0", 406), ("text/plain, image/*", 406),
    ("this is not;;;a media range", 400),
])
async def test_accept_that_allows_neither_is_a_client_error(
        start_app: AppStarter, tmp_path: Path, accept: str, status: int) -> None:
    client = await start_app(_settings(tmp_path))
    incident_id = await _incident(client)
    got, headers, body = await _get(client, f"/incidents/{incident_id}", accept=accept)
    assert got == status and '"field": "Accept"' in body
    _assert_secure(headers)


async def test_every_answer_carries_the_security_headers(start_app: AppStarter,
                                                         tmp_path: Path) -> None:
    client = await start_app(_settings(tmp_path))
    incident_id = await _incident(client)
    for path, token, accept, want in [
        (f"/incidents/{incident_id}", READ_TOKEN, BROWSER, 200),
        (f"/incidents/{incident_id}", READ_TOKEN, None, 200),
        (f"/incidents/{incident_id}", None, BROWSER, 401),
        ("/incidents/inc-missing", READ_TOKEN, None, 404),
        ("/incidents", None, None, 401),
        ("/healthz", None, None, 200),
        ("/openapi.json", None, None, 200),
        ("/nowhere", None, None, 404),
    ]:
        status, headers, _ = await _get(client, path, accept=accept, token=token)
        assert status == want, path
        _assert_secure(headers)
    status, headers, css = await _get(client, "/static/page.css", token=None)
    assert status == 200 and headers["Content-Type"].startswith("text/css")
    assert "body{" in css
    _assert_secure(headers, no_store=False)  # no incident data: the browser may keep it


async def test_html_escapes_what_alerts_carry(start_app: AppStarter, tmp_path: Path) -> None:
    client = await start_app(_settings(tmp_path))
    status, ack = await client.webhook(notification({
        **alert("fp-x", summary="x"),
        "annotations": {"summary": "<script>alert(1)</script>", "description": "<img src=x>"},
        "generatorURL": "javascript:alert(1)"}))
    assert status == 200
    _, _, page = await _get(client, f"/incidents/{ack['incidents'][0]}", accept=BROWSER)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x>" not in page
    assert 'href="javascript:' not in page and "javascript:alert(1)" in page


async def test_a_message_link_opens_its_incident_without_a_token(
        start_app: AppStarter, tmp_path: Path) -> None:
    async with harness(tmp_path, "cache-recovers", start_app,
                       auth={"link_key": LINK_KEY, "link_ttl_s": 3600}) as h:
        incident_id = await h.fire()
        other_id = await _incident(h.client, "fp-other", error_signature="other")
        await h.investigated(incident_id)
        await h.delivered(incident_id)
        link = next(b["message"]["incident_url"] for b in h.oncall.deliveries
                    if b["message"]["incident_id"] == incident_id)
        client = h.client
        parts = urlsplit(link)
        assert parts.path == f"/incidents/{incident_id}"
        (grant,) = parse_qs(parts.query)["grant"]
        query = f"?{parts.query}"
        # The stored message holds no grant: reading the incident never yields one.
        _, _, stored = await _get(client, f"/incidents/{incident_id}")
        assert grant not in stored
        with capture_logs() as logs:
            status, headers, page = await _get(client, parts.path + query, accept=BROWSER,
                                               token=None)
            await _get(client, f"/incidents/{other_id}{query}", token=None)  # refused
        assert status == 200 and incident_id in page, page
        assert grant not in repr(logs) and LINK_KEY not in repr(logs)
        _assert_secure(headers)
        status, _, body = await _get(client, parts.path + query, token=None)
        assert status == 200 and f'"id":"{incident_id}"' in body
        # Not another incident, not the list, not approve.
        assert (await _get(client, f"/incidents/{other_id}{query}", token=None))[0] == 401
        assert (await _get(client, f"/incidents{query}", token=None))[0] == 401
        async with client.http.post(f"{client.base}/incidents/{incident_id}/approve",
                                    data={"grant": grant}, allow_redirects=False) as r:
            assert r.status == 401 and "not approve" in (await r.json())["error"]["message"]
        # Tampered, or expired.
        bad = grant[:-2] + ("AA" if not grant.endswith("AA") else "BB")
        status, _, body = await _get(client, f"{parts.path}?grant={bad}", token=None)
        assert status == 401 and "not valid" in body
        h.clock.advance(3601)
        status, _, body = await _get(client, parts.path + query, accept=BROWSER, token=None)
        assert status == 401 and "expired" in body
        # The read token still works for the API.
        assert (await _get(client, f"/incidents/{incident_id}"))[0] == 200


async def test_approve_takes_the_owner_grant_or_token_only(
        start_app: AppStarter, tmp_path: Path, clock: ManualClock) -> None:
    client = await start_app(_settings(tmp_path))
    incident_id = await _incident(client)
    signer = GrantSigner(SecretStr(LINK_KEY), ttl_s=3600, clock=clock)
    url = f"{client.base}/incidents/{incident_id}/approve"
    owner, read = signer.mint(incident_id, "owner"), signer.mint(incident_id, "read")
    other = signer.mint("inc-other", "owner")
    for data, want in [({"grant": read}, 401), ({"grant": other}, 401), ({}, 401),
                       ({"grant": owner}, 409)]:  # authorized: nothing waits to be approved
        async with client.http.post(url, data=data, allow_redirects=False) as r:
            assert r.status == want, (data, await r.text())
            _assert_secure(r.headers)
    async with client.http.post(url, headers={"Authorization": f"Bearer {READ_TOKEN}"}) as r:
        assert r.status == 401
    async with client.http.post(url, headers={"Authorization": f"Bearer {OWNER_TOKEN}"}) as r:
        assert r.status == 409


async def test_without_a_link_key_links_carry_no_grant_and_grants_are_refused(
        start_app: AppStarter, tmp_path: Path, clock: ManualClock) -> None:
    client = await start_app(make_settings(tmp_path))
    incident_id = await _incident(client)
    status, _, body = await _get(client, f"/incidents/{incident_id}?grant=read.x.y", token=None)
    assert status == 401 and "link_key" in body


async def test_the_list_page_links_each_incident_and_filters_by_state(
        start_app: AppStarter, tmp_path: Path) -> None:
    client = await start_app(_settings(tmp_path))
    first = await _incident(client, "fp1")
    second = await _incident(client, "fp2", error_signature="build-ref")
    status, headers, page = await _get(client, "/incidents", accept=BROWSER)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    for incident_id in (first, second):
        assert f'href="/incidents/{incident_id}"' in page
    assert 'href="/static/page.css"' in page and "<script" not in page
    _, _, none = await _get(client, "/incidents?state=resolved", accept=BROWSER)
    assert first not in none and "No incidents in state resolved" in none


async def test_the_list_page_pages_on_as_the_api_does(start_app: AppStarter,
                                                      tmp_path: Path) -> None:
    """One incident a page: the page links to the older ones with the API's next_before."""
    client = await start_app(_settings(tmp_path))
    await _incident(client, "fp1")
    await _incident(client, "fp2", error_signature="build-ref")
    _, _, listed = await _get(client, "/incidents?limit=1")
    newest, next_before = json.loads(listed)["incidents"][0]["id"], \
        json.loads(listed)["next_before"]
    assert next_before == newest
    _, _, page = await _get(client, "/incidents?limit=1", accept=BROWSER)
    older = re.search(r'href="([^"]*before=[^"]*)">Older incidents<', page)
    assert older is not None and newest in page
    _, _, second = await _get(client, html.unescape(older.group(1)), accept=BROWSER)
    assert newest not in second and "Older incidents" not in second
    assert 'href="/incidents">Newest<' in second


async def test_a_browser_reads_an_error_as_a_page_an_api_client_as_json(
        start_app: AppStarter, tmp_path: Path) -> None:
    client = await start_app(_settings(tmp_path))
    incident_id = await _incident(client)
    status, headers, page = await _get(client, f"/incidents/{incident_id}?grant=read.x.y",
                                       accept=BROWSER, token=None)
    assert status == 401 and headers["Content-Type"].startswith("text/html")
    assert "not valid for this incident" in page and headers["WWW-Authenticate"]
    assert headers["X-Request-Id"] in page and "<script" not in page
    _assert_secure(headers)
    status, headers, body = await _get(client, f"/incidents/{incident_id}?grant=read.x.y",
                                       token=None)
    assert status == 401 and headers["Content-Type"].startswith("application/json")
    assert "not valid" in body
    status, _, page = await _get(client, "/incidents/inc-nope", accept=BROWSER)
    assert status == 404 and "No such incident" in page
