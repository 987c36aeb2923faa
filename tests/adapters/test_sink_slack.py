"""The Slack sink against a fake incoming webhook: Block Kit within limits, errors classified."""

from __future__ import annotations

import aiohttp
import pytest

from service.retry import Permanent, Retryable
from service.sinks.slack import SlackSink
from tests.adapters.fakes import bundles
from tests.adapters.fakes.harness import (
    delivery_of,
    evidence_message,
    huge_message,
    serving,
    sink_settings,
)
from tests.adapters.fakes.slack import FakeSlack, block_errors


async def _sink(fake: FakeSlack, session: aiohttp.ClientSession) -> SlackSink:
    return SlackSink("chat", sink_settings(type="slack", url=fake.hook_url, timeout_s=2),
                     session)


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


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_retryable(status: int) -> None:
    fake = FakeSlack()
    fake.fail_next(1, status)
    async with serving(fake), aiohttp.ClientSession() as session:
        with pytest.raises(Retryable) as caught:
            await (await _sink(fake, session)).send(delivery_of(evidence_message(
                bundles.incident()), "chat"))
    assert caught.value.status == status
    assert fake.hook_url not in str(caught.value)  # the webhook URL is the secret


async def test_rate_limit_carries_retry_after() -> None:
    fake = FakeSlack()
    fake.fail_next(1, 429, retry_after="7")
    async with serving(fake), aiohttp.ClientSession() as session:
        with pytest.raises(Retryable) as caught:
            await (await _sink(fake, session)).send(delivery_of(evidence_message(
                bundles.incident()), "chat"))
    assert caught.value.retry_after_s == 7


async def test_invalid_payload_is_permanent_and_says_why() -> None:
    fake = FakeSlack()
    fake.fail_next(1, 400)
    async with serving(fake), aiohttp.ClientSession() as session:
        with pytest.raises(Permanent) as caught:
            await (await _sink(fake, session)).send(delivery_of(evidence_message(
                bundles.incident()), "chat"))
    assert "invalid_payload" in str(caught.value)


async def test_connection_refused_is_retryable() -> None:
    fake = FakeSlack()
    async with serving(fake), aiohttp.ClientSession() as session:
        sink = await _sink(fake, session)
        await fake.down()
        with pytest.raises(Retryable) as caught:
            await sink.send(delivery_of(evidence_message(bundles.incident()), "chat"))
    assert "connection failed" in str(caught.value)
    assert fake.hook_url not in str(caught.value)
