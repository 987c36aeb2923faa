"""What every notification sink is: a name, a type, and ``send(delivery)``.

Purpose: the one interface the outbox worker talks to. A sink renders the delivery's message
for its medium and sends it once; it raises ``Retryable`` (5xx, 429, connection errors,
timeouts) or ``Permanent`` (other 4xx, a message the API refuses) from ``service.runtime.retry`` and
never retries by itself: the outbox owns retries and their schedule.

Idempotency: the outbox delivers at least once. A delivery left ``sending`` by a crash is sent
again with ``delivery.attempts > 1``, so each sink says how it avoids a duplicate:

- ``webhook``: the same ``Idempotency-Key`` header on every attempt; the receiver dedups.
- ``github``: a hidden marker in the comment; a retry lists the comments first and skips.
- ``pagerduty``: ``dedup_key`` = incident id; a repeated trigger lands on the same alert.
- ``slack``, ``telegram``: the APIs take no key; a duplicate is possible only when the process
  died between the send and recording it (accepted, rare, harmless).
- ``console``: prints; nothing to dedupe.
"""

from __future__ import annotations

from typing import Protocol

from service.domain.messages import Delivery

SinkType = str


class Sink(Protocol):
    """One configured notification target."""

    @property
    def name(self) -> str:
        """The configured name (key of ``settings.sinks``), used in the outbox and metrics."""
        ...

    @property
    def type(self) -> SinkType:
        """The integration: webhook, slack, telegram, github, pagerduty or console."""
        ...

    async def send(self, delivery: Delivery) -> None:
        """Deliver once; raise ``Retryable`` or ``Permanent`` when it did not work."""
        ...
