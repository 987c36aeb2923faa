"""The GitHub sink: a comment on the incident's related issue (REST API, ``Bearer`` token).

``POST /repos/{owner}/{repo}/issues/{issue}/comments`` with a Markdown body under GitHub's
65536-character limit. Idempotency: every comment ends with a hidden marker
``<!-- aislot-responder:{incident}:{key} -->``; on a later attempt of the same delivery (the
previous one may have posted before we lost the answer) the issue's comments are listed first
and nothing is posted when the marker is there. GitHub's secondary rate limit is a 403 or 429
with ``Retry-After`` or ``x-ratelimit-remaining: 0``: retryable, unlike other 403s.
"""

from __future__ import annotations

import re
from typing import Any

from service.config.sinks import GithubSinkSettings
from service.domain.messages import Delivery, Message
from service.notify.sinks import transport
from service.notify.sinks.render import render
from service.runtime.retry import AdapterError, Permanent, Retryable, parse_retry_after

BODY_LIMIT = 65536
MAX_PAGES = 20
PER_PAGE = 100
SECONDARY_WAIT_S = 60.0  # GitHub: "wait at least one minute" when it gives no header
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


def marker(incident_id: str, key: str) -> str:
    """The hidden line that identifies one message's comment."""
    return f"<!-- aislot-responder:{incident_id}:{key} -->"


def body_of(message: Message) -> str:
    """The comment: Markdown within the limit, the marker last."""
    tag = marker(message.incident_id, message.key)
    text = render(message, limit=BODY_LIMIT - len(tag) - 2, style="markdown")
    return f"{text}\n\n{tag}"


def error_of(reply: transport.Reply, what: str) -> AdapterError:
    """Classify a GitHub answer; secondary rate limits are retryable."""
    data = reply.json()
    detail = (transport.snippet(str(data.get("message", ""))) if isinstance(data, dict)
              else transport.snippet(reply.text))
    text = f"{what}: HTTP {reply.status}: {detail}"
    if reply.status in (403, 429):
        wait = parse_retry_after(reply.headers.get("Retry-After"), reply.at)
        if wait is None and reply.headers.get("x-ratelimit-remaining") == "0":
            reset = reply.headers.get("x-ratelimit-reset", "")
            if reset.isdigit():
                wait = max(0.0, int(reset) - reply.at.timestamp())
        if wait is None and "rate limit" in detail.lower():
            wait = SECONDARY_WAIT_S
        if wait is not None or reply.status == 429:
            return Retryable(text, status=reply.status, retry_after_s=wait)
    return transport.failure(reply, what, detail)


class GithubSink:
    """Comments on ``settings.issue`` (else the message's related issue) of ``settings.repo``."""

    type = "github"

    def __init__(self, name: str, settings: GithubSinkSettings, http: transport.Http) -> None:
        self.name = name
        self._base = settings.url.rstrip("/")
        self._repo = settings.repo
        self._issue = settings.issue
        self._token = settings.token
        self._timeout = settings.timeout_s
        self._http = http

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token.get_secret_value()}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "aislot-responder"}

    def _issue_of(self, message: Message) -> str:
        issue = (self._issue or message.related_issue or "").lstrip("#")
        if not issue.isdigit():
            raise Permanent(f"github sink {self.name}: no issue to comment on")
        return issue

    async def send(self, delivery: Delivery) -> None:
        message = delivery.message
        url = f"{self._base}/repos/{self._repo}/issues/{self._issue_of(message)}/comments"
        if delivery.attempts > 1 and await self._already_posted(url, message):
            return
        what = f"github sink {self.name} create comment"
        reply = await transport.request(self._http, "POST", url, what=what,
                                        timeout_s=self._timeout, headers=self._headers(),
                                        json_body={"body": body_of(message)})
        if not reply.ok:
            raise error_of(reply, what)

    async def _already_posted(self, url: str, message: Message) -> bool:
        """Whether a comment with this message's marker exists (pages followed)."""
        tag = marker(message.incident_id, message.key)
        what = f"github sink {self.name} list comments"
        next_url: str | None = url
        params: dict[str, str] | None = {"per_page": str(PER_PAGE)}
        for _ in range(MAX_PAGES):
            if next_url is None:
                return False
            reply = await transport.request(self._http, "GET", next_url, what=what,
                                            timeout_s=self._timeout, headers=self._headers(),
                                            params=params)
            if not reply.ok:
                raise error_of(reply, what)
            comments: Any = reply.json()
            if not isinstance(comments, list):
                raise Permanent(f"{what}: unexpected answer", status=reply.status)
            if any(isinstance(c, dict) and tag in str(c.get("body", "")) for c in comments):
                return True
            found = _NEXT.search(reply.headers.get("Link", ""))
            next_url, params = (found.group(1), None) if found else (None, None)
        return False
