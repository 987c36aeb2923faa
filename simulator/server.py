"""The simulator: an aiohttp server that a client cannot tell from kube-apiserver.

Purpose: `Simulator` ties a scenario, a clock, the world, fault rules and the audit log to an
HTTP server: discovery (`/version`, `/api`, `/apis`, group versions), resource endpoints,
watches, logs and the `/_sim` control endpoints; bearer-token authentication; fault
application (latency, 403, 429, 5xx, drops) before handlers; audit of every write. It writes a
kubeconfig that kubectl and kubernetes_asyncio use unchanged.
Boundary: owns the HTTP lifecycle; the world owns the state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from simulator import catalog, control_api, status
from simulator.api_router import DROP, ApiRouter
from simulator.audit import AuditLog
from simulator.blueprint import NAMESPACE
from simulator.clock import Clock, ManualClock, ScaledClock, parse_time, rfc3339
from simulator.faults import FaultEngine, FaultRule
from simulator.kubeconfig import kubeconfig_text
from simulator.resource_api import ResourceApi
from simulator.responses import (
    RequestInfo,
    error_response,
    json_response,
    parse_request,
    truthy,
)
from simulator.scenario import Scenario, load_scenario
from simulator.status import ApiError
from simulator.summary import world_summary
from simulator.traffic import Traffic
from simulator.world import World

DEFAULT_START = "2026-02-26T10:00:00Z"
DEFAULT_USER = f"system:serviceaccount:{NAMESPACE}:aislot-responder"
OPEN_PATHS = {"/version", "/healthz", "/readyz", "/livez"}


class _Dropped(Exception):
    """The connection was cut by a `drop` fault; nothing more is written."""


class Simulator:
    """A simulated `codex-k8s-prod` namespace behind a kube-apiserver-compatible HTTP API.

    `clock` defaults to real time x `speed` from the scenario's `start` (or now); tests pass a
    `ManualClock` (see `Simulator.manual`) and call `advance(seconds)`. Any clock that is not a
    `ManualClock` is polled every 0.25 s while serving, so watches see the world move.
    """

    def __init__(
        self,
        scenario: str | Scenario = "healthy",
        *,
        clock: Clock | None = None,
        speed: float = 1.0,
        token: str = "aislot-sim-token",  # noqa: S107 (test credential)
        user: str = DEFAULT_USER,
    ) -> None:
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        if clock is None:
            start = parse_time(self.scenario.start) if self.scenario.start else None
            clock = ScaledClock(start if start is not None else _wall_now(), speed)
        self.clock = clock
        self.token = token
        self.user = user
        self.audit = AuditLog()
        self.faults = FaultEngine(self.scenario.faults, seed=self.scenario.seed)
        self.traffic = Traffic()
        self.world = World(self.scenario, clock)
        self.url = ""
        self.kubeconfig_path: Path | None = None
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None

    @classmethod
    def manual(
        cls, scenario: str | Scenario = "healthy", start: str | None = None, **kwargs: Any
    ) -> Simulator:
        """A simulator whose clock only moves on `advance` (deterministic tests)."""
        loaded = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        begin = parse_time(start or loaded.start or DEFAULT_START)
        return cls(loaded, clock=ManualClock(begin), **kwargs)

    # -- control -----------------------------------------------------------------------------
    def advance(self, seconds: float) -> float:
        """Move simulated time forward and let the world catch up; returns the new now."""
        self.clock.advance(seconds)
        return self.world.sync()

    def now_text(self) -> str:
        return rfc3339(self.world.now)

    def load(self, scenario: str | Scenario) -> None:
        """Restart the world with another scenario (same clock, same server)."""
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.faults.clear()
        for rule in self.scenario.faults:
            self.faults.add(rule)
        self.world = World(self.scenario, self.clock)
        self._router = ApiRouter(ResourceApi(self.world, self.faults, self.user), self.faults)

    def add_fault(self, rule: FaultRule | dict[str, Any] | None = None, **fields: Any) -> FaultRule:
        """Activate a fault rule, e.g. `add_fault(kind="throttle", resource="pods")`."""
        return self.faults.add(rule if rule is not None else fields)

    def state(self) -> dict[str, Any]:
        """A summary of the world for tests and the demo."""
        summary = world_summary(self.world)
        summary["scenario"] = self.scenario.name
        summary["faults"] = [r.model_dump() for r in self.faults.rules()]
        summary["audit_entries"] = len(self.audit.entries())
        summary["peak_in_flight"] = self.traffic.peak
        return summary

    # -- lifecycle ---------------------------------------------------------------------------
    def app(self) -> web.Application:
        self._router = ApiRouter(ResourceApi(self.world, self.faults, self.user), self.faults)
        app = web.Application(middlewares=[self._middleware], client_max_size=8 * 1024 * 1024)
        app.add_routes(control_api.routes(self))
        app.router.add_get("/version", self._version)
        for path in ("/healthz", "/readyz", "/livez"):
            app.router.add_get(path, self._ok)
        app.router.add_route("*", "/api", self._dispatch)
        app.router.add_route("*", "/api/{tail:.*}", self._dispatch)
        app.router.add_route("*", "/apis", self._dispatch)
        app.router.add_route("*", "/apis/{tail:.*}", self._dispatch)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 = any free port); returns the base URL."""
        self._runner = web.AppRunner(
            self.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        addresses = self._runner.addresses
        bound = int(addresses[0][1]) if addresses else port
        self.url = f"http://{host}:{bound}"
        if not isinstance(self.clock, ManualClock):
            self._ticker = asyncio.create_task(self._tick())
        return self.url

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        if not self.url:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            self.world.sync()

    def write_kubeconfig(self, path: str | Path) -> Path:
        """Write a kubeconfig for this server (plain http, bearer token, namespace set)."""
        if not self.url:
            raise RuntimeError("start the simulator before writing its kubeconfig")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            kubeconfig_text(self.url, self.token, self.world.namespace), encoding="utf-8"
        )
        self.kubeconfig_path = target
        return target

    # -- HTTP --------------------------------------------------------------------------------
    async def _version(self, request: web.Request) -> web.Response:
        return json_response(catalog.SERVER_VERSION)

    async def _ok(self, request: web.Request) -> web.Response:
        return web.Response(text="ok", content_type="text/plain")

    def _authorized(self, request: web.Request) -> bool:
        """A wrong credential is rejected (401). No credential at all is accepted as the
        configured user, like the apiserver's old insecure port: client-go never sends a bearer
        token over plain http, so kubectl could not talk to a loopback http server otherwise.
        """
        header = request.headers.get("Authorization")
        return header is None or header == f"Bearer {self.token}"

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/_sim/") or request.path in OPEN_PATHS:
            response: web.StreamResponse = await handler(request)
            return response
        info: RequestInfo | None = None
        try:
            if not self._authorized(request):
                raise status.unauthorized()
            self.world.sync()
            watching = truthy(request.query.get("watch"))
            info = parse_request(request.method, request.path, watching)
            if info is None:
                response = await handler(request)
            else:
                writer = request._payload_writer  # aiohttp keeps no public count of it
                response = await self.traffic.count(info.verb, info.resource,
                                                    self._answer(request, info, handler),
                                                    lambda: writer.output_size, info.name)
                self.traffic.sent(info.verb, info.resource, _body_size(response))
        except ApiError as error:
            response = error_response(error)
        except _Dropped:
            return web.Response(status=500)
        if info is not None and request.method not in ("GET", "HEAD"):
            await self._audit(request, response.status)
        return response

    async def _answer(self, request: web.Request, info: RequestInfo,
                      handler: Any) -> web.StreamResponse:
        await self._apply_faults(request, info)
        response: web.StreamResponse = await handler(request)
        return response

    async def _apply_faults(self, request: web.Request, info: RequestInfo) -> None:
        f = self.faults
        delay = f.latency(info.verb, info.resource, info.name)
        if delay > 0:
            await asyncio.sleep(delay)
        if f.denies(info.verb, info.resource, info.name):
            raise status.forbidden(
                self.user,
                info.verb,
                info.plural,
                info.group,
                namespace=info.namespace,
                name=info.name,
                subresource=info.subresource,
            )
        rule = f.fire("throttle", info.verb, info.resource, info.name)
        if rule is not None:
            raise status.too_many_requests(rule.retry_after)
        rule = f.fire("error", info.verb, info.resource, info.name)
        if rule is not None:
            if rule.status == 503:
                raise status.service_unavailable(rule.retry_after or None)
            if rule.status == 404:  # the object went away (a pod removed with its job's TTL)
                raise status.not_found(info.resource.split("/")[0], "", info.name or "")
            if rule.status == 422:  # an admission webhook or validation refusing the write
                raise status.invalid(info.resource, "", info.name or "", "metadata",
                                     "Invalid value: refused by a validating webhook")
            raise status.internal_error("etcdserver: request timed out")
        drop = f.fire("drop", info.verb, info.resource, info.name)
        if drop is None and info.verb == "watch":  # how a watch ends: 410 Gone, or never
            drop = f.fire("gone", "watch", info.resource, info.name) or f.fire(
                "silent", "watch", info.resource, info.name)
        if drop is not None:
            request[DROP] = drop
        if (
            drop is not None
            and info.verb not in ("watch",)
            and info.resource != "pods/log"
            and request.transport is not None
        ):
            request.transport.abort()
            raise _Dropped

    async def _audit(self, request: web.Request, code: int) -> None:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.audit.record(
            self.world.now,
            request.method,
            request.path,
            query=dict(request.query),
            content_type=request.headers.get("Content-Type", ""),
            body=body,
            status=code,
            user=self.user,
        )

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        return await self._router.dispatch(request)


def _body_size(response: web.StreamResponse) -> int:
    """Bytes of a plain answer, written after the middleware (a stream counted its own)."""
    if isinstance(response, web.Response) and not response.prepared:
        body = response.body
        return len(body) if isinstance(body, bytes | bytearray) else 0
    return 0


def _wall_now() -> float:
    return float(int(time.time()))
