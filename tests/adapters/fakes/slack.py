"""A Slack incoming webhook: validates the body like Slack (``no_text``, ``invalid_blocks``,
``invalid_payload``) and answers ``ok``."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tests.adapters.fakes.server import FakeServer

HOOK_PATH = "/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"


def block_errors(blocks: Any) -> list[str]:
    """Slack's Block Kit limits, as far as the sink uses them."""
    if not isinstance(blocks, list):
        return ["blocks must be a list"]
    errors = []
    if len(blocks) > 50:
        errors.append(f"{len(blocks)} blocks (max 50)")
    for i, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "header":
            text = block["text"]
            if text.get("type") != "plain_text" or len(text["text"]) > 150:
                errors.append(f"block {i}: header must be plain_text <= 150")
        elif kind == "section":
            if "text" in block and len(block["text"]["text"]) > 3000:
                errors.append(f"block {i}: section text > 3000")
            fields = block.get("fields", [])
            if len(fields) > 10 or any(len(f["text"]) > 2000 for f in fields):
                errors.append(f"block {i}: fields over limits")
            if "text" not in block and not fields:
                errors.append(f"block {i}: section needs text or fields")
        elif kind == "context":
            elements = block.get("elements", [])
            if not elements or len(elements) > 10:
                errors.append(f"block {i}: context needs 1..10 elements")
        elif kind != "divider":
            errors.append(f"block {i}: unknown type {kind!r}")
    return errors


class FakeSlack(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []
        self.app.router.add_post(HOOK_PATH, self._post)

    @property
    def hook_url(self) -> str:
        return self.url + HOOK_PATH

    def error_body(self, status: int) -> tuple[Any, str]:
        word = {429: "rate_limited", 404: "no_service", 403: "action_prohibited",
                400: "invalid_payload"}.get(status, "rollup_error")
        return word, "text/plain"

    async def _post(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        if not body.get("text") and not body.get("blocks"):
            return web.Response(status=400, text="no_text")
        if "blocks" in body and block_errors(body["blocks"]):
            return web.Response(status=400, text="invalid_blocks")
        self.messages.append(body)
        return web.Response(text="ok")
