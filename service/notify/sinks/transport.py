"""HTTP for sinks: one request with a timeout, its failures classified by ``service.runtime.retry``.

Purpose: the only place sinks touch aiohttp, so every integration gets the same timeout,
the same error mapping (connection errors and timeouts are retryable; HTTP statuses go through
``classify_status``) and the same care with secrets: error texts name the sink and the
status, never the URL (a Telegram URL holds the bot token, a Slack URL is itself a secret).
tests/adapters/test_sink_retry_table.py holds every sink to one table of these outcomes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from multidict import CIMultiDict

from service.domain.redaction import redact
from service.runtime.clock import Clock
from service.runtime.retry import AdapterError, Permanent, Retryable, classify_status

BODY_SNIPPET = 300


@dataclass(frozen=True)
class Http:
    """What every sink sends with: the one shared session, and the clock that dates each
    answer (a ``Retry-After`` date or a rate limit's reset time is read against it)."""

    session: aiohttp.ClientSession
    clock: Clock


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, headers, body text, and when it came."""

    status: int
    headers: Mapping[str, str]
    text: str
    at: datetime

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def snippet(text: str) -> str:
    """A short, redacted piece of a body for an error message."""
    flat = " ".join(text.split())
    return redact(flat[:BODY_SNIPPET])


async def request(http: Http, method: str, url: str, *, what: str,
                  timeout_s: float, json_body: Any = None,
                  headers: Mapping[str, str] | None = None,
                  params: Mapping[str, str] | None = None) -> Reply:
    """Send one request; connection failures and timeouts raise ``Retryable``.

    ``what`` names the target in errors ("telegram sendMessage"); the URL never appears.
    """
    try:
        async with asyncio.timeout(timeout_s):
            async with http.session.request(method, url, json=json_body, headers=headers,
                                            params=params, allow_redirects=False) as resp:
                text = await resp.text(errors="replace")
                return Reply(resp.status, CIMultiDict(resp.headers), text, http.clock.now())
    except aiohttp.InvalidURL as exc:  # before ClientError: it is one, but never heals
        raise Permanent(f"{what}: invalid URL") from exc
    except TimeoutError as exc:
        raise Retryable(f"{what}: timed out after {timeout_s:g}s") from exc
    except aiohttp.ClientConnectionError as exc:
        raise Retryable(f"{what}: connection failed ({type(exc).__name__})") from exc
    except aiohttp.ClientError as exc:
        raise Retryable(f"{what}: request failed ({type(exc).__name__})") from exc
    except (ValueError, TypeError) as exc:  # a URL or body that cannot be sent: config or bug
        raise Permanent(f"{what}: invalid request ({type(exc).__name__})") from exc


def failure(reply: Reply, what: str, detail: str | None = None) -> AdapterError:
    """The classified error of a non-success answer (``Retry-After`` honoured)."""
    text = f"{what}: HTTP {reply.status}: {detail if detail is not None else snippet(reply.text)}"
    return classify_status(reply.status, text, reply.headers.get("Retry-After"), reply.at)
