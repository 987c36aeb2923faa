"""The common part of every fake API: an aiohttp server on loopback that records requests,
answers programmed faults first, and can go down (connection refused) and come back on the
same port."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.waiting import first

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Received:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Fault:
    """One programmed answer: a status (with Retry-After), or a hang of ``delay_s``; with
    ``handled`` the API handles the request as usual and only the success status differs."""

    status: int = 500
    retry_after: str | None = None
    body: Any = None
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    handled: bool = False
    release: asyncio.Event | None = None


class FakeServer:
    """Base of the fakes; subclasses add routes and shape their error bodies."""

    def __init__(self) -> None:
        self.app = web.Application(middlewares=[self._middleware])
        self.received: list[Received] = []
        self._faults: deque[Fault] = deque()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeServer:
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        await self.up()
        return self

    async def up(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await self._site.start()
        if not self.port:
            self.port = self._runner.addresses[0][1]

    async def down(self) -> None:
        """Stop listening: connections are refused until ``up()``."""
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def close(self) -> None:
        self._closing.set()  # a hanging request ends now, not after its delay
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def fail_next(self, count: int, status: int, *, retry_after: str | None = None,
                  body: Any = None, headers: dict[str, str] | None = None) -> None:
        """The next ``count`` requests get ``status`` (the API's own error body by default)."""
        for _ in range(count):
            self._faults.append(Fault(status, retry_after, body, headers=dict(headers or {})))

    def succeed_next(self, count: int, status: int) -> None:
        """The next ``count`` requests are handled as usual but answered with ``status`` (a
        2xx the API might use instead of its own; 204 without the body)."""
        for _ in range(count):
            self._faults.append(Fault(status, handled=True))

    def hang_next(self, count: int, delay_s: float) -> None:
        """The next ``count`` requests are answered (normally) only after ``delay_s``, or
        when the fake closes."""
        for _ in range(count):
            self._faults.append(Fault(status=0, delay_s=delay_s))

    def hold_next(self, status: int, *, retry_after: str | None = None) -> asyncio.Event:
        """The next request is held (recorded, unanswered) until the returned event is set
        or the fake closes, then answered with ``status``: the test looks at the sender
        while a request is in flight."""
        release = asyncio.Event()
        self._faults.append(Fault(status, retry_after, release=release))
        return release

    def error_body(self, status: int) -> tuple[Any, str]:
        """The API's error body for ``status``: (body, content type). Subclasses shape it."""
        return {"error": f"HTTP {status}"}, "application/json"

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        self.received.append(Received(request.method, request.path, dict(request.query),
                                      dict(request.headers), body))
        if self._faults:
            fault = self._faults.popleft()
            if fault.delay_s:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), fault.delay_s)
            if fault.release is not None:
                await first(fault.release.wait(), self._closing.wait())
            if fault.handled:
                return _with_status(await handler(request), fault.status)
            if fault.status:
                response = self._fault_response(fault)
                response.force_close()
                return response
        answer = await handler(request)
        # No keep-alive: "down" must refuse the next request, not reuse a pooled connection.
        answer.force_close()
        return answer

    def _fault_response(self, fault: Fault) -> web.Response:
        body, content_type = self.error_body(fault.status)
        if fault.body is not None:
            body = fault.body
        headers = dict(fault.headers)
        if fault.retry_after is not None:
            headers["Retry-After"] = fault.retry_after
        if isinstance(body, str):
            return web.Response(status=fault.status, text=body, headers=headers,
                                content_type=content_type if content_type != "application/json"
                                else "text/plain")
        return web.json_response(body, status=fault.status, headers=headers)


def _with_status(answer: web.StreamResponse, status: int) -> web.Response:
    assert isinstance(answer, web.Response)
    body = None if status == 204 else answer.body
    response = web.Response(status=status, body=body, content_type=answer.content_type)
    response.force_close()
    return response


def json_error(status: int, body: Any) -> web.Response:
    return web.json_response(body, status=status)
