"""The generic webhook sink: the message as JSON with a stable Idempotency-Key."""

from __future__ import annotations

import aiohttp
import pytest

from service.config.sinks import WebhookSinkSettings
from service.domain.messages import Message
from service.notify.sinks.webhook import WebhookSink
from service.runtime.retry import Permanent
from tests.adapters.fakes import bundles
from tests.adapters.fakes.harness import delivery_of, evidence_message, http_of, serving
from tests.adapters.fakes.webhook import FakeWebhook

TOKEN = "wh-sink-token-0123456789"


def _sink(fake: FakeWebhook, session: aiohttp.ClientSession) -> WebhookSink:
    settings = WebhookSinkSettings(type="webhook", url=fake.hook_url, token=TOKEN, timeout_s=2)
    return WebhookSink("hook", settings, http_of(session))


async def test_message_as_json_with_idempotency_key_and_bearer() -> None:
    fake = FakeWebhook(token=TOKEN)
    message = evidence_message(bundles.incident())
    async with serving(fake), aiohttp.ClientSession() as session:
        sink = _sink(fake, session)
        await sink.send(delivery_of(message, "hook", attempts=1))
        await sink.send(delivery_of(message, "hook", attempts=2))
    assert fake.keys == [f"{message.incident_id}:{message.key}"] * 2
    assert len(fake.unique) == 1
    body = fake.deliveries[0]
    assert Message.model_validate(body["message"]) == message
    assert body["delivery"]["attempt"] == 1 and fake.deliveries[1]["delivery"]["attempt"] == 2
    assert message.incident_url in body["text"]


async def test_a_refusal_says_why() -> None:
    """How each answer is classified: tests/adapters/test_sink_retry_table.py."""
    fake = FakeWebhook(token=TOKEN)
    fake.fail_next(1, 400, body={"error": "schema mismatch"})
    message = evidence_message(bundles.incident())
    async with serving(fake), aiohttp.ClientSession() as session:
        with pytest.raises(Permanent) as permanent:
            await _sink(fake, session).send(delivery_of(message, "hook"))
    assert "schema mismatch" in str(permanent.value)
