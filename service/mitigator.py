"""The kill switch carried out for a stored decision: apply it, or record the dry run.

``Runbook`` stores the decision to act first; this module performs the cluster action and then
stores its outcome (the new policy record, a timeline line, the message for the sinks). A
failure to reach the cluster is recorded and retried on the next pass, never raised.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

import structlog

from service.domain.briefing import compose_mitigated
from service.domain.incidents import Incident, TimelineEntry
from service.domain.messages import Message
from service.domain.policy_record import PolicyRecord
from service.domain.runbook_text import RunbookText
from service.domain.switch_record import after_dry_run, after_switch
from service.kill_switch import apply_switch, plan_patches
from service.kube import KubeClient
from service.metrics import Metrics
from service.retry import AdapterError
from service.settings import Settings
from service.store.base import IncidentUpdate, Store

log = structlog.get_logger(__name__)

Queue = Callable[[Message], tuple[Message, list[str]]]


class Mitigator:
    """Applies (or dry-runs) the kill switch for one incident and records the outcome."""

    def __init__(self, *, settings: Settings, store: Store, kube: KubeClient, metrics: Metrics,
                 text: RunbookText, queue: Queue, wake_outbox: Callable[[], None]) -> None:
        self._settings, self._store, self._kube = settings, store, kube
        self._metrics, self._queue, self._wake_outbox = metrics, queue, wake_outbox
        self._text = text

    def _count(self, incident: Incident, outcome: str) -> None:
        self._metrics.mitigations.labels(namespace=incident.namespace,
                                         signature=incident.signature, outcome=outcome).inc()

    async def apply(self, incident: Incident, record: PolicyRecord, now: datetime, *,
                    resuming: bool) -> None:
        decided_at = record.mitigation.decided_at or now
        try:
            outcome = await apply_switch(self._kube, self._settings, decided_at,
                                         resuming=resuming)
        except AdapterError as exc:
            self._count(incident, "error")
            log.error("kill_switch_failed", error=str(exc))
            await self._store.update(incident.id, IncidentUpdate(entries=[TimelineEntry.of(
                now, "mitigation_failed", f"kill switch failed, will retry: {exc}")]), now)
            return
        status: Literal["applied", "already_off"] = (
            "applied" if outcome.status == "applied" else "already_off")
        after = after_switch(
            record, outcome=status, previous_value=outcome.previous_value,
            new_value=outcome.new_value, patches=[p.describe() for p in outcome.patches],
            now=now, rollout_timeout=timedelta(seconds=self._settings.mitigation.rollout_timeout_s))
        mit = after.mitigation
        self._count(incident, mit.status)
        text = (f"kill switch {self._settings.mitigation.target.key}: "
                f"{outcome.previous_value} -> {outcome.new_value} ({mit.status})")
        await self._record(incident, after, now, TimelineEntry.of(
            now, "mitigated", text, previous=outcome.previous_value, new=outcome.new_value,
            status=mit.status))

    async def dry_run(self, incident: Incident, record: PolicyRecord, now: datetime) -> None:
        patches = [p.describe() for p in plan_patches(self._settings,
                                                      record.mitigation.decided_at or now)]
        after = after_dry_run(record, patches=patches)
        self._count(incident, "dry_run")
        await self._record(incident, after, now, TimelineEntry.of(
            now, "dry_run", "dry run: recorded the kill switch patch without sending it",
            patches=patches))

    async def _record(self, incident: Incident, after: PolicyRecord, now: datetime,
                      entry: TimelineEntry) -> None:
        message = compose_mitigated(incident, after, text=self._text,
                                    public_url=self._settings.server.public_url, now=now)
        await self._store.update(incident.id, IncidentUpdate(
            policy=after, entries=[entry], messages=[self._queue(message)]), now)
        self._wake_outbox()
