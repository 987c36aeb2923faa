"""Shared fixtures: settings for a test app, a running app on loopback, an Alertmanager body."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from service.app import create_app
from service.config.settings import Settings, load_settings
from service.runtime.clock import Clock, ManualClock

WEBHOOK_TOKEN = "wh-" + secrets.token_hex(12)
READ_TOKEN = "rd-" + secrets.token_hex(12)
OWNER_TOKEN = "ow-" + secrets.token_hex(12)


def make_settings(tmp_path: Path, **sections: dict[str, Any]) -> Settings:
    base: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": 0},
        "auth": {"webhook_token": WEBHOOK_TOKEN, "read_token": READ_TOKEN,
                 "owner_token": OWNER_TOKEN},
        "store": {"sqlite_path": str(tmp_path / "responder.db")},
        "logging": {"level": "warning", "format": "json"},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values}
    return load_settings(overrides=base)


def alert(fingerprint: str = "fp1", status: str = "firing", *, starts: str = "2026-02-26T10:00:00Z",
          **labels: str) -> dict[str, Any]:
    all_labels = {"alertname": "AI_SLOT_BUILD_MANIFEST_UNKNOWN_PERSISTENT",
                  "namespace": "codex-k8s-prod", "error_signature": "cache", **labels}
    return {
        "status": status, "labels": all_labels, "annotations": {"summary": "MANIFEST_UNKNOWN"},
        "startsAt": starts,
        "endsAt": "2026-02-26T10:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph", "fingerprint": fingerprint,
    }


def notification(*alerts: dict[str, Any], group_key: str = '{}:{alertname="X"}') -> dict[str, Any]:
    alerts = alerts or (alert(),)
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {
        "version": "4", "groupKey": group_key, "truncatedAlerts": 0, "status": status,
        "receiver": "aislot-responder", "groupLabels": {"alertname": "X"},
        "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am:9093",
        "alerts": list(alerts),
    }


class Client:
    """A small HTTP client for a running test app, with the tokens filled in."""

    def __init__(self, base: str, session: aiohttp.ClientSession) -> None:
        self.base, self.http = base, session

    async def webhook(self, body: Any, token: str = WEBHOOK_TOKEN) -> tuple[int, Any]:
        async with self.http.post(f"{self.base}/webhook", json=body,
                                  headers={"Authorization": f"Bearer {token}"}) as r:
            return r.status, await r.json(content_type=None)

    async def get(self, path: str, token: str | None = READ_TOKEN) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.http.get(f"{self.base}{path}", headers=headers) as r:
            return r.status, await r.json(content_type=None)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 2, 26, 10, 5, tzinfo=UTC))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


AppStarter = Callable[..., Any]


@contextlib.asynccontextmanager
async def app_starter(clock: Clock | None = None) -> AsyncIterator[AppStarter]:
    """``create_app(settings)`` on a free port, as often as asked (each call returns a
    ``Client``); every app and session is closed on exit. ``clock`` is the default clock."""
    runners: list[web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(settings: Settings, **kwargs: Any) -> Client:
        if clock is not None:
            kwargs.setdefault("clock", clock)
        app = create_app(settings, **kwargs)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        sessions.append(session)
        port = runner.addresses[0][1]
        client = Client(f"http://127.0.0.1:{port}", session)
        client.app = app  # type: ignore[attr-defined]
        return client

    try:
        yield start
    finally:
        for session in sessions:
            await session.close()
        for runner in runners:
            await runner.cleanup()


@pytest.fixture
async def start_app(clock: ManualClock) -> AsyncIterator[AppStarter]:
    """Start ``create_app(settings)`` on a free port; returns a ``Client``."""
    async with app_starter(clock) as start:
        yield start
