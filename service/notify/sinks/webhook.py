"""The generic JSON webhook sink: the whole message as JSON, for anything that can take a POST.

Body: ``{"version": "1", "delivery": {...}, "message": <Message>, "text": <plain text>}``;
header ``Idempotency-Key: <incident>:<key>``, the same on every attempt, so a receiver can drop
a duplicate after our crash. An optional token is sent as ``Authorization: Bearer``.
"""

from __future__ import annotations

from service.config.sinks import WebhookSinkSettings
from service.domain.messages import Delivery, Message
from service.notify.sinks import transport
from service.notify.sinks.render import render

TEXT_LIMIT = 8000


def idempotency_key(delivery: Delivery) -> str:
    """Stable across attempts and restarts: the message's identity."""
    return f"{delivery.incident_id}:{delivery.key}"


def text_of(message: Message) -> str:
    """The message as plain text, for receivers that show one (``text`` in the body)."""
    return render(message, limit=TEXT_LIMIT)


class WebhookSink:
    """POSTs the message as JSON to ``settings.url``."""

    type = "webhook"

    def __init__(self, name: str, settings: WebhookSinkSettings, http: transport.Http) -> None:
        self.name = name
        self._url = settings.url
        self._token = settings.token.get_secret_value() if settings.token else None
        self._timeout = settings.timeout_s
        self._http = http

    def payload(self, delivery: Delivery) -> dict[str, object]:
        message = delivery.message
        return {
            "version": "1",
            "delivery": {"id": delivery.id, "sink": self.name, "attempt": delivery.attempts,
                         "idempotency_key": idempotency_key(delivery)},
            "message": message.model_dump(mode="json"),
            "text": text_of(message),
        }

    async def send(self, delivery: Delivery) -> None:
        headers = {"Idempotency-Key": idempotency_key(delivery)}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        what = f"webhook sink {self.name}"
        reply = await transport.request(self._http, "POST", self._url, what=what,
                                        timeout_s=self._timeout, headers=headers,
                                        json_body=self.payload(delivery))
        if not reply.ok:
            raise transport.failure(reply, what)
