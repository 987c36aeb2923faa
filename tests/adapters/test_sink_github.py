"""The GitHub sink against a fake REST API: comment body, marker, look-before-post, errors
(how each answer is classified: tests/adapters/test_sink_retry_table.py)."""

from __future__ import annotations

import aiohttp
import pytest

from service.config.sinks import GithubSinkSettings
from service.notify.sinks.github import GithubSink, marker
from service.runtime.clock import ManualClock
from service.runtime.retry import Permanent, Retryable
from tests.adapters.fakes import bundles
from tests.adapters.fakes.github import SECONDARY_LIMIT, FakeGithub
from tests.adapters.fakes.harness import (
    delivery_of,
    evidence_message,
    http_of,
    huge_message,
    serving,
)

TOKEN = "ghp_" + "T" * 36
REPO = "codex-k8s/platform"


def _sink(fake: FakeGithub, session: aiohttp.ClientSession, *, token: str = TOKEN,
          issue: str | None = None, clock: ManualClock | None = None) -> GithubSink:
    settings = GithubSinkSettings.model_validate({"type": "github", "url": fake.url,
                                                  "token": token, "repo": REPO, "issue": issue,
                                                  "timeout_s": 2})
    return GithubSink("gh", settings, http_of(session, clock))


async def test_comment_on_the_related_issue_with_a_hidden_marker() -> None:
    fake = FakeGithub(TOKEN, REPO, {205})
    message = evidence_message(bundles.incident())
    async with serving(fake), aiohttp.ClientSession() as session:
        await _sink(fake, session).send(delivery_of(message, "gh"))
    (comment,) = fake.comments[205]
    assert comment["body"].endswith(marker(message.incident_id, message.key))
    assert comment["body"].startswith(f"### {message.title}")
    assert f"]({message.incident_url})" in comment["body"]
    request = fake.received[0]
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/vnd.github+json"


async def test_a_huge_bundle_fits_the_body_limit() -> None:
    fake = FakeGithub(TOKEN, REPO, {205})
    message = huge_message(bundles.incident())
    async with serving(fake), aiohttp.ClientSession() as session:
        await _sink(fake, session).send(delivery_of(message, "gh"))
    (comment,) = fake.comments[205]
    assert 60000 < len(comment["body"]) < 65536


async def test_a_retry_does_not_post_twice_when_the_marker_is_there() -> None:
    fake = FakeGithub(TOKEN, REPO, {205})
    message = evidence_message(bundles.incident())
    for i in range(150):  # the marker lands on the second page
        fake.add_comment(205, f"discussion {i}")
    async with serving(fake), aiohttp.ClientSession() as session:
        sink = _sink(fake, session)
        await sink.send(delivery_of(message, "gh", attempts=1))
        await sink.send(delivery_of(message, "gh", attempts=2))
    assert sum(marker(message.incident_id, message.key) in c["body"]
               for c in fake.comments[205]) == 1
    assert [r.method for r in fake.received] == ["POST", "GET", "GET"]


async def test_a_retry_posts_when_the_first_attempt_did_not_land() -> None:
    fake = FakeGithub(TOKEN, REPO, {205})
    message = evidence_message(bundles.incident())
    async with serving(fake), aiohttp.ClientSession() as session:
        await _sink(fake, session).send(delivery_of(message, "gh", attempts=3))
    assert len(fake.comments[205]) == 1
    assert [r.method for r in fake.received] == ["GET", "POST"]


async def test_bad_credentials_and_unknown_issue_are_permanent() -> None:
    fake = FakeGithub(TOKEN, REPO, {205})
    message = evidence_message(bundles.incident())
    async with serving(fake), aiohttp.ClientSession() as session:
        with pytest.raises(Permanent) as bad:
            await _sink(fake, session, token="ghp_" + "W" * 36).send(delivery_of(message, "gh"))
        with pytest.raises(Permanent) as missing:
            await _sink(fake, session, issue="999").send(delivery_of(message, "gh"))
    assert bad.value.status == 401 and "Bad credentials" in str(bad.value)
    assert missing.value.status == 404 and "Not Found" in str(missing.value)
    assert "W" * 36 not in str(bad.value)


async def test_no_issue_to_comment_on_is_permanent() -> None:
    fake = FakeGithub(TOKEN, REPO, {205})
    message = evidence_message(bundles.incident(related_issue=None))
    async with serving(fake), aiohttp.ClientSession() as session:
        with pytest.raises(Permanent, match="no issue"):
            await _sink(fake, session).send(delivery_of(message, "gh"))
    assert fake.received == []


async def test_githubs_rate_limit_signs_on_a_403_make_it_retryable() -> None:
    """Besides Retry-After (the table), GitHub says "rate limit" by its headers or its message;
    a 403 with neither is a refusal."""
    clock = ManualClock()
    reset = int(clock.now().timestamp()) + 120
    fake = FakeGithub(TOKEN, REPO, {205})
    fake.fail_next(1, 403, headers={"x-ratelimit-remaining": "0",
                                    "x-ratelimit-reset": str(reset)})
    fake.fail_next(1, 403, body=SECONDARY_LIMIT)
    fake.fail_next(1, 403)  # "Resource not accessible by integration"
    message = evidence_message(bundles.incident())
    async with serving(fake), aiohttp.ClientSession() as session:
        sink = _sink(fake, session, clock=clock)
        errors = []
        for _ in range(3):
            with pytest.raises((Retryable, Permanent)) as caught:
                await sink.send(delivery_of(message, "gh"))
            errors.append(caught.value)
    by_headers, by_message, refused = errors
    assert isinstance(by_headers, Retryable) and by_headers.retry_after_s == 120
    assert isinstance(by_message, Retryable) and by_message.retry_after_s == 60
    assert isinstance(refused, Permanent) and "not accessible" in str(refused)
