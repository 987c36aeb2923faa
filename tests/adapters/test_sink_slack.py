"""The Slack sink against a fake incoming webhook: Block Kit within limits, refusals that say
why (how each answer is classified: tests/adapters/test_sink_retry_table.py)."""

from __future__ import annotations

import aiohttp
import pytest

from service.config.sinks import SlackSinkSettings
from service.notify.sinks.slack import SlackSink
from service.runtime.retry import Permanent
from tests.adapters.fakes import bundles
from tests.adapters.fakes.harness import (
    delivery_of,
    evidence_message,
    http_of,
    huge_message,
    serving,
)
from tests.adapters.fakes.slack import FakeSlack, block_errors


async def _sink(fake: FakeSlack, session: aiohttp.ClientSession) -> SlackSink:
    settings = SlackSinkSettings.model_validate({"type": "slack", "url": fake.hook_url,
                                                 "timeout_s": 2})
    return SlackSink("chat", settings, http_of(session))


async def test_evidence_arrives_as_blocks_with_a_text_fallback() -> None:
    fake = FakeSlack()
    message = evidence_message(bundles.incident())
    async with serving(fake), aiohttp.ClientSession() as session:
        await (await _sink(fake, session)).send(delivery_of(message, "chat"))
    (body,) = fake.messages
    blocks = body["blocks"]
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text",
                                                    "text": message.title, "emoji": False}}
    assert "Next step" in blocks[3]["text"]["text"]  # after summary and facts
    assert message.incident_url in blocks[-1]["elements"][0]["text"]
    # Mattermost shows only `text`: it carries the title, the evidence and the link.
    assert message.title in body["text"] and message.incident_url in body["text"]
    assert "MANIFEST_UNKNOWN" in body["text"]


async def test_a_huge_bundle_stays_within_slack_limits() -> None:
    fake = FakeSlack()
    message = huge_message(bundles.incident())
    async with serving(fake), aiohttp.ClientSession() as session:
        await (await _sink(fake, session)).send(delivery_of(message, "chat"))
    (body,) = fake.messages
    assert block_errors(body["blocks"]) == []
    assert len(body["blocks"]) <= 50
    assert len(body["text"]) <= 4000
    assert message.incident_url in body["text"]
    assert "left out" in str(body["blocks"])


async def test_invalid_payload_is_permanent_and_says_why() -> None:
    fake = FakeSlack()
    fake.fail_next(1, 400)
    async with serving(fake), aiohttp.ClientSession() as session:
        with pytest.raises(Permanent) as caught:
            await (await _sink(fake, session)).send(delivery_of(evidence_message(
                bundles.incident()), "chat"))
    assert "invalid_payload" in str(caught.value)
