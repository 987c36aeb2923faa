"""Supervised background tasks: named, restarted after a crash, cancelled and awaited at stop.

Loops of the service (outbox, policy, investigations) are hung here, never started as bare
tasks, so a crash is logged and retried and shutdown leaves nothing running.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from service.runtime.clock import Clock

log = structlog.get_logger(__name__)

LoopFactory = Callable[[], Awaitable[None]]


class Supervisor:
    """Owns the service's background tasks."""

    def __init__(self, *, clock: Clock, restart_delay_s: float,
                 max_restart_delay_s: float) -> None:
        """A crashed loop is restarted after ``restart_delay_s`` on ``clock``, doubled with
        each crash in a row up to ``max_restart_delay_s`` (settings:
        ``server.task_restart_delay_s``, ...)."""
        self._clock = clock
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._restart_delay = restart_delay_s
        self._max_delay = max_restart_delay_s
        self._closing = False

    def healthy(self) -> bool:
        """True while every long-running task is alive."""
        return not self._closing and all(not t.done() for t in self._tasks.values())

    def spawn(self, name: str, factory: LoopFactory, *, restart: bool = True) -> None:
        """Run ``factory()`` as task ``name``; with ``restart`` it is run again if it fails."""
        if name in self._tasks and not self._tasks[name].done():
            raise ValueError(f"task {name!r} is already running")
        self._tasks[name] = asyncio.create_task(self._guard(name, factory, restart), name=name)

    def spawn_once(self, name: str, awaitable: Callable[[], Awaitable[None]]) -> None:
        """Run a one-shot job; failures are logged, the job is not repeated."""
        task = asyncio.create_task(self._guard(name, awaitable, False), name=name)
        self._tasks[f"{name}#{id(task)}"] = task
        task.add_done_callback(lambda t: self._tasks.pop(f"{name}#{id(t)}", None))

    async def _guard(self, name: str, factory: LoopFactory, restart: bool) -> None:
        delay = self._restart_delay
        while True:
            try:
                await factory()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("task_crashed", task=name, restart_in_s=delay if restart else None)
                if not restart or self._closing:
                    return
                await self._clock.sleep(delay)
                delay = min(delay * 2, self._max_delay)
                continue
            if not restart:
                return
            # A loop that returns on its own is finished by design; do not respin it.
            log.info("task_finished", task=name)
            return

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Cancel every task and wait for them (bounded)."""
        self._closing = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*tasks, return_exceptions=True), timeout=timeout_s
                )
        self._tasks.clear()
