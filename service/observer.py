"""What the runbook sees of the cluster: the evidence bundle and the watch's facts.

Purpose: one seam between the runbook's loop and the cluster. ``ClusterObserver`` runs the
runbook's collectors through the kube client; ``BlindObserver`` stands in when there is no
cluster access at all (no kubeconfig, not in a cluster): it says so in every observation, so the
policy escalates at once instead of an incident sitting ``open`` with nobody told.
Boundary: reads only; decisions are the policy's.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from service.diagnostics.investigation import collect_evidence
from service.diagnostics.observation import collect_facts
from service.domain.evidence import Collected, CollectorStatus, EvidenceBundle
from service.domain.facts import Facts, Gap
from service.domain.incidents import Incident
from service.kube import KubeClient
from service.settings import Settings


class Observer(Protocol):
    async def evidence(self, incident: Incident, now: datetime) -> EvidenceBundle:
        """Every runbook diagnostic for ``incident`` (never raises)."""

    async def facts(self, signature: str, since: datetime, now: datetime) -> Facts:
        """The watch's observation since ``since`` (never raises)."""


class ClusterObserver:
    """The runbook's collectors against the cluster."""

    def __init__(self, kube: KubeClient, settings: Settings) -> None:
        self._kube, self._settings = kube, settings

    async def evidence(self, incident: Incident, now: datetime) -> EvidenceBundle:
        return await collect_evidence(self._kube, self._settings, incident_id=incident.id,
                                      signature=incident.signature, now=now,
                                      alert_at=incident.first_failure_at)

    async def facts(self, signature: str, since: datetime, now: datetime) -> Facts:
        return await collect_facts(self._kube, self._settings, signature=signature,
                                   since=since, now=now)


class BlindObserver:
    """No cluster access: every observation is a gap naming why."""

    def __init__(self, reason: str, settings: Settings) -> None:
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
