"""A generic JSON webhook receiver that dedups by ``Idempotency-Key``, as a receiver should."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tests.adapters.fakes.server import FakeServer


class FakeWebhook(FakeServer):
    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        self.token = token
        self.deliveries: list[dict[str, Any]] = []
        self.keys: list[str] = []
        self.app.router.add_post("/hook", self._post)

    @property
    def hook_url(self) -> str:
        return self.url + "/hook"

    @property
    def unique(self) -> dict[str, dict[str, Any]]:
        """One body per idempotency key: what a deduplicating receiver keeps."""
        return dict(zip(self.keys, self.deliveries, strict=True))

    async def _post(self, request: web.Request) -> web.Response:
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        key = request.headers.get("Idempotency-Key")
        if not key:
            return web.json_response({"error": "Idempotency-Key required"}, status=400)
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.json_response({"error": "invalid JSON"}, status=400)
        self.keys.append(key)
        self.deliveries.append(body)
        return web.json_response({"accepted": True}, status=202)
