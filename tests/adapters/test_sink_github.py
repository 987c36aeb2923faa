"""The GitHub sink against a fake REST API: comment body, marker, look-before-post, errors."""

from __future__ import annotations

import time

import aiohttp
import pytest

from service.retry import Permanent, Retryable
from service.sinks.github import GithubSink, marker
from tests.adapters.fakes import bundles
from tests.adapters.fakes.github import FakeGithub
from tests.adapters.fakes.harness import (
    delivery_of,
    evidence_message,
    huge_message,
    serving,
    sink_settings,
)

TOKEN = "ghp_" + "T" * 36
REPO = "codex-k8s/platform"


def _sink(fake: FakeGithub, session: aiohttp.ClientSession, *, token: str = TOKEN,
          issue: str | None = None) -> GithubSink:
    settings = sink_settings(type="github", url=fake.url, token=token, repo=REPO, issue=issue,
                             timeout_s=2)
    return GithubSink("gh", settings, session)


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


async def test_secondary_rate_limit_is_retryable_with_its_wait() -> None:
    fake = FakeGithub(TOKEN, REPO, {205})
    fake.fail_next(1, 403, retry_after="30")
    fake.fail_next(1, 403, headers={"x-ratelimit-remaining": "0",
                                    "x-ratelimit-reset": str(int(time.time()) + 120)})
    fake.fail_next(1, 403)  # no header, but the message says "secondary rate limit"
    fake.fail_next(1, 403, body={"message": "Resource not accessible by integration"})
    message = evidence_message(bundles.incident())
    async with serving(fake), aiohttp.ClientSession() as session:
        sink = _sink(fake, session)
        errors = []
        for _ in range(4):
            with pytest.raises((Retryable, Permanent)) as caught:
                await sink.send(delivery_of(message, "gh"))
            errors.append(caught.value)
    first, second, third, fourth = errors
    assert isinstance(first, Retryable) and first.retry_after_s == 30
    assert isinstance(second, Retryable) and second.retry_after_s is not None
    assert 0 < second.retry_after_s <= 120
    assert isinstance(third, Retryable) and third.retry_after_s == 60
    assert isinstance(fourth, Permanent)
