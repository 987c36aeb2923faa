"""The outbox worker: sends queued deliveries through their sinks until they are delivered.

Purpose: a sink outage delays a message, it never loses one. The runbook stores each message
for its routed sinks with the decision that sends it (``IncidentUpdate.messages``), before
anything is sent, then wakes the worker (``wake()``). The worker (``run()``, a Supervisor
loop) claims due deliveries, sends each with a short inline retry (``call_with_retry``,
waiting on the injected clock), and records the outcome: delivered; pending again at
``now + backoff`` (jittered exponential, or the server's ``Retry-After``) while attempts are
left; failed for good on a ``Permanent`` error or too many attempts, with ``last_error`` set.
A restart resumes: a delivery left ``sending`` is claimed again and the sink's idempotency
(see ``service.notify.sinks.base``) keeps it from arriving twice.
Boundary: no HTTP here (sinks do it); time comes from the injected ``Clock``.
"""

from __future__ import annotations

import asyncio
import random
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

import structlog

from service.config.settings import OutboxSettings
from service.domain.envelope import scrub
from service.domain.messages import Audience, Delivery, Message
from service.domain.redaction import Redactor
from service.domain.timetext import moment
from service.notify.routing import SinkRegistry
from service.notify.sinks.base import Sink
from service.runtime.clock import Clock
from service.runtime.retry import Permanent, Retryable, call_with_retry
from service.store.base import Store, StoreError

log = structlog.get_logger(__name__)

Outcome = Literal["delivered", "retry", "failed"]
OutcomeRecorder = Callable[[str, Outcome], None]
# Puts a fresh grant in a message's incident link as it is sent (``GrantSigner.for_message``),
# given the audience of the sink it goes to: stored messages hold none, so reading one (the API
# shows deliveries) yields no grant.
LinkGranter = Callable[[Message, Audience], Message]
ERROR_CHARS = 500


# How often the worker looks, how hard it retries inline, how it backs off between: the
# ``outbox`` settings section, validated at start (create_app passes ``settings.outbox``).
OutboxPolicy = OutboxSettings


def backoff_s(attempt: int, policy: OutboxPolicy, rng: random.Random) -> float:
    """Exponential by attempt, capped, with "equal jitter": between half and all of it."""
    base = min(policy.backoff_max_s, policy.backoff_initial_s * 2.0 ** max(0, attempt - 1))
    return base / 2 + rng.uniform(0, base / 2)


class _Deferred(Exception):
    """A retryable answer that asks for a longer wait than an inline retry may take."""

    def __init__(self, error: Retryable) -> None:
        super().__init__(str(error))
        self.error = error


class OutboxWorker:
    """Works the outbox of ``store`` through the sinks of ``registry``."""

    def __init__(self, store: Store, registry: SinkRegistry, clock: Clock, *,
                 policy: OutboxPolicy | None = None, record: OutcomeRecorder | None = None,
                 rng: random.Random | None = None, link: LinkGranter | None = None) -> None:
        self._store = store
        self._link = link
        self._registry = registry
        self._clock = clock
        self._policy = policy or OutboxPolicy()
        self._record = record
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._redactor = Redactor(extra_literals=registry.secrets())
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        # Per sink: consecutive failures and the time it is retried (in memory; the store
        # keeps each delivery's own next attempt across restarts).
        self._sink_failures: dict[str, int] = {}
        self._sink_wait: dict[str, datetime] = {}

    def wake(self) -> None:
        """Make ``run()`` look at the outbox now rather than at its next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Drain, then wait for a wake-up or the poll interval; forever (cancel to stop)."""
        log.info("outbox_started", sinks=self._registry.names)
        while True:
            try:
                handled = await self.drain_once()
            except StoreError as exc:
                log.warning("outbox_store_unavailable", error=str(exc))
                handled = 0
            if handled < self._policy.batch:
                await self._idle()

    async def _idle(self) -> None:
        sleeper = asyncio.ensure_future(self._clock.sleep(self._policy.poll_interval_s))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, woken):
                task.cancel()
            # Not ``suppress(CancelledError)`` around each: that would also swallow a cancel
            # of this loop arriving now (a stop), and the loop would idle on until killed.
            await asyncio.gather(sleeper, woken, return_exceptions=True)
            self._wake.clear()

    async def drain_once(self) -> int:
        """Claim the due deliveries once and settle each; returns how many were handled.

        One drain at a time: a claimed delivery is never sent by two drains at once.
        """
        async with self._lock:
            due = await self._store.claim_due(self._clock.now(), self._policy.batch)
            if not due:
                return 0
            by_sink: dict[str, list[Delivery]] = {}
            for delivery in sorted(due, key=lambda d: d.id):  # queue order within a sink
                by_sink.setdefault(delivery.sink, []).append(delivery)
            # Sinks are independent: one slow API does not hold up the others. Within a sink,
            # messages go out in the order they were queued.
            await asyncio.gather(*(self._drain_sink(name, items)
                                   for name, items in by_sink.items()))
            return len(due)

    async def _drain_sink(self, name: str, deliveries: list[Delivery]) -> None:
        """Send one sink's deliveries in queue order; stop at the first that must wait.

        The ones after it wait with it (same ``retry_at``), so a sink that comes back gets
        its messages in the order they were queued, not shuffled by jitter.
        """
        sink = self._registry.get(name)
        until = self._sink_wait.get(name)
        if sink is not None and until is not None and until > self._clock.now():
            # Newer messages must not overtake the older ones waiting for this sink.
            for delivery in deliveries:
                await self._retry_later(delivery, Retryable(
                    f"{name}: not sent, the sink is backing off until {moment(until)}"))
            return
        for index, delivery in enumerate(deliveries):
            if sink is None:
                await self._settle(delivery, "failed", f"sink {name} is not configured")
                continue
            if not await self._deliver(sink, delivery):
                for later in deliveries[index + 1:]:
                    await self._retry_later(later, Retryable(
                        f"{name}: not sent, an earlier message to this sink is waiting"))
                return

    async def _deliver(self, sink: Sink, delivery: Delivery) -> bool:
        """Send one delivery and record its outcome; False when it must wait for a retry."""
        try:
            await self._send(sink, delivery)
        except _Deferred as deferred:
            return await self._retry_later(delivery, deferred.error)
        except Retryable as exc:
            return await self._retry_later(delivery, exc)
        except Permanent as exc:
            await self._settle(delivery, "failed", str(exc))
            return True
        except Exception as exc:  # a sink bug must not stop the outbox
            # The traceback is redacted like any error text: it may quote a URL with a token.
            trace = "".join(traceback.format_exception(exc))
            log.error("delivery_crashed", incident_id=delivery.incident_id, sink=sink.name,
                      delivery_id=delivery.id, traceback=self._redactor.redact(trace))
            return await self._retry_later(delivery, Retryable(f"{type(exc).__name__} in sink"))
        self._sink_wait.pop(sink.name, None)
        self._sink_failures.pop(sink.name, None)
        await self._settle(delivery, "delivered", None)
        return True

    async def _send(self, sink: Sink, delivery: Delivery) -> None:
        policy = self._policy
        tries = 0

        async def attempt() -> None:
            nonlocal tries
            # A later try in this round follows one that may have reached the API: the sink
            # sees attempts > 1 and checks before it posts (github).
            current = delivery if tries == 0 else delivery.model_copy(
                update={"attempts": delivery.attempts + tries})
            tries += 1
            try:
                message = scrub(current.message)
                if self._link is not None:
                    message = self._link(message, self._registry.audience(sink.name))
                await sink.send(current.model_copy(update={"message": message}))
            except Retryable as exc:
                if exc.retry_after_s is not None and exc.retry_after_s > policy.inline_max_wait_s:
                    raise _Deferred(exc) from exc
                raise

        await call_with_retry(attempt, clock=self._clock, deadline_s=policy.inline_deadline_s,
                              max_attempts=policy.inline_attempts,
                              initial_s=policy.inline_initial_s,
                              max_wait_s=policy.inline_max_wait_s)

    async def _retry_later(self, delivery: Delivery, error: Retryable) -> bool:
        max_attempts = self._registry.max_attempts(delivery.sink)
        if delivery.attempts >= max_attempts:
            await self._settle(delivery, "failed",
                               f"gave up after {delivery.attempts} attempts: {error}")
            return False
        await self._settle(delivery, "retry", str(error),
                           retry_at=self._sink_retry_at(delivery.sink, error))
        return False

    def _sink_retry_at(self, sink: str, error: Retryable) -> datetime:
        """When ``sink`` is worth another try: one time for all its waiting deliveries.

        The backoff grows with the sink's consecutive failures (not each delivery's), so the
        deliveries of a sink stay together; a server's ``Retry-After`` sets it outright.
        """
        now = self._clock.now()
        until = self._sink_wait.get(sink)
        if error.retry_after_s is not None:
            self._sink_failures[sink] = self._sink_failures.get(sink, 0) + 1
            asked = min(max(error.retry_after_s, 0.0), self._policy.retry_after_max_s)
            until = now + timedelta(seconds=asked)
        elif until is None or until <= now:
            failures = self._sink_failures.get(sink, 0) + 1
            self._sink_failures[sink] = failures
            until = now + timedelta(seconds=backoff_s(failures, self._policy, self._rng))
        self._sink_wait[sink] = until
        return until

    async def _settle(self, delivery: Delivery, outcome: Outcome, error: str | None, *,
                      retry_at: datetime | None = None) -> None:
        text = self._redactor.redact(error)[:ERROR_CHARS] if error else None
        await self._store.finish_delivery(delivery.id, delivered=outcome == "delivered",
                                          now=self._clock.now(), error=text, retry_at=retry_at)
        if self._record is not None:
            self._record(delivery.sink, outcome)
        bound = log.bind(incident_id=delivery.incident_id, sink=delivery.sink,
                         delivery_id=delivery.id, attempt=delivery.attempts,
                         event_name=delivery.event)
        if outcome == "delivered":
            bound.info("delivery_sent")
        elif outcome == "retry":
            bound.warning("delivery_retry_scheduled", error=text,
                          retry_at=retry_at.isoformat() if retry_at else None)
        else:
            bound.error("delivery_failed", error=text)
