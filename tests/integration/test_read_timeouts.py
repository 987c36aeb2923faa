"""Issue 12, finding 9: read timeouts from config. On main a connection that sent half a
request head, or a webhook body slower than a trickle, was held 40 s and more (aiohttp's
keep-alive timeout, 75 s under ``run_app``, was the only bound on the head; none on a body)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

from tests.conftest import WEBHOOK_TOKEN, AppStarter, make_settings

SHORT = 0.2  # seconds; the bounds below are only there so a broken build fails, not hangs
HANG = 20.0


async def _connect(base: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    url = urlsplit(base)
    return await asyncio.open_connection(url.hostname, url.port)


async def test_a_request_head_not_finished_in_time_closes_the_connection(
    start_app: AppStarter, tmp_path: Path
) -> None:
    client = await start_app(make_settings(tmp_path, server={"request_head_timeout_s": SHORT}))
    reader, writer = await _connect(client.base)
    writer.write(b"POST /webhook HTTP/1.1\r\nHost: t\r\nX-Slow: ")  # and nothing more
    await writer.drain()
    async with asyncio.timeout(HANG):
        assert await reader.read() == b""  # the server closed it
    writer.close()
    # Nothing else is affected.
    assert (await client.get("/incidents"))[0] == 200


async def test_a_webhook_body_not_received_in_time_is_a_408(
    start_app: AppStarter, tmp_path: Path
) -> None:
    client = await start_app(make_settings(tmp_path, server={"body_timeout_s": SHORT}))
    reader, writer = await _connect(client.base)
    writer.write(b"POST /webhook HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                 b"Authorization: Bearer " + WEBHOOK_TOKEN.encode() + b"\r\n"
                 b"Content-Length: 5000\r\n\r\n" + b'{"version": "4"')
    await writer.drain()
    async with asyncio.timeout(HANG):
        head = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    assert head.startswith(b"HTTP/1.1 408"), head
    async with client.http.get(f"{client.base}/metrics") as r:
        assert 'aislot_webhooks_total{outcome="rejected_408"} 1.0' in await r.text()


def test_the_timeouts_are_settings_with_sane_defaults(tmp_path: Path) -> None:
    server = make_settings(tmp_path).server
    assert 0 < server.request_head_timeout_s <= 60 and 0 < server.body_timeout_s <= 120
