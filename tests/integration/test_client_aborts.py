"""Issue 12, finding 8: a client that goes away in the middle of its upload is the client's
business: one line at info, no traceback. On main each such request was logged at error level
with a 930-character traceback (1,000 such lines from one slow client)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

import pytest
from structlog.testing import capture_logs

from tests.conftest import WEBHOOK_TOKEN, AppStarter
from tests.waiting import until


async def _abort_upload(base: str, path: bytes = b"/webhook") -> None:
    url = urlsplit(base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(b"POST " + path + b" HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                 b"Authorization: Bearer " + WEBHOOK_TOKEN.encode() + b"\r\n"
                 b"Expect: 100-continue\r\nContent-Length: 100000\r\n\r\n")
    # The server says "continue" once it routed the request to its handler: the body
    # is awaited now.
    assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b'{"version": "4", "alerts": [')
    await writer.drain()
    writer.transport.abort()  # gone, as a killed client or a dropped connection is


async def _metrics(client: Any) -> str:
    async with client.http.get(f"{client.base}/metrics") as r:
        return await r.text()


async def test_an_aborted_upload_is_one_info_line_without_traceback(
    start_app: AppStarter, settings, caplog: pytest.LogCaptureFixture
) -> None:
    client = await start_app(settings)
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    with capture_logs() as logs:
        for _ in range(3):
            await _abort_upload(client.base)
        # The server notices each reset on its own schedule.
        await until(lambda: len([e for e in logs if e["event"] == "webhook_aborted"]) == 3,
                    "the aborted uploads were not all logged")
    problems = [e for e in logs if e["log_level"] in ("error", "critical", "exception")
                or "exc_info" in e]
    assert problems == []
    assert [r.getMessage() for r in caplog.records
            if r.levelno >= logging.WARNING and r.name.startswith("aiohttp")] == []
    aborted = [e for e in logs if e["event"] == "webhook_aborted"]
    assert len(aborted) == 3 and all(e["log_level"] == "info" for e in aborted)
    assert 'aislot_webhooks_total{outcome="aborted"} 3.0' in await _metrics(client)
    # The service is still fine for the next client.
    assert (await client.get("/incidents"))[0] == 200
