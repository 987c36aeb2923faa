"""The incident routes over HTTP: Accept negotiation and the security headers on every answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    READ_TOKEN,
    AppStarter,
    Client,
    alert,
    make_settings,
    notification,
)

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def _settings(tmp_path: Path, **sections: dict[str, Any]):  # type: ignore[no-untyped-def]
    return make_settings(tmp_path, **sections)


async def _get(client: Client, path: str, *, accept: str | None = None,
               token: str | None = READ_TOKEN) -> tuple[int, dict[str, str], str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if accept is not None:
        headers["Accept"] = accept
    async with client.http.get(f"{client.base}{path}", headers=headers,
                               allow_redirects=False) as r:
        return r.status, dict(r.headers), await r.text()


async def _incident(client: Client, fingerprint: str = "fp1", **labels: str) -> str:
    status, ack = await client.webhook(notification(alert(fingerprint, **labels)))
    assert status == 200, ack
    incident_id: str = ack["incidents"][0]
    return incident_id


def _assert_secure(headers: dict[str, str], *, no_store: bool = True) -> None:
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
    for path in (f"/incidents/{incident_id}",):
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
