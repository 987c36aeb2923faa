"""The runbook, carried out: investigate, decide, act, record; for every active incident.

Two supervised loops share this object: ``run_investigations`` (woken by the webhook through
the ``WorkQueue``) and ``run_watch`` (a timer on the injected clock, so the 30-minute rule fires
with no webhook, and after a restart). Decisions come from the pure ``evaluate()``; this module
only executes them: each decision is stored (with the messages it queues) before its cluster
action runs (``Mitigator``), and the action's outcome is stored after.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog

from service.clock import Clock
from service.diagnostics.investigation import collect_evidence
from service.diagnostics.observation import collect_facts
from service.domain.briefing import (
    compose_approval_request,
    compose_escalation,
    compose_resolved,
)
from service.domain.compose import compose_evidence
from service.domain.evidence import EvidenceBundle
from service.domain.incidents import Incident, TimelineEntry
from service.domain.lifecycle import State
from service.domain.messages import Message
from service.domain.policy import (
    ApplySwitch,
    Decision,
    Escalate,
    PolicyConfig,
    RecordDryRun,
    RequestApproval,
    Resolve,
    evaluate,
)
from service.domain.switch_record import approved
from service.kube import KubeClient
from service.metrics import Metrics
from service.mitigator import Mitigator
from service.settings import Settings
from service.store.base import IncidentUpdate, StaleUpdate, Store
from service.wording import runbook_text
from service.workqueue import WorkQueue

log = structlog.get_logger(__name__)

Router = Callable[[Message], list[str]]
_entry = TimelineEntry.of


def policy_config(settings: Settings) -> PolicyConfig:
    esc, mit = settings.escalation, settings.mitigation
    return PolicyConfig(
        mode=mit.mode, switch_signatures=frozenset(mit.signatures),
        off_value=mit.target.off_value,
        repeat_threshold=esc.repeat_threshold,
        recovery_deadline=timedelta(seconds=esc.recovery_deadline_s),
        clean_window=timedelta(seconds=esc.clean_window_s),
        rollout_timeout=timedelta(seconds=mit.rollout_timeout_s),
        watched_kinds={sig: frozenset(kinds) for sig, kinds in esc.recovery_jobs.items()},
    )


class Runbook:
    """Carries out the runbook for the incidents in the store."""

    def __init__(self, *, settings: Settings, store: Store, kube: KubeClient, clock: Clock,
                 work: WorkQueue, route: Router, wake_outbox: Callable[[], None],
                 metrics: Metrics) -> None:
        self._settings, self._store, self._kube, self._clock = settings, store, kube, clock
        self._work, self._route, self._wake_outbox = work, route, wake_outbox
        self._metrics = metrics
        self._text = runbook_text(settings)
        self._mitigator = Mitigator(settings=settings, store=store, kube=kube, metrics=metrics,
                                    text=self._text, queue=self._queue, wake_outbox=wake_outbox)
        self._config = policy_config(settings)
        self._locks: collections.defaultdict[str, asyncio.Lock] = collections.defaultdict(
            asyncio.Lock)
        self._tick = asyncio.Event()
        self.passes = 0  # completed watch passes over the active incidents (observability)

    @property
    def public_url(self) -> str:
        return self._settings.server.public_url

    def _queue(self, message: Message) -> tuple[Message, list[str]]:
        return message, self._route(message)

    # -- loops -------------------------------------------------------------------------------

    async def run_investigations(self) -> None:
        """Each changed incident is investigated in a task of its own, so one incident's slow
        step never delays the next one's evidence (a few at a time; one per incident)."""
        running: set[asyncio.Task[None]] = set()
        gate = asyncio.Semaphore(self._settings.diagnostics.investigations_at_once)

        async def one(incident_id: str) -> None:
            async with gate:
                try:
                    await self.investigate(incident_id)
                except Exception:  # logged and left: the watch picks the incident up again
                    log.exception("investigation_failed", incident_id=incident_id)

        try:
            while True:
                for incident_id in await self._work.take():
                    task = asyncio.create_task(one(incident_id), name=f"investigate-{incident_id}")
                    running.add(task)
                    task.add_done_callback(running.discard)
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def run_watch(self) -> None:
        while True:
            for incident_id in await self._store.active_incidents():
                incident = await self._store.get_incident(incident_id)
                if incident is not None and incident.latest_evidence is None:
                    # Never investigated: a crash before its evidence, or another replica's
                    # webhook took the alert. Everything else resumes from its record.
                    self._work.incidents_changed([incident_id])
                else:
                    await self.step(incident_id)
            self.passes += 1
            await self._wait(self._settings.escalation.monitor_interval_s)

    async def _wait(self, seconds: float) -> None:
        sleeper = asyncio.ensure_future(self._clock.sleep(seconds))
        waker = asyncio.ensure_future(self._tick.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()
            self._tick.clear()

    def poke(self) -> None:
        """Run the watch now (after an approval, say) instead of at the next tick."""
        self._tick.set()

    # -- investigation -----------------------------------------------------------------------

    async def investigate(self, incident_id: str) -> None:
        async with self._locks[incident_id]:
            incident = await self._store.get_incident(incident_id)
            if incident is None or incident.state is State.RESOLVED:
                return
            now = self._clock.now()
            latest = incident.latest_evidence
            interval = timedelta(seconds=self._settings.diagnostics.reinvestigate_interval_s)
            if latest is not None and now - latest.collected_at < interval:
                log.info("investigation_skipped_recent", incident_id=incident_id)
                return
            with structlog.contextvars.bound_contextvars(incident_id=incident_id):
                await self._investigate(incident, now)
        await self.step(incident_id)

    async def _investigate(self, incident: Incident, now: datetime) -> None:
        if incident.state is State.OPEN:
            await self._store.update(incident.id, IncidentUpdate(
                state=State.INVESTIGATING,
                entries=[_entry(now, "investigation_started",
                                "runbook diagnostics started (all collectors at once)")]), now)
        bundle = await collect_evidence(self._kube, self._settings, incident_id=incident.id,
                                        signature=incident.signature, now=now)
        self._observe_bundle(incident, bundle)
        number = len(incident.evidence) + 1
        message = compose_evidence(incident, bundle, text=self._text,
                                   public_url=self.public_url, key=f"evidence-{number}")
        missing = bundle.missing()
        summary = (f"evidence #{number}: {bundle.signature} "
                   f"{'confirmed' if bundle.confirmed else 'not confirmed'}, "
                   f"{len(bundle.run_ids)} run(s), collected in {bundle.duration_s:.1f}s")
        if missing:
            summary += f"; missing: {'; '.join(missing)}"
        await self._store.update(incident.id, IncidentUpdate(
            evidence=bundle, entries=[_entry(now, "evidence_collected", summary,
                                             confirmed=bundle.confirmed)],
            messages=[self._queue(message)]), now)
        self._wake_outbox()
        log.info("evidence_collected", confirmed=bundle.confirmed, seconds=bundle.duration_s,
                 missing=len(missing))

    def _observe_bundle(self, incident: Incident, bundle: EvidenceBundle) -> None:
        self._metrics.evidence_seconds.observe(bundle.duration_s)
        for name, got in bundle.collectors().items():
            self._metrics.collectors.labels(collector=name, status=got.status.value).inc()
        # The 6-hour backlog of the bundle is not counted as new occurrences: the watch
        # counts builds that fail after the switch, one by one (the persistent alert's input).

    # -- the policy step ---------------------------------------------------------------------

    async def step(self, incident_id: str) -> None:
        """Observe, evaluate, record, act: one turn of the runbook for one incident."""
        async with self._locks[incident_id]:
            incident = await self._store.get_incident(incident_id)
            if incident is None or incident.state is State.RESOLVED \
                    or incident.latest_evidence is None:
                return
            with structlog.contextvars.bound_contextvars(incident_id=incident_id):
                try:
                    await self._step(incident)
                except StaleUpdate as exc:
                    # Another writer (a replica, an approval) changed the record first: the
                    # next pass decides again on what it wrote.
                    log.info("policy_stale", error=str(exc))

    async def _step(self, incident: Incident) -> None:
        now = self._clock.now()
        record = incident.policy
        resuming = record.mitigation.status == "applying"
        since = record.watch.since or incident.opened_at
        facts = await collect_facts(self._kube, self._settings, signature=incident.signature,
                                    since=since, now=now)
        decision = evaluate(state=incident.state, first_failure_at=incident.first_failure_at,
                            signature=incident.signature, record=record,
                            evidence=incident.latest_evidence, facts=facts, now=now,
                            config=self._config)
        entries = [_entry(now, "policy", note) for note in decision.notes]
        new_failures = [b for job, b in decision.record.watch.builds.items()
                        if job not in record.watch.builds and b.signature == incident.signature]
        if new_failures:
            self._metrics.signature_occurrences.labels(
                namespace=incident.namespace, signature=incident.signature,
                source="jobs").inc(len(new_failures))
        messages = self._record_actions(incident, decision, entries, now)
        if decision.state is not incident.state:
            entries.append(_entry(now, "state", f"{incident.state} -> {decision.state}"))
        changed = decision.record != record or entries or decision.state is not incident.state
        written = record
        if changed:
            written = decision.record.model_copy(update={"version": record.version + 1})
            await self._store.update(incident.id, IncidentUpdate(
                policy=written, state=decision.state, entries=entries,
                messages=messages,
                escalated=any(isinstance(a, Escalate) for a in decision.actions)), now)
        if messages:
            self._wake_outbox()
        for action in decision.actions:
            if isinstance(action, ApplySwitch):
                await self._mitigator.apply(incident, written, now, resuming=resuming)
            elif isinstance(action, RecordDryRun):
                await self._mitigator.dry_run(incident, written, now)

    def _record_actions(self, incident: Incident, decision: Decision,
                        entries: list[TimelineEntry], now: datetime
                        ) -> list[tuple[Message, list[str]]]:
        """Timeline lines (appended to ``entries``), metrics and messages for the decision's
        escalations, approval request and resolution: stored with the decision, atomically."""
        messages: list[tuple[Message, list[str]]] = []
        view = incident.model_copy(update={"state": decision.state})
        for action in decision.actions:
            if isinstance(action, Escalate):
                self._metrics.escalations.labels(rule=action.rule).inc()
                entries.append(_entry(now, "escalated", f"escalation ({action.rule}) to "
                                      f"{action.audience}: {action.reason}", rule=action.rule))
                messages.append(self._queue(compose_escalation(
                    view, decision.record, action, text=self._text, public_url=self.public_url,
                    rollback_plan=self._settings.escalation.rollback_plan, now=now)))
            elif isinstance(action, RequestApproval):
                entries.append(_entry(now, "approval_requested",
                                      "kill switch awaits the Owner's approval"))
                messages.append(self._queue(compose_approval_request(
                    view, decision.record, text=self._text, public_url=self.public_url, now=now)))
            elif isinstance(action, Resolve):
                entries.append(_entry(now, "resolved", f"resolved: {action.reason}",
                                      mttr_s=action.mttr_s))
                if action.mttr_s is not None:
                    self._metrics.mttr.labels(namespace=incident.namespace,
                                              signature=incident.signature).observe(
                        action.mttr_s)
                final = view.model_copy(update={"timeline": [*incident.timeline, *entries]})
                messages.append(self._queue(compose_resolved(
                    final, decision.record, reason=action.reason, text=self._text,
                    public_url=self.public_url, now=now)))
        return messages

    # -- approval ----------------------------------------------------------------------------

    async def approve(self, incident_id: str, who: str) -> Incident:
        """Record the Owner's approval; the watch applies the switch right after."""
        async with self._locks[incident_id]:
            incident = await self._store.get_incident(incident_id)
            if incident is None:
                raise KeyError(incident_id)
            now = self._clock.now()
            after = approved(incident.policy, who=who, now=now)
            await self._store.update(incident_id, IncidentUpdate(
                policy=after, entries=[_entry(now, "approved", f"kill switch approved by {who}",
                                              approved_by=who)]), now)
        self.poke()
        updated = await self._store.get_incident(incident_id)
        assert updated is not None
        return updated
