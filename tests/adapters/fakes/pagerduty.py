"""PagerDuty's Events API v2 ``/v2/enqueue``: validates events like PagerDuty (400
``invalid event`` with ``errors``), answers 202, and keeps alerts by ``dedup_key``."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from tests.adapters.fakes.server import FakeServer

SEVERITIES = {"critical", "error", "warning", "info"}


def event_errors(event: Any) -> list[str]:
    if not isinstance(event, dict):
        return ["Event object is not a JSON object"]
    errors = []
    if not event.get("routing_key"):
        errors.append("'routing_key' is missing or blank")
    action = event.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        errors.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
    if action in ("acknowledge", "resolve") and not event.get("dedup_key"):
        errors.append("'dedup_key' is missing or blank")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return [*errors, "'payload' is missing or not an object"]
        for name in ("summary", "source", "severity"):
            if not payload.get(name):
                errors.append(f"'payload.{name}' is missing or blank")
        if payload.get("severity") and payload["severity"] not in SEVERITIES:
            errors.append("'payload.severity' is invalid")
        if len(str(payload.get("summary", ""))) > 1024:
            errors.append("'payload.summary' is longer than 1024 characters")
    return errors


class FakePagerDuty(FakeServer):
    def __init__(self, routing_keys: set[str]) -> None:
        super().__init__()
        self.routing_keys = routing_keys
        self.events: list[dict[str, Any]] = []
        self.alerts: dict[str, str] = {}  # dedup_key -> triggered | resolved
        self.app.router.add_post("/v2/enqueue", self._enqueue)

    def error_body(self, status: int) -> tuple[Any, str]:
        if status == 429:
            return {"status": "throttle event", "message": "Requests for this service are "
                    "arriving too quickly.  Please retry later."}, "application/json"
        if status == 400:
            return {"status": "invalid event", "message": "Event object is invalid",
                    "errors": ["bad"]}, "application/json"
        return "Internal Server Error", "text/plain"

    async def _enqueue(self, request: web.Request) -> web.Response:
        try:
            event = json.loads(await request.read())
        except ValueError:
            return web.json_response({"status": "invalid event", "message": "Event object is "
                                      "invalid", "errors": ["Invalid JSON"]}, status=400)
        errors = event_errors(event)
        if errors:
            return web.json_response({"status": "invalid event",
                                      "message": "Event object is invalid", "errors": errors},
                                     status=400)
        if event["routing_key"] not in self.routing_keys:
            return web.json_response({"status": "invalid event", "message": "Event object is "
                                      "invalid", "errors": ["Invalid routing key"]}, status=400)
        self.events.append(event)
        key = event.get("dedup_key") or f"auto-{len(self.events)}"
        self.alerts[key] = "resolved" if event["event_action"] == "resolve" else "triggered"
        return web.json_response({"status": "success", "message": "Event processed",
                                  "dedup_key": key}, status=202)
