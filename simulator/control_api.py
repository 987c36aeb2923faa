"""`/_sim/...`: endpoints to drive a simulator from another process (not part of the k8s API).

Purpose: `GET /_sim/audit` (write requests), `POST /_sim/clock/advance {"seconds": N}`,
`GET /_sim/clock`, `GET/POST/DELETE /_sim/faults` (list, add one or a list, clear or
`DELETE /_sim/faults/{id}`), `GET /_sim/state` (summary), `POST /_sim/scenario {"name": ...}`
(restart the world with another scenario), `POST /_sim/audit/clear`.
Boundary: translates HTTP to the `Simulator`'s Python API; no auth (loopback test control).
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from aiohttp import web
from pydantic import ValidationError

from simulator.audit import AuditLog
from simulator.faults import FaultEngine
from simulator.responses import json_response


class Controllable(Protocol):
    """What the control endpoints need from a simulator."""

    audit: AuditLog
    faults: FaultEngine

    def advance(self, seconds: float) -> float: ...

    def state(self) -> dict[str, Any]: ...

    def load(self, scenario: str) -> None: ...

    def now_text(self) -> str: ...


def _error(code: int, message: str) -> web.Response:
    return json_response({"error": message}, code)


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    return json.loads(raw) if raw else {}


def routes(sim: Controllable) -> list[web.RouteDef]:
    """aiohttp routes bound to `sim`."""

    async def audit(request: web.Request) -> web.Response:
        return json_response({"items": [e.model_dump() for e in sim.audit.entries()]})

    async def audit_clear(request: web.Request) -> web.Response:
        sim.audit.clear()
        return json_response({"items": []})

    async def clock(request: web.Request) -> web.Response:
        return json_response({"now": sim.now_text(), "epoch": sim.state()["epoch"]})

    async def advance(request: web.Request) -> web.Response:
        try:
            seconds = float((await _body(request)).get("seconds", 0))
            now = sim.advance(seconds)
        except (ValueError, TypeError, AttributeError) as exc:
            return _error(400, f"bad advance request: {exc}")
        return json_response({"now": sim.now_text(), "epoch": now})

    async def faults_get(request: web.Request) -> web.Response:
        return json_response({"items": [r.model_dump() for r in sim.faults.rules()]})

    async def faults_post(request: web.Request) -> web.Response:
        try:
            body = await _body(request)
            rules = body if isinstance(body, list) else body.get("items", [body])
            added = [sim.faults.add(r).model_dump() for r in rules]
        except (ValueError, ValidationError, AttributeError) as exc:
            return _error(400, f"bad fault: {exc}")
        return json_response({"items": added}, 201)

    async def faults_delete(request: web.Request) -> web.Response:
        rule_id = request.match_info.get("rule_id")
        if rule_id:
            if not sim.faults.remove(rule_id):
                return _error(404, f"no fault {rule_id}")
        else:
            sim.faults.clear()
        return json_response({"items": [r.model_dump() for r in sim.faults.rules()]})

    async def state(request: web.Request) -> web.Response:
        return json_response(sim.state())

    async def scenario(request: web.Request) -> web.Response:
        try:
            sim.load(str((await _body(request))["name"]))
        except (KeyError, ValueError, ValidationError) as exc:
            return _error(400, f"bad scenario: {exc}")
        return json_response(sim.state())

    return [
        web.get("/_sim/audit", audit),
        web.post("/_sim/audit/clear", audit_clear),
        web.get("/_sim/clock", clock),
        web.post("/_sim/clock/advance", advance),
        web.get("/_sim/faults", faults_get),
        web.post("/_sim/faults", faults_post),
        web.delete("/_sim/faults", faults_delete),
        web.delete("/_sim/faults/{rule_id}", faults_delete),
        web.get("/_sim/state", state),
        web.post("/_sim/scenario", scenario),
    ]
