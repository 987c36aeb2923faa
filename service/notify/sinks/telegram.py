"""The Telegram sink: Bot API ``sendMessage`` to one chat, HTML or plain, 4096 characters.

The bot token is part of the URL path (``/bot<token>/sendMessage``), so the URL is never logged
nor put in an error. Telegram answers JSON ``{"ok": false, "error_code": ..., "description":
...}``; a 429 carries ``parameters.retry_after`` in the body, which is honoured.
"""

from __future__ import annotations

from typing import Any, Literal

from service.config.sinks import TelegramSinkSettings
from service.domain.messages import Delivery, Message
from service.notify.sinks import transport
from service.notify.sinks.render import render, utf16_len
from service.runtime.retry import AdapterError, Permanent, Retryable, classify_status

TEXT_LIMIT = 4096

ParseMode = Literal["HTML"] | None


def payload_of(message: Message, chat_id: str, parse_mode: ParseMode = "HTML") -> dict[str, Any]:
    """The ``sendMessage`` body; the text fits 4096 UTF-16 units."""
    style: Literal["html", "plain"] = "html" if parse_mode == "HTML" else "plain"
    body: dict[str, Any] = {
        "chat_id": chat_id,
        "text": render(message, limit=TEXT_LIMIT, style=style, measure=utf16_len),
        "link_preview_options": {"is_disabled": True},
    }
    if parse_mode:
        body["parse_mode"] = parse_mode
    return body


def error_of(reply: transport.Reply, what: str) -> AdapterError:
    """Classify a Bot API error, with ``retry_after`` from the body."""
    data = reply.json()
    if not isinstance(data, dict):
        return transport.failure(reply, what)
    code = data.get("error_code")
    status = code if isinstance(code, int) else reply.status
    description = transport.snippet(str(data.get("description", "")))
    error = classify_status(status, f"{what}: {status} {description}",
                            reply.headers.get("Retry-After"), reply.at)
    params = data.get("parameters")
    if isinstance(error, Retryable) and isinstance(params, dict):
        retry_after = params.get("retry_after")
        if isinstance(retry_after, int | float):
            error.retry_after_s = float(retry_after)
    return error


class TelegramSink:
    """Sends each message to ``settings.chat_id`` through the Bot API at ``settings.url``."""

    type = "telegram"

    def __init__(self, name: str, settings: TelegramSinkSettings, http: transport.Http, *,
                 parse_mode: ParseMode = "HTML") -> None:
        self.name = name
        self._base = settings.url.rstrip("/")
        self._token = settings.token
        self._chat_id = settings.chat_id
        self._parse_mode = parse_mode
        self._timeout = settings.timeout_s
        self._http = http

    async def send(self, delivery: Delivery) -> None:
        what = f"telegram sink {self.name} sendMessage"
        url = f"{self._base}/bot{self._token.get_secret_value()}/sendMessage"
        reply = await transport.request(
            self._http, "POST", url, what=what, timeout_s=self._timeout,
            json_body=payload_of(delivery.message, self._chat_id, self._parse_mode))
        data = reply.json()
        if reply.ok and isinstance(data, dict) and data.get("ok") is True:
            return
        if reply.ok:
            raise Permanent(f"{what}: unexpected answer {transport.snippet(reply.text)}",
                            status=reply.status)
        raise error_of(reply, what)
