"""The Telegram Bot API's ``sendMessage``: token in the path, chat ids, 4096 characters,
HTML parse mode checked for allowed and balanced tags, JSON errors like Telegram's."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

from tests.adapters.fakes.server import FakeServer

ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
                "tg-spoiler", "span", "blockquote"}
DESCRIPTIONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden: bot was blocked",
                404: "Not Found", 429: "Too Many Requests: retry after 1",
                500: "Internal Server Error", 502: "Bad Gateway"}


class _TagChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.error: str | None = None
        self.visible: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.error = self.error or f"unsupported start tag \"{tag}\""
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.error = self.error or f"unmatched end tag \"{tag}\""

    def handle_data(self, data: str) -> None:
        self.visible.append(data)


def tg_error(code: int, description: str, **parameters: Any) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)


class FakeTelegram(FakeServer):
    def __init__(self, token: str, chats: set[str]) -> None:
        super().__init__()
        self.token = token
        self.chats = chats
        self.messages: list[dict[str, Any]] = []
        self.app.router.add_post("/bot{token}/sendMessage", self._send)

    def error_body(self, status: int) -> tuple[Any, str]:
        body: dict[str, Any] = {"ok": False, "error_code": status,
                                "description": DESCRIPTIONS.get(status, "Error")}
        if status == 429:
            body["parameters"] = {"retry_after": 1}
        return body, "application/json"

    async def _send(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return tg_error(401, "Unauthorized")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return tg_error(400, "Bad Request: invalid JSON")
        chat = str(body.get("chat_id", ""))
        if chat not in self.chats:
            return tg_error(400, "Bad Request: chat not found")
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return tg_error(400, "Bad Request: message text is empty")
        visible = text
        if body.get("parse_mode") == "HTML":
            checker = _TagChecker()
            checker.feed(text)
            checker.close()
            if checker.error or checker.stack:
                return tg_error(400, "Bad Request: can't parse entities: "
                                     f"{checker.error or 'unclosed tag'}")
            visible = "".join(checker.visible)
        if len(visible.encode("utf-16-le")) // 2 > 4096:
            return tg_error(400, "Bad Request: message is too long")
        self.messages.append(body)
        result = {"message_id": len(self.messages), "date": 1772100000,
                  "chat": {"id": chat, "type": "group"}, "text": visible}
        return web.json_response({"ok": True, "result": result})
