"""The PagerDuty sink against a fake Events API v2: one alert per incident, trigger/resolve
(how each answer is classified: tests/adapters/test_sink_retry_table.py)."""

from __future__ import annotations

import aiohttp
import pytest

from service.config.sinks import PagerDutySinkSettings
from service.domain.envelope import compose_event
from service.notify.sinks.pagerduty import PagerDutySink
from service.runtime.retry import Permanent
from tests.adapters.fakes import bundles
from tests.adapters.fakes.harness import (
    PUBLIC_URL,
    delivery_of,
    evidence_message,
    http_of,
    huge_message,
    serving,
)
from tests.adapters.fakes.pagerduty import FakePagerDuty

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"


def _sink(fake: FakePagerDuty, session: aiohttp.ClientSession,
          key: str = ROUTING_KEY) -> PagerDutySink:
    settings = PagerDutySinkSettings.model_validate({"type": "pagerduty", "url": fake.url,
                                                     "token": key, "timeout_s": 2})
    return PagerDutySink("pd", settings, http_of(session))


async def test_trigger_then_resolve_the_same_alert() -> None:
    fake = FakePagerDuty({ROUTING_KEY})
    incident = bundles.incident()
    evidence = huge_message(incident)
    resolved = compose_event(incident, event="resolved", key="resolved", title="Recovered",
                             summary="builds pass again", severity="info",
                             public_url=PUBLIC_URL)
    async with serving(fake), aiohttp.ClientSession() as session:
        sink = _sink(fake, session)
        await sink.send(delivery_of(evidence, "pd"))
        assert fake.alerts == {incident.id: "triggered"}
        await sink.send(delivery_of(resolved, "pd"))
    assert fake.alerts == {incident.id: "resolved"}
    trigger, resolve = fake.events
    assert trigger["dedup_key"] == resolve["dedup_key"] == incident.id
    payload = trigger["payload"]
    assert len(payload["summary"]) <= 1024
    assert payload["severity"] == "critical"
    assert payload["source"] == "codex-k8s-prod"
    assert payload["custom_details"]["Signature"] == "cache"
    assert payload["custom_details"]["incident_url"] == evidence.incident_url
    assert trigger["links"][0]["href"] == evidence.incident_url
    assert resolve == {"routing_key": ROUTING_KEY, "event_action": "resolve",
                       "dedup_key": incident.id}


async def test_invalid_routing_key_is_permanent_with_pagerdutys_errors() -> None:
    fake = FakePagerDuty({ROUTING_KEY})
    async with serving(fake), aiohttp.ClientSession() as session:
        with pytest.raises(Permanent) as caught:
            await _sink(fake, session, key="not-the-key").send(
                delivery_of(evidence_message(bundles.incident()), "pd"))
    assert caught.value.status == 400
    assert "Invalid routing key" in str(caught.value)
    assert "not-the-key" not in str(caught.value)
