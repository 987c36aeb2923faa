"""One retry-classification table, run against every HTTP sink (as Alertmanager's notifier
tests share ``notify/test.RetryTests``): each answer an API may give, sent by that sink's own
fake server (which speaks its protocol, error bodies and all), and the class the sink must make
of it: delivered, retryable (with the wait a ``Retry-After`` asked for) or permanent.

The classification itself lives in one place (``service.notify.sinks.transport`` and
``service.runtime.retry.classify_status``); where a sink reads an answer its own way, the table
says so
in that row's exceptions: Telegram puts ``retry_after`` in its 429 body and says ``"ok": true``
in every success, GitHub signals rate limits on a 403 and names one in its 429 message. The
console sink sends nothing over HTTP and has no row to answer.

Every failure must also keep the sink's secrets (tokens, the Slack URL) out of its text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import format_datetime
from typing import Any, Literal

import aiohttp
import pytest

from service.notify.routing import build_sink
from service.runtime.clock import ManualClock
from service.runtime.retry import Permanent, Retryable
from tests.adapters.fakes import bundles
from tests.adapters.fakes.github import FakeGithub
from tests.adapters.fakes.harness import (
    delivery_of,
    evidence_message,
    http_of,
    serving,
    sink_settings,
)
from tests.adapters.fakes.pagerduty import FakePagerDuty
from tests.adapters.fakes.server import FakeServer
from tests.adapters.fakes.slack import HOOK_PATH, FakeSlack
from tests.adapters.fakes.telegram import FakeTelegram
from tests.adapters.fakes.webhook import FakeWebhook

TOKEN = "table-secret-token-0123456789abcdef"
CHAT = "-100200300"
REPO = "codex-k8s/platform"
HANG_S = 2.0  # how long a hanging fake keeps the request; the sink gives up at TIMEOUT_S
TIMEOUT_S = 0.2

Class = Literal["delivered", "retryable", "permanent"]


@dataclass(frozen=True)
class Outcome:
    """What a sink made of one answer; ``retry_after_s`` the wait a retryable one asks for."""

    kind: Class
    retry_after_s: float | None = None


DELIVERED = Outcome("delivered")
PERMANENT = Outcome("permanent")


def retry(after_s: float | None = None) -> Outcome:
    return Outcome("retryable", after_s)


@dataclass(frozen=True)
class Answer:
    """How the fake answers the sink's request."""

    how: Literal["success", "error", "refused", "timeout"]
    status: int = 0
    retry_after: str | None = None  # "+N": an HTTP date N seconds after the clock's now
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    answer: Answer
    expect: Outcome
    except_for: dict[str, Outcome] = field(default_factory=dict)


def ok(status: int) -> Answer:
    return Answer("success", status)


def err(status: int, retry_after: str | None = None, **headers: str) -> Answer:
    return Answer("error", status, retry_after, headers)


# Telegram's 429 body says {"parameters": {"retry_after": 1}}, which wins over the header.
TELEGRAM_429 = {"telegram": retry(1)}

TABLE: dict[str, Row] = {
    "200": Row(ok(200), DELIVERED),
    "202": Row(ok(202), DELIVERED),
    # A Bot API answer without {"ok": true} is not a sent message; it is not retried either,
    # as the message may have been sent.
    "204": Row(ok(204), DELIVERED, {"telegram": PERMANENT}),
    "301": Row(err(301), PERMANENT),  # redirects are not followed: the URL is wrong
    "400": Row(err(400), PERMANENT),
    "401": Row(err(401), PERMANENT),
    "403": Row(err(403), PERMANENT),
    # GitHub's secondary rate limit is a 403 with Retry-After; to anyone else it is a refusal.
    "403-retry-after": Row(err(403, "30"), PERMANENT, {"github": retry(30)}),
    "404": Row(err(404), PERMANENT),
    "408": Row(err(408), retry()),
    "409": Row(err(409), PERMANENT),
    "413": Row(err(413), PERMANENT),
    "422": Row(err(422), PERMANENT),
    # GitHub's 429 says "API rate limit exceeded": it waits the minute GitHub asks for.
    "429": Row(err(429), retry(), {**TELEGRAM_429, "github": retry(60)}),
    "429-retry-after-seconds": Row(err(429, "7"), retry(7), TELEGRAM_429),
    "429-retry-after-date": Row(err(429, "+120"), retry(120), TELEGRAM_429),
    "500": Row(err(500), retry()),
    "502": Row(err(502), retry()),
    "503": Row(err(503), retry()),
    "503-retry-after": Row(err(503, "5"), retry(5)),
    "504": Row(err(504), retry()),
    "connection-refused": Row(Answer("refused"), retry()),
    "timeout": Row(Answer("timeout"), retry()),
}


@dataclass(frozen=True)
class Target:
    """A sink type's fake API and the settings of a sink pointed at it."""

    fake: Callable[[], FakeServer]
    settings: Callable[[Any], dict[str, Any]]  # given the started fake


TARGETS: dict[str, Target] = {
    "webhook": Target(lambda: FakeWebhook(token=TOKEN),
                      lambda fake: {"url": fake.hook_url, "token": TOKEN}),
    "slack": Target(FakeSlack, lambda fake: {"url": fake.hook_url}),
    "telegram": Target(lambda: FakeTelegram(TOKEN, {CHAT}),
                       lambda fake: {"url": fake.url, "token": TOKEN, "chat_id": CHAT}),
    "github": Target(lambda: FakeGithub(TOKEN, REPO, {205}),
                     lambda fake: {"url": fake.url, "token": TOKEN, "repo": REPO}),
    "pagerduty": Target(lambda: FakePagerDuty({TOKEN}),
                        lambda fake: {"url": fake.url, "token": TOKEN}),
}
SECRETS = (TOKEN, HOOK_PATH)


def _program(fake: FakeServer, answer: Answer, clock: ManualClock) -> None:
    if answer.how == "success":
        fake.succeed_next(1, answer.status)
    elif answer.how == "timeout":
        fake.hang_next(1, HANG_S)
    elif answer.how == "error":
        retry_after = answer.retry_after
        if retry_after is not None and retry_after.startswith("+"):
            when = clock.now() + timedelta(seconds=int(retry_after[1:]))
            retry_after = format_datetime(when, usegmt=True)
        fake.fail_next(1, answer.status, retry_after=retry_after, headers=answer.headers)


def test_the_table_covers_every_http_sink_type() -> None:
    from service.config.settings import SINK_MODELS

    assert set(TARGETS) == set(SINK_MODELS) - {"console"}
    assert {sink for row in TABLE.values() for sink in row.except_for} <= set(TARGETS)


@pytest.mark.parametrize("case", TABLE)
@pytest.mark.parametrize("sink_type", TARGETS)
async def test_every_sink_classifies_every_answer(sink_type: str, case: str) -> None:
    row, target = TABLE[case], TARGETS[sink_type]
    expected = row.except_for.get(sink_type, row.expect)
    clock = ManualClock()
    fake = target.fake()
    message = evidence_message(bundles.incident())
    error: Retryable | Permanent | None = None
    async with serving(fake), aiohttp.ClientSession() as session:
        timeout_s = TIMEOUT_S if row.answer.how == "timeout" else 10.0
        settings = sink_settings(type=sink_type, timeout_s=timeout_s, **target.settings(fake))
        sink = build_sink("target", settings, http_of(session, clock))
        _program(fake, row.answer, clock)
        if row.answer.how == "refused":
            await fake.down()
        try:
            await sink.send(delivery_of(message, "target"))
            got = DELIVERED
        except Retryable as exc:
            error, got = exc, retry(exc.retry_after_s)
        except Permanent as exc:
            error, got = exc, PERMANENT
    assert got == expected, f"{sink_type} made {got} of {case}, the table says {expected}"
    if error is not None:
        assert not [s for s in SECRETS if s in str(error)], f"{sink_type}: a secret in {error}"
        if row.answer.status:
            assert error.status == row.answer.status
    else:
        assert [r.method for r in fake.received] == ["POST"]
