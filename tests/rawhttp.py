"""Raw HTTP/1.1 over a socket, for what a well-behaved client library will not send: bytes
outside ASCII in a header, a body cut short, a head that never ends."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


async def exchange(base: str, head: bytes, body: bytes = b"", timeout: float = 10.0
                   ) -> tuple[int, bytes]:
    """Send ``head`` (request line and headers, without the blank line) and ``body``; return
    the response's status and its whole raw text (the server closes: ``Connection: close``)."""
    url = urlsplit(base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(head.rstrip(b"\r\n") + b"\r\nConnection: close\r\n"
                     + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        async with asyncio.timeout(timeout):
            raw = await reader.read()
    finally:
        writer.close()
    return int(raw.split(b" ", 2)[1]), raw
