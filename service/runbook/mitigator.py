"""The kill switch carried out for a stored decision: apply it, or record the dry run.

``Runbook`` stores the decision to act first; this module performs the cluster action and then
stores its outcome (the new policy record, a timeline line, the message for the sinks). The
value read before the patch is stored before the patch is sent. A failure to reach the cluster
(after the shared retry policy's tries) is recorded and retried on the next pass; a refusal for
good (403, 404, 422, a ``valueFrom`` switch) is recorded as ``failed`` with the API's reason
and the command to run by hand, for the policy to escalate. Never raises.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

import structlog

from service.cluster.client import KubeClient
from service.config.settings import Settings
from service.domain.incidents import Incident, TimelineEntry
from service.domain.policy_record import PolicyRecord
from service.domain.runbook_text import manual_switch
from service.domain.switch_record import (
    after_dry_run,
    after_switch,
    before_switch,
    switch_failed,
)
from service.notify.notifier import Notifier
from service.runbook.diagnostics.switch_state import read_kill_switch
from service.runbook.switch import SwitchRefused, apply_switch, plan_patches
from service.runtime.metrics import Metrics
from service.runtime.retry import AdapterError, Permanent
from service.store.base import IncidentUpdate, Store

log = structlog.get_logger(__name__)

class Mitigator:
    """Applies (or dry-runs) the kill switch for one incident and records the outcome."""

    def __init__(self, *, settings: Settings, store: Store, kube: KubeClient, metrics: Metrics,
                 notifier: Notifier) -> None:
        self._settings, self._store, self._kube = settings, store, kube
        self._metrics, self._notifier = metrics, notifier
        self._text = notifier.text

    def _count(self, incident: Incident, outcome: str) -> None:
        self._metrics.mitigations.labels(namespace=incident.namespace,
                                         signature=incident.signature, outcome=outcome).inc()

    async def apply(self, incident: Incident, record: PolicyRecord, now: datetime) -> bool:
        """Carry out the stored decision to apply; True when the record changed in a way the
        policy must judge at once (a refusal: its escalation is due now, not next tick)."""
        decided_at = record.mitigation.decided_at or now
        # A value read before an earlier attempt means that attempt may have patched already.
        resuming = record.mitigation.previous_value is not None
        try:
            state = await read_kill_switch(self._kube, self._settings.mitigation.target,
                                           self._settings.platform.control_plane_container)
            if not resuming:
                record = before_switch(record, previous_value=state.value)
                await self._store.update(incident.id, IncidentUpdate(policy=record), now)
            outcome = await apply_switch(self._kube, self._settings, decided_at, state,
                                         resuming=resuming)
        except (SwitchRefused, Permanent) as exc:
            await self._refused(incident, record, now, exc)
            return True
        except AdapterError as exc:
            self._count(incident, "error")
            log.warning("kill_switch_retry_later", error=str(exc), status=exc.status)
            await self._store.update(incident.id, IncidentUpdate(entries=[TimelineEntry.of(
                now, "mitigation_retry", f"kill switch not set yet, will retry: {exc}")]), now)
            return False
        status: Literal["applied", "already_off"] = (
            "applied" if outcome.status == "applied" else "already_off")
        after = after_switch(
            record, outcome=status, previous_value=outcome.previous_value,
            new_value=outcome.new_value, patches=[p.describe() for p in outcome.patches],
            now=now, rollout_timeout=timedelta(seconds=self._settings.mitigation.rollout_timeout_s))
        mit = after.mitigation
        self._count(incident, mit.status)
        text = (f"kill switch {self._settings.mitigation.target.key}: "
                f"{mit.previous_value} -> {outcome.new_value} ({mit.status})")
        await self._record(incident, after, now, TimelineEntry.of(
            now, "mitigated", text, previous=mit.previous_value, new=outcome.new_value,
            status=mit.status))
        return False

    async def _refused(self, incident: Incident, record: PolicyRecord, now: datetime,
                       exc: Exception) -> None:
        """Permanent: 403, 404, 422, or a switch that must not be patched this way."""
        ref = None
        if isinstance(exc, SwitchRefused):
            failure = str(exc)
            ref = exc.ref
        else:
            status = getattr(exc, "status", None)
            reason = getattr(exc, "reason", None) or ""
            failure = f"{status} {reason}: {exc}".strip() if status else str(exc)
        manual = manual_switch(self._text, ref)
        self._count(incident, "failed")
        log.error("kill_switch_refused", error=failure)
        after = switch_failed(record, failure=failure, manual=manual)
        await self._store.update(incident.id, IncidentUpdate(policy=after, entries=[
            TimelineEntry.of(now, "mitigation_failed", f"kill switch refused: {failure}",
                             manual=manual)]), now)

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
        await self._store.update(incident.id, IncidentUpdate(
            policy=after, entries=[entry],
            messages=[self._notifier.mitigated(incident, after, now)]), now)
        self._notifier.wake()
