"""Issue 12, findings 1 and 2: tokens too short or empty refused at load; the Authorization
header read strictly (ASCII b64token, no Unicode trimming), so a malformed header is a 401
counted as a rejected webhook, never a 500 and never a way in."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import pytest

from service.config.settings import ConfigError
from tests.conftest import OWNER_TOKEN, READ_TOKEN, WEBHOOK_TOKEN, AppStarter, make_settings
from tests.conftest import notification as make_notification
from tests.rawhttp import exchange

ROUTES = [b"POST /webhook", b"GET /incidents", b"GET /incidents/inc-x",
          b"POST /incidents/inc-x/approve"]


@pytest.mark.parametrize("field", ["webhook_token", "read_token", "owner_token"])
@pytest.mark.parametrize("value", ["", "x", "fifteen-chars-1", "sixteen chars ok",
                                   "sixteen-chars-ok\u00a0"])
def test_a_short_or_unsendable_token_is_refused_at_load(tmp_path: Path, field: str,
                                                        value: str) -> None:
    """On main an empty token loaded, and with ``.strip()`` on the header ``Bearer <NBSP>``
    then equalled it (``compare_digest(b"", b"")``): webhook, read API and approve open."""
    with pytest.raises(ConfigError) as err:
        make_settings(tmp_path, auth={field: value})
    assert f"auth.{field}" in str(err.value)
    assert len(value) < 4 or value not in str(err.value)


@pytest.mark.parametrize(("a", "b"), [("webhook_token", "read_token"),
                                      ("read_token", "owner_token"),
                                      ("webhook_token", "owner_token")])
def test_tokens_must_differ(tmp_path: Path, a: str, b: str) -> None:
    same = "the-same-token-for-two-roles"
    with pytest.raises(ConfigError) as err:
        make_settings(tmp_path, auth={a: same, b: same})
    assert "must differ" in str(err.value) and same not in str(err.value)


def test_a_short_basic_password_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"auth\.webhook_basic_password"):
        make_settings(tmp_path, auth={"webhook_basic_user": "am",
                                      "webhook_basic_password": "s3cret"})


def test_check_config_refuses_an_empty_env_token(tmp_path: Path) -> None:
    """``AISLOT_AUTH__WEBHOOK_TOKEN=`` passed ``check-config`` on main."""
    env = {"PATH": "/usr/bin:/bin", "AISLOT_AUTH__WEBHOOK_TOKEN": ""}
    run = subprocess.run([sys.executable, "-m", "service", "check-config"], env=env,
                         cwd=tmp_path, capture_output=True, text=True, check=False)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "auth.webhook_token" in run.stderr and "16 characters" in run.stderr


# Headers a browser, a proxy or an attacker may send: each is no credential at all.
MALFORMED = [
    b"Bearer \xff",                       # a raw byte: was a 500 with a traceback
    b"Bearer \xc2\xa0",                   # U+00A0 in UTF-8: stripped to "" on main
    b"Bearer \xe3\x80\x80",               # U+3000
    b"Bearer \xc2\x85",                   # U+0085
    b"Bearer ",
    b"Bearer",
    b"Basic \xff\xfe",
    b"\xff " + WEBHOOK_TOKEN.encode(),
]


@pytest.mark.parametrize("header", MALFORMED)
async def test_a_malformed_authorization_header_is_401_on_every_route(
    start_app: AppStarter, settings, header: bytes
) -> None:
    client = await start_app(settings)
    for route in ROUTES:
        status, raw = await exchange(client.base, route + b" HTTP/1.1\r\nHost: t\r\n"
                                     b"Content-Type: application/json\r\nAuthorization: "
                                     + header, b"{}")
        assert status == 401, (route, raw[:300])
        assert b"WWW-Authenticate: Bearer" in raw
    async with client.http.get(f"{client.base}/metrics") as r:
        assert 'aislot_webhooks_total{outcome="rejected_401"} 1.0' in await r.text()


@pytest.mark.parametrize("pad", ["\u00a0", "\u3000", "\u0085", "\u2003"])
async def test_unicode_blanks_around_the_token_are_not_trimmed(
    start_app: AppStarter, settings, pad: str
) -> None:
    """Main ran ``.strip()``, so ``Bearer <U+3000><token><U+3000>`` was let in."""
    client = await start_app(settings)
    for route, token in ((b"POST /webhook", WEBHOOK_TOKEN), (b"GET /incidents", READ_TOKEN),
                         (b"POST /incidents/inc-x/approve", OWNER_TOKEN)):
        header = f"Bearer {pad}{token}{pad}".encode()
        status, _ = await exchange(client.base, route + b" HTTP/1.1\r\nHost: t\r\n"
                                   b"Authorization: " + header, b"{}")
        assert status == 401, (route, pad)


async def test_the_right_credentials_still_pass(start_app: AppStarter, tmp_path: Path) -> None:
    password = "basic-password-0123456789"
    client = await start_app(make_settings(tmp_path, auth={
        "webhook_basic_user": "am", "webhook_basic_password": password}))
    assert (await client.webhook(make_notification()))[0] == 200
    basic = base64.b64encode(f"am:{password}".encode())
    status, raw = await exchange(
        client.base, b"POST /webhook HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Authorization: bAsIc  " + basic,
        b'{"version": "4", "groupKey": "g", "status": "firing", "receiver": "r", "alerts": '
        b'[{"status": "firing", "labels": {"alertname": "X"}, "startsAt": '
        b'"2026-02-26T10:00:00Z", "fingerprint": "f"}]}')
    assert status == 200, raw[-300:]
    assert (await client.get("/incidents", token=OWNER_TOKEN))[0] == 200
