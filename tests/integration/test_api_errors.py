"""The API's error answers through the running app: request ids, a store that cannot answer,
and a public ``/readyz`` that says nothing a stranger should read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from service.api.keys import STORE
from service.store.base import StoreUnavailable
from tests.conftest import READ_TOKEN, AppStarter, alert, make_settings, notification

SECRET = "hunter2"


def _failing(message: str):  # type: ignore[no-untyped-def]
    async def broken(*args: object, **kwargs: object) -> None:
        raise StoreUnavailable(message)

    return broken


async def test_readyz_answers_fixed_words_and_logs_the_reasons_redacted(
    start_app: AppStarter, tmp_path: Path
) -> None:
    # The kube client's error quotes the kubeconfig path; here the path holds a "secret".
    kubeconfig = tmp_path / f"token={SECRET}" / "config"
    client = await start_app(make_settings(tmp_path, kube={"kubeconfig": str(kubeconfig)}))
    client.app[STORE].ping = _failing(f"postgres: OSError: password={SECRET} refused")
    with capture_logs() as logs:
        status, body = await client.get("/readyz", token=None)
    assert status == 503
    assert body == {"status": "unready", "store": "unavailable", "workers": "ok",
                    "kube": "unavailable"}
    (event,) = [e for e in logs if e["event"] == "readiness_store_unavailable"]
    assert SECRET not in event["error"] and "[REDACTED]" in event["error"]


async def test_kube_unavailable_is_logged_redacted_not_answered(
    start_app: AppStarter, tmp_path: Path
) -> None:
    kubeconfig = tmp_path / f"token={SECRET}" / "config"
    with capture_logs() as logs:
        client = await start_app(make_settings(tmp_path, kube={"kubeconfig": str(kubeconfig)}))
    status, body = await client.get("/readyz", token=None)
    assert status == 200 and body["kube"] == "unavailable"
    assert SECRET not in json.dumps(body)
    (event,) = [e for e in logs if e["event"] == "kube_unavailable"]
    assert SECRET not in event["error"] and "cannot load cluster config" in event["error"]


@pytest.mark.parametrize("given", ["x" * 200, "idé-42", "a b", "id;rm", ""])
async def test_unusable_client_request_id_is_replaced(
    start_app: AppStarter, settings, given: str
) -> None:
    client = await start_app(settings)
    headers = {"Authorization": f"Bearer {READ_TOKEN}", "X-Request-Id": given}
    async with client.http.get(f"{client.base}/incidents/inc-nope", headers=headers) as r:
        assert r.status == 404
        answered = r.headers["X-Request-Id"]
    assert answered != given and answered.isascii() and 0 < len(answered) <= 64


async def test_plain_client_request_id_is_kept(start_app: AppStarter, settings) -> None:
    client = await start_app(settings)
    given = "Req-2026.02_26-" + "a" * 49  # 64 characters
    async with client.http.get(f"{client.base}/healthz", headers={"X-Request-Id": given}) as r:
        assert r.headers["X-Request-Id"] == given


@pytest.mark.parametrize(("path", "method"), [
    ("/incidents", "list_incidents"),
    ("/incidents/inc-1", "get_incident"),
])
async def test_read_with_a_store_that_cannot_answer_is_503_retry_later(
    start_app: AppStarter, settings, path: str, method: str
) -> None:
    client = await start_app(settings)
    await client.webhook(notification(alert()))
    setattr(client.app[STORE], method, _failing(f"postgres: password={SECRET}"))
    async with client.http.get(f"{client.base}{path}",
                               headers={"Authorization": f"Bearer {READ_TOKEN}"}) as r:
        assert r.status == 503 and r.headers["Retry-After"] == "5"
        body = await r.json()
    assert body["error"]["message"] == "the store cannot answer right now; retry later"
    assert SECRET not in json.dumps(body)


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("POST", "/incidents", {"GET", "HEAD"}),
    ("DELETE", "/webhook", {"POST"}),
    ("GET", "/incidents/inc-1/approve", {"POST"}),
    ("PUT", "/metrics", {"GET", "HEAD"}),
])
async def test_a_405_keeps_its_allow_header(start_app: AppStarter, settings, method: str,
                                            path: str, allowed: set[str]) -> None:
    """Issue 12, finding 4: the error middleware rebuilt aiohttp's 405 as JSON and lost its
    ``Allow`` header (RFC 9110 section 15.5.6: a 405 MUST carry it)."""
    client = await start_app(settings)
    async with client.http.request(method, f"{client.base}{path}") as r:
        assert r.status == 405
        assert {m.strip() for m in r.headers["Allow"].split(",")} == allowed
        assert (await r.json())["error"]["status"] == 405
