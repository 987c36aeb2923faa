"""Property-based abuse of ``/webhook`` and the read API on the running service.

Malformed, truncated, wrongly typed, wrongly encoded and huge bodies, and junk paths and query
strings: only 4xx for what is wrong (200 for what happens to be valid), never a 5xx; the
service keeps serving, and nothing is stored except what was acknowledged.
"""

from __future__ import annotations

import http.client as httpclient
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import alert, notification
from tests.procs import Responder, http, start_responder, stop

TOKEN, READ = "fuzz-webhook-token-0123", "fuzz-read-token-0123"
VALID = notification(alert("fuzz-fp"))
ACKED: list[str] = []  # incident ids the service acknowledged as new
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Responder]:
    workdir: Path = tmp_path_factory.mktemp("fuzz")
    running = start_responder(workdir, {"AISLOT_AUTH__WEBHOOK_TOKEN": TOKEN,
                                        "AISLOT_AUTH__READ_TOKEN": READ,
                                        "AISLOT_SERVER__MAX_BODY_BYTES": "65536"})
    ACKED.clear()
    yield running
    stop(running.proc)


def raw_post(svc: Responder, body: bytes, ctype: str = "application/json",
             token: str = TOKEN) -> tuple[int, dict[str, Any]]:
    host, port = svc.base.removeprefix("http://").split(":")
    conn = httpclient.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", "/webhook", body=body, headers={
            "Content-Type": ctype, "Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        payload = resp.read()
    finally:
        conn.close()
    parsed = json.loads(payload) if payload else {}
    if resp.status == 200 and not parsed.get("redelivery"):
        ACKED.extend(parsed["incidents"])
    return resp.status, parsed


def _check(status: int, body: dict[str, Any]) -> None:
    assert status < 500, body
    if status != 200:
        assert 400 <= status < 500 and body["error"]["message"], body


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += _paths(child, (*prefix, index))
    return out


PATHS = [p for p in _paths(VALID) if p]


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes(svc: Responder, body: bytes) -> None:
    _check(*raw_post(svc, body))


@FUZZ
@given(st.integers(min_value=0, max_value=len(json.dumps(VALID)) - 1))
def test_truncated_bodies(svc: Responder, cut: int) -> None:
    status, body = raw_post(svc, json.dumps(VALID).encode()[:cut])
    assert status == 400, body


@FUZZ
@given(st.sampled_from(PATHS), json_values)
def test_wrongly_typed_fields(svc: Responder, path: tuple[Any, ...], value: Any) -> None:
    doc = json.loads(json.dumps(VALID))
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    _check(*raw_post(svc, json.dumps(doc).encode()))


@FUZZ
@given(st.text(min_size=1, max_size=40), st.sampled_from(["utf-16", "latin-1", "utf-32"]))
def test_wrongly_encoded(svc: Responder, summary: str, encoding: str) -> None:
    doc = notification(alert("enc-fp", summary="é" + summary))
    try:
        data = json.dumps(doc, ensure_ascii=False).encode(encoding)
    except UnicodeEncodeError:
        return
    _check(*raw_post(svc, data))


@FUZZ
@given(st.text(max_size=60), st.text(max_size=20), st.text(max_size=20))
def test_read_api_junk(svc: Responder, ident: str, state: str, limit: str) -> None:
    for path in (f"/incidents/{quote(ident, safe='')}",
                 f"/incidents?state={quote(state)}&limit={quote(limit)}"):
        status, body = http("GET", f"{svc.base}{path}", token=READ)
        assert status < 500, (path, body)


def test_huge_and_wrong_type_bodies(svc: Responder) -> None:
    assert raw_post(svc, b"{" + b" " * 70_000 + b"}")[0] == 413
    assert raw_post(svc, json.dumps(VALID).encode(), ctype="text/plain")[0] == 415
    many = notification(*[alert(f"m{i}") for i in range(2000)])
    assert raw_post(svc, json.dumps(many).encode())[0] == 413


def test_still_serving_and_nothing_unacknowledged_stored(svc: Responder) -> None:
    assert http("GET", f"{svc.base}/readyz")[0] == 200
    _, listing = http("GET", f"{svc.base}/incidents?limit=500", token=READ)
    stored = {i["id"] for i in listing["incidents"]}
    assert stored == set(ACKED)
    assert "Traceback" not in svc.log()
