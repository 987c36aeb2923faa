"""What the runbook sees of the cluster: the evidence bundle, the watch's facts, and when to
look again.

Purpose: one seam between the runbook's loop and the cluster. ``ViewObserver`` reads the
watch's facts from the live view of the namespace (``service.runbook.view``: list+watch, logs read
once) and wakes the loop when the namespace changes; ``ClusterObserver`` runs the runbook's
collectors again at each interval (``kube.observe: poll``, the baseline of bench_reaction);
``BlindObserver`` stands in when there is no cluster access at all (no kubeconfig, not in a
cluster): it says so in every observation, so the policy escalates at once instead of an
incident sitting ``open`` with nobody told. The evidence bundle is the runbook's diagnostics
collected by the runbook's collectors in poll mode, and composed from the view in watch
mode (``service.runbook.view.evidence``: no second sweep).
Boundary: reads only; decisions are the policy's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from service.cluster.client import KubeClient
from service.config.settings import Settings
from service.domain.evidence import Collected, CollectorStatus, EvidenceBundle
from service.domain.facts import Facts, Gap
from service.domain.incidents import Incident
from service.runbook.diagnostics.investigation import collect_evidence
from service.runbook.diagnostics.observation import collect_facts
from service.runbook.view import NamespaceView
from service.runbook.view import evidence as view_evidence
from service.runtime.clock import Clock

# A burst of watch events (a rollout, a job and its pod) arrives in a few loop iterations:
# wait until the view stops changing for this many of them, so one decision sees it whole.
_QUIET_YIELDS = 10
_MAX_YIELDS = 200


class Observer(Protocol):
    async def evidence(self, incident: Incident, now: datetime) -> EvidenceBundle:
        """Every runbook diagnostic for ``incident`` (never raises)."""

    async def facts(self, signature: str, since: datetime, now: datetime) -> Facts:
        """The watch's observation since ``since`` (never raises)."""

    async def changed(self, timeout_s: float) -> None:
        """Return when the cluster changed since the last ``facts``, or after ``timeout_s``
        seconds of the injected clock (the time rules' timer)."""

    def unseen(self) -> bool:
        """Changes arrived that no observation has looked at yet."""


class _Timer:
    """Observers that learn of no change: the loop looks again at each interval."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def unseen(self) -> bool:
        return False

    async def changed(self, timeout_s: float) -> None:
        await self._clock.sleep(timeout_s)


class ClusterObserver(_Timer):
    """The runbook's collectors against the cluster, again at each interval."""

    def __init__(self, kube: KubeClient, settings: Settings, clock: Clock) -> None:
        super().__init__(clock)
        self._kube, self._settings = kube, settings

    async def evidence(self, incident: Incident, now: datetime) -> EvidenceBundle:
        return await collect_evidence(self._kube, self._settings, incident_id=incident.id,
                                      signature=incident.signature, now=now,
                                      alert_at=incident.first_failure_at)

    async def facts(self, signature: str, since: datetime, now: datetime) -> Facts:
        return await collect_facts(self._kube, self._settings, signature=signature,
                                   since=since, now=now)


class ViewObserver(ClusterObserver):
    """The evidence and the watch's facts from the live view; the loop wakes as the
    namespace changes."""

    def __init__(self, view: NamespaceView, kube: KubeClient, settings: Settings,
                 clock: Clock) -> None:
        super().__init__(kube, settings, clock)
        self._view = view
        self._served = -1  # the view's version last looked at

    def unseen(self) -> bool:
        return self._view.version != self._served

    async def evidence(self, incident: Incident, now: datetime) -> EvidenceBundle:
        """Composed from the view (no second sweep), once it has read what the evidence
        takes (for a collector's time at most)."""
        started = time.monotonic()
        window = now - timedelta(seconds=self._settings.diagnostics.log_window_s)
        await self._wait(now, lambda: view_evidence.ready(self._view, self._settings, window))
        return view_evidence.evidence_of(
            self._view, self._settings, incident_id=incident.id,
            signature=incident.signature, now=now, alert_at=incident.first_failure_at,
            started=started)

    async def facts(self, signature: str, since: datetime, now: datetime) -> Facts:
        await self._wait(now, lambda: self._view.synced)
        self._served = self._view.version
        facts = self._view.facts(signature=signature, since=since, now=now)
        if not self._view.synced and not facts.gaps:
            facts.gaps.append(Gap(part="cluster", status="timeout",
                                  detail="the live view has not listed the namespace yet"))
        return facts

    async def _wait(self, now: datetime, done: Callable[[], bool]) -> None:
        """Until ``done()`` (just started: the first lists), for a collector's time at most
        on the injected clock, then until a burst in flight has arrived."""
        deadline = now + timedelta(seconds=self._settings.diagnostics.collector_timeout_s)
        while not done() and self._clock.now() < deadline:
            left = (deadline - self._clock.now()).total_seconds()
            await self._view.wait_changed(self._view.version, left)
        await self._quiet()  # a timed pass too: what is in flight is part of "now"

    async def _quiet(self) -> None:
        """Let the rest of a burst arrive before a decision (no clock: loop iterations)."""
        quiet, seen = 0, self._view.version
        for _ in range(_MAX_YIELDS):
            await asyncio.sleep(0)
            quiet = quiet + 1 if self._view.version == seen else 0
            seen = self._view.version
            if quiet >= _QUIET_YIELDS:
                return

    async def changed(self, timeout_s: float) -> None:
        await self._view.wait_changed(self._served, timeout_s)
        await self._quiet()
        # The pass this wakes reads the view as of now or later: what came so far is seen
        # (with no incident to look at, the next wait must not return at once).
        self._served = self._view.version


class BlindObserver(_Timer):
    """No cluster access: every observation is a gap naming why."""

    def __init__(self, reason: str, settings: Settings, clock: Clock) -> None:
        super().__init__(clock)
        self._reason, self._settings = reason, settings

    async def evidence(self, incident: Incident, now: datetime) -> EvidenceBundle:
        down: Collected = Collected(status=CollectorStatus.ERROR,  # type: ignore[type-arg]
                                    error=f"no cluster access: {self._reason}")
        return EvidenceBundle(
            incident_id=incident.id, collected_at=now, signature=incident.signature,
            since=now - timedelta(seconds=self._settings.diagnostics.log_window_s),
            confirmed=False, workloads=down, control_plane_logs=down, worker_logs=down,
            failed_jobs=down, registry=down, kill_switch=down)

    async def facts(self, signature: str, since: datetime, now: datetime) -> Facts:
        return Facts(collected_at=now, since=since, gaps=[
            Gap(part="cluster", status="error", detail=f"no cluster access: {self._reason}")])
