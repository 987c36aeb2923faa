"""The PagerDuty sink: Events API v2, one alert per incident (``dedup_key`` = incident id).

``POST /v2/enqueue`` with the routing key (the sink's token); ``trigger`` for every event but
``resolved``, which sends ``resolve``. The summary is at most 1024 characters; facts go in
``custom_details`` with the rendered evidence. PagerDuty answers 202; a malformed event is a
400 ``{"status": "invalid event", "errors": [...]}``; 429 and 5xx are retried.
"""

from __future__ import annotations

from typing import Any

from service.config.sinks import PagerDutySinkSettings
from service.domain.messages import Delivery, Message
from service.notify.sinks import transport
from service.notify.sinks.render import render, shorten

SUMMARY_CHARS = 1024
DETAILS_CHARS = 8000
SEVERITY = {"info": "info", "warning": "warning", "critical": "critical"}


def payload_of(message: Message, routing_key: str) -> dict[str, Any]:
    """The Events API v2 body for ``message``."""
    if message.event == "resolved":
        return {"routing_key": routing_key, "event_action": "resolve",
                "dedup_key": message.incident_id}
    severity = "critical" if message.event == "escalated" else SEVERITY[message.severity]
    facts = {f.name: f.value for f in message.facts}
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": message.incident_id,
        "payload": {
            "summary": shorten(f"{message.title}: {message.summary}", SUMMARY_CHARS),
            "source": facts.get("Namespace", "aislot-responder"),
            "severity": severity,
            "timestamp": message.created_at.isoformat(),
            "component": facts.get("Signature", "ai-slot-build"),
            "group": "codex-k8s-ai-slot-build",
            "class": message.event,
            "custom_details": {**facts, "event": message.event,
                               "incident_url": message.incident_url,
                               "evidence": render(message, limit=DETAILS_CHARS)},
        },
        "links": [{"href": message.incident_url, "text": f"Incident {message.incident_id}"}],
        "client": "aislot-responder",
        "client_url": message.incident_url,
    }


class PagerDutySink:
    """Enqueues events for ``settings.token`` (the integration's routing key)."""

    type = "pagerduty"

    def __init__(self, name: str, settings: PagerDutySinkSettings, http: transport.Http) -> None:
        self.name = name
        self._url = settings.url.rstrip("/") + "/v2/enqueue"
        self._routing_key = settings.token
        self._timeout = settings.timeout_s
        self._http = http

    async def send(self, delivery: Delivery) -> None:
        what = f"pagerduty sink {self.name} enqueue"
        body = payload_of(delivery.message, self._routing_key.get_secret_value())
        reply = await transport.request(self._http, "POST", self._url, what=what,
                                        timeout_s=self._timeout, json_body=body)
        if reply.ok:
            return
        data = reply.json()
        detail = None
        if isinstance(data, dict):
            detail = transport.snippet(f"{data.get('message', '')} {data.get('errors', '')}")
        raise transport.failure(reply, what, detail)
