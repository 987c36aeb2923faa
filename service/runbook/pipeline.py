"""The runbook, carried out: observe, decide, record, act; for every active incident.

Two supervised loops share this object: ``run_investigations`` (woken by the webhook through
the ``WorkQueue``) and ``run_watch`` (woken when the observed namespace changes, and by a
timer on the injected clock, so the 30-minute rule fires with no webhook, and after a restart).
Each turn observes (the ``Observer``: the evidence bundle, or the watch's facts), decides (the
pure ``evaluate()``), records the decision with the messages it sends (composed by the
``Notifier`` from the same observation) in one transaction, then acts (the ``Mitigator``),
which records the action's outcome after it.
"""

from __future__ import annotations

import asyncio
import collections
from datetime import datetime, timedelta

import structlog

from service.config.settings import Settings
from service.domain.evidence import EvidenceBundle
from service.domain.facts import Facts, facts_of
from service.domain.incidents import Incident, TimelineEntry
from service.domain.lifecycle import State
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
from service.domain.policy_record import PolicyRecord
from service.domain.switch_record import approved
from service.notify.notifier import Notifier
from service.runbook.mitigator import Mitigator
from service.runbook.observer import Observer
from service.runtime.clock import Clock
from service.runtime.metrics import Metrics
from service.runtime.workqueue import WorkQueue
from service.store.base import IncidentUpdate, StaleUpdate, Store

log = structlog.get_logger(__name__)

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
        blind_after=timedelta(seconds=esc.blind_after_s),
    )


def _action_entries(decision: Decision, now: datetime) -> list[TimelineEntry]:
    """The timeline's lines for the decision's escalations, approval request, resolution."""
    out = []
    for action in decision.actions:
        if isinstance(action, Escalate):
            out.append(_entry(now, "escalated", f"escalation ({action.rule}) to "
                              f"{action.audience}: {action.reason}", rule=action.rule))
        elif isinstance(action, RequestApproval):
            out.append(_entry(now, "approval_requested",
                              "kill switch awaits the Owner's approval"))
        elif isinstance(action, Resolve):
            out.append(_entry(now, "resolved", f"resolved: {action.reason}",
                              mttr_s=action.mttr_s, confirmed=action.confirmed))
    return out


class Runbook:
    """Carries out the runbook for the incidents in the store."""

    def __init__(self, *, settings: Settings, store: Store, observer: Observer,
                 mitigator: Mitigator | None, clock: Clock, work: WorkQueue,
                 notifier: Notifier, metrics: Metrics) -> None:
        self._settings, self._store, self._observer, self._clock = (settings, store, observer,
                                                                     clock)
        self._mitigator, self._notifier = mitigator, notifier
        self._work, self._metrics = work, metrics
        self._config = policy_config(settings)
        self._locks: collections.defaultdict[str, asyncio.Lock] = collections.defaultdict(
            asyncio.Lock)
        self._tick = asyncio.Event()
        self.passing = False  # a watch pass is under way
        self.timer_at: datetime | None = None  # when the watch looks again with no change

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
            self.passing = True
            for incident_id in await self._store.active_incidents():
                incident = await self._store.get_incident(incident_id)
                latest = incident.latest_evidence if incident is not None else None
                if incident is not None and (latest is None or latest.blind()):
                    # Never investigated (a crash before its evidence, another replica's
                    # webhook), or blind: investigate (again, once the interval passed).
                    self._work.incidents_changed([incident_id])
                if latest is not None:
                    await self.step(incident_id)
            self.passing = False
            self._metrics.watch_passes.inc()
            log.debug("watch_pass")  # tests/realkube counts the passes of a subprocess by it
            await self._wait(self._settings.escalation.monitor_interval_s)

    @property
    def caught_up(self) -> bool:
        """No pass under way, and no change the observer has not looked at."""
        return not self.passing and not self._observer.unseen()

    async def _wait(self, seconds: float) -> None:
        """Until the namespace changes, ``seconds`` pass (the time rules), or ``poke()``."""
        self.timer_at = self._clock.now() + timedelta(seconds=seconds)
        sleeper = asyncio.ensure_future(self._observer.changed(seconds))
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

    async def _investigate(self, incident: Incident, now: datetime) -> None:
        if incident.state is State.OPEN:
            await self._store.update(incident.id, IncidentUpdate(
                state=State.INVESTIGATING,
                entries=[_entry(now, "investigation_started",
                                "runbook diagnostics started (all collectors at once)")]), now)
            incident = incident.model_copy(update={"state": State.INVESTIGATING})
        bundle = await self._observer.evidence(incident, now)
        self._observe_bundle(bundle)
        number = len(incident.evidence) + 1
        missing = bundle.missing()
        summary = (f"evidence #{number}: {bundle.signature} "
                   f"{'confirmed' if bundle.confirmed else 'not confirmed'}, "
                   f"{len(bundle.run_ids)} run(s), collected in {bundle.duration_s:.1f}s")
        if missing:
            summary += f"; missing: {'; '.join(missing)}"
        log.info("evidence_collected", confirmed=bundle.confirmed, seconds=bundle.duration_s,
                 missing=len(missing))
        seen = incident.model_copy(update={"evidence": [*incident.evidence, bundle]})
        # The bundle is this decision's observation: no second sweep right after it.
        await self._turn(seen, facts_of(bundle), now, bundle=bundle, number=number, entries=[
            _entry(now, "evidence_collected", summary, confirmed=bundle.confirmed)])

    def _observe_bundle(self, bundle: EvidenceBundle) -> None:
        self._metrics.evidence_seconds.observe(bundle.duration_s)
        for name, got in bundle.collectors().items():
            self._metrics.collectors.labels(collector=name, status=got.status.value).inc()
        # The 6-hour backlog of the bundle is not counted as new occurrences: the watch
        # counts builds that fail after the switch, one by one (the persistent alert's input).

    # -- the policy step ---------------------------------------------------------------------

    async def step(self, incident_id: str) -> None:
        """Observe, decide, record, act: one turn of the runbook for one incident."""
        async with self._locks[incident_id]:
            incident = await self._store.get_incident(incident_id)
            if incident is None or incident.state is State.RESOLVED \
                    or incident.latest_evidence is None:
                return
            with structlog.contextvars.bound_contextvars(incident_id=incident_id):
                now = self._clock.now()
                since = incident.policy.watch.since or incident.opened_at
                facts = await self._observer.facts(incident.signature, since, now)
                await self._turn(incident, facts, now)

    async def _turn(self, incident: Incident, facts: Facts, now: datetime, *,
                    bundle: EvidenceBundle | None = None, number: int = 0,
                    entries: list[TimelineEntry] | None = None) -> None:
        try:
            decision, written = await self._record(incident, facts, now, bundle, number,
                                                   list(entries or []))
        except StaleUpdate as exc:
            # Another writer (a replica, an approval) changed the record first: the next
            # pass decides again on what it wrote.
            log.info("policy_stale", error=str(exc))
            return
        if await self._act(incident, decision, written, now):
            # The action's outcome needs a judgement now (a refused switch): one more turn.
            again = await self._store.get_incident(incident.id)
            if again is not None:
                await self._turn(again, facts, now)

    async def _record(self, incident: Incident, facts: Facts, now: datetime,
                      bundle: EvidenceBundle | None, number: int,
                      entries: list[TimelineEntry]) -> tuple[Decision, PolicyRecord]:
        record = incident.policy
        decision = evaluate(state=incident.state, first_failure_at=incident.first_failure_at,
                            signature=incident.signature, record=record,
                            evidence=incident.latest_evidence, facts=facts, now=now,
                            config=self._config)
        entries += [_entry(now, "policy", note) for note in decision.notes]
        entries += _action_entries(decision, now)
        self._count(incident, decision, record)
        if decision.state is not incident.state:
            entries.append(_entry(now, "state", f"{incident.state} -> {decision.state}"))
        messages = [self._notifier.evidence(incident, bundle, decision, number)] \
            if bundle is not None else []
        messages += self._notifier.for_decision(incident, decision, facts, entries, now)
        changed = decision.record != record or entries or decision.state is not incident.state
        written = record
        if changed or bundle is not None:
            written = decision.record.model_copy(update={"version": record.version + 1})
            await self._store.update(incident.id, IncidentUpdate(
                policy=written, evidence=bundle, state=decision.state, entries=entries,
                messages=messages,
                escalated=any(isinstance(a, Escalate) for a in decision.actions)), now)
        if messages:
            self._notifier.wake()
        return decision, written

    def _count(self, incident: Incident, decision: Decision, record: PolicyRecord) -> None:
        """Metrics of a decision: escalations, MTTR samples, new failures after the switch."""
        new_failures = [b for job, b in decision.record.watch.builds.items()
                        if job not in record.watch.builds and b.signature == incident.signature]
        if new_failures:
            self._metrics.signature_occurrences.labels(
                namespace=incident.namespace, signature=incident.signature,
                source="jobs").inc(len(new_failures))
        for action in decision.actions:
            if isinstance(action, Escalate):
                self._metrics.escalations.labels(rule=action.rule).inc()
            elif isinstance(action, Resolve) and action.mttr_s is not None:
                self._metrics.mttr.labels(namespace=incident.namespace,
                                          signature=incident.signature).observe(action.mttr_s)

    async def _act(self, incident: Incident, decision: Decision, written: PolicyRecord,
                   now: datetime) -> bool:
        """Carry out the decision's cluster actions; True when their outcome must be judged
        at once."""
        again = False
        for action in decision.actions:
            if self._mitigator is None:
                break  # blind: nothing to act on; the blind rule has told on-call
            if isinstance(action, ApplySwitch):
                again |= await self._mitigator.apply(incident, written, now)
            elif isinstance(action, RecordDryRun):
                await self._mitigator.dry_run(incident, written, now)
        return again

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
