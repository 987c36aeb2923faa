"""The Telegram sink against a fake Bot API: 4096 characters, HTML that parses, refusals that say
why and never show the token (how each answer is classified, ``retry_after`` in the body among
them: tests/adapters/test_sink_retry_table.py)."""

from __future__ import annotations

import aiohttp
import pytest

from service.config.sinks import TelegramSinkSettings
from service.notify.sinks.telegram import TelegramSink
from service.runtime.retry import Permanent, Retryable
from tests.adapters.fakes import bundles
from tests.adapters.fakes.harness import (
    delivery_of,
    evidence_message,
    http_of,
    huge_message,
    serving,
)
from tests.adapters.fakes.telegram import FakeTelegram

TOKEN = "123456789:AAH-fake-token-for-tests_0123456789abc"
CHAT = "-100200300"


def _sink(fake: FakeTelegram, session: aiohttp.ClientSession, *, token: str = TOKEN,
          chat: str = CHAT, html: bool = True) -> TelegramSink:
    settings = TelegramSinkSettings.model_validate({"type": "telegram", "url": fake.url,
                                                    "token": token, "chat_id": chat,
                                                    "timeout_s": 2})
    return TelegramSink("tg", settings, http_of(session), parse_mode="HTML" if html else None)


@pytest.mark.parametrize("html", [True, False])
@pytest.mark.parametrize("scale", [1, 80])
async def test_message_fits_4096_and_parses(html: bool, scale: int) -> None:
    fake = FakeTelegram(TOKEN, {CHAT})
    message = (huge_message(bundles.incident()) if scale > 1
               else evidence_message(bundles.incident()))
    async with serving(fake), aiohttp.ClientSession() as session:
        await _sink(fake, session, html=html).send(delivery_of(message, "tg"))
    (body,) = fake.messages
    assert len(body["text"].encode("utf-16-le")) // 2 <= 4096
    assert body["chat_id"] == CHAT
    assert message.incident_url in body["text"]
    assert message.title.split("]")[1].strip() in body["text"]
    assert (body.get("parse_mode") == "HTML") is html
    assert fake.received[0].path == f"/bot{TOKEN}/sendMessage"


async def test_unknown_chat_is_permanent() -> None:
    fake = FakeTelegram(TOKEN, {CHAT})
    async with serving(fake), aiohttp.ClientSession() as session:
        with pytest.raises(Permanent) as caught:
            await _sink(fake, session, chat="42").send(delivery_of(evidence_message(
                bundles.incident()), "tg"))
    assert "chat not found" in str(caught.value)


async def test_bad_token_is_permanent_and_the_token_is_never_in_the_error() -> None:
    fake = FakeTelegram(TOKEN, {CHAT})
    wrong = "987654321:AAwrong-token-never-to-be-shown_01234567"
    async with serving(fake), aiohttp.ClientSession() as session:
        with pytest.raises(Permanent) as caught:
            await _sink(fake, session, token=wrong).send(delivery_of(evidence_message(
                bundles.incident()), "tg"))
        await fake.down()
        with pytest.raises(Retryable) as refused:
            await _sink(fake, session, token=wrong).send(delivery_of(evidence_message(
                bundles.incident()), "tg"))
    assert caught.value.status == 401
    for error in (caught.value, refused.value):
        assert wrong not in str(error) and "987654321" not in str(error)
