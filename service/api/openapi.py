"""The OpenAPI document of the HTTP API, built from the same pydantic models the API uses.

``python -m service.api.openapi`` rewrites ``service/api/openapi.json``; a test keeps the
committed file equal to what this module builds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from service.domain.alerts import Notification
from service.domain.incidents import Incident, IncidentSummary

OPENAPI_PATH = Path(__file__).with_name("openapi.json")


class ErrorBody(BaseModel):
    """Every error the API answers."""

    error: dict[str, Any]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _negotiated(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """JSON, or the HTML page when ``Accept`` prefers it (``Vary: Accept``)."""
    answer = _json(schema, description)
    answer["content"]["text/html"] = {"schema": {"type": "string"}}
    return answer


_GRANT = {"name": "grant", "in": "query", "schema": {"type": "string"},
          "description": "the signed, expiring grant a message's incident link carries: "
                         "opens this one incident (scope read) or also approves (scope owner)"}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "bad input; the message names the field", 401: "missing or invalid credentials",
            404: "unknown id", 406: "Accept allows neither application/json nor text/html",
            408: "body not received in time (server.body_timeout_s)",
            409: "nothing to approve", 413: "body over the limit",
            415: "not application/json",
            503: "the store cannot commit or answer right now; retry (Retry-After)"}
    return {str(c): _json(_ref("ErrorBody"), text[c]) for c in codes}


def build_openapi() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(m, "serialization") for m in (Notification, Incident, IncidentSummary, ErrorBody)],
        ref_template="#/components/schemas/{model}",
    )
    bearer: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "aislot-responder", "version": "1",
                 "description": "Alertmanager intake and incidents of RB-CK8S-AISLOT-BUILD-0001"},
        "paths": {
            "/webhook": {"post": {
                "summary": "Alertmanager webhook (payload version 4)",
                "security": [{"bearer": []}, {"basic": []}],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": _ref("Notification")}}},
                "responses": {"200": _json({"type": "object"}, "stored durably"),
                              **_errors(400, 401, 408, 413, 415, 503)},
            }},
            "/incidents": {"get": {
                "summary": "Incidents, newest first", "security": bearer,
                "parameters": [
                    {"name": "state", "in": "query", "schema": {
                        "enum": ["open", "investigating", "mitigating", "monitoring",
                                 "resolved"]}},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                    {"name": "before", "in": "query",
                     "description": "the next_before of the previous page: the incidents "
                                    "listed after that one (keyset pagination)",
                     "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"}},
                ],
                "responses": {"200": _negotiated({"type": "object", "properties": {
                    "incidents": {"type": "array", "items": _ref("IncidentSummary")},
                    "next_before": {"type": ["string", "null"],
                                    "description": "pass as before for the next page; "
                                                   "null on the last page"}},
                    "required": ["incidents", "next_before"]},
                    "incidents, newest first"), **_errors(400, 401, 404, 406, 503)},
            }},
            "/incidents/{incident_id}": {"get": {
                "summary": "One incident's whole story (HTML when the client asks for it)",
                "security": [*bearer, {"grant": []}],
                "parameters": [{"name": "incident_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}, _GRANT],
                "responses": {"200": _negotiated(_ref("Incident"), "the incident"),
                              **_errors(400, 401, 404, 406, 503)},
            }},
            "/incidents/{incident_id}/approve": {"post": {
                "summary": "The Owner approves the pending kill switch (approval mode); from "
                           "the page, a form with the Owner's grant (answered 303 to the page)",
                "security": [*bearer, {"grant": []}],
                "parameters": [{"name": "incident_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}, _GRANT],
                "responses": {"200": _json({"type": "object"}, "approved; applied next"),
                              "303": {"description": "approved from the page: back to it"},
                              **_errors(401, 404, 409, 503)},
            }},
            "/healthz": {"get": {"summary": "liveness", "responses": {"200": {
                "description": "alive"}}}},
            "/readyz": {"get": {"summary": "readiness (store and workers)", "responses": {
                "200": {"description": "ready"}, "503": {"description": "not ready"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {
                "description": "text exposition format"}}}},
            "/openapi.json": {"get": {"summary": "this document", "security": [],
                                      "responses": {"200": _json({"type": "object"},
                                                                 "OpenAPI 3.1")}}},
        },
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "basic": {"type": "http", "scheme": "basic"},
                                "grant": {"type": "apiKey", "in": "query", "name": "grant"}},
        },
    }


def render() -> str:
    return json.dumps(build_openapi(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    OPENAPI_PATH.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {OPENAPI_PATH}\n")
