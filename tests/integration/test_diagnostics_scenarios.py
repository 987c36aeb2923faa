"""Each simulator scenario yields the evidence bundle the runbook would have found.

collect_evidence runs against an in-process simulator (manual clock) through a kubeconfig, as it
would against the production cluster.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from service.cluster.client import KubeClient
from service.config.settings import KubeSettings, Settings
from service.domain.evidence import CollectorStatus, EvidenceBundle
from service.runbook.diagnostics.investigation import collect_evidence
from simulator.server import Simulator
from tests import simkit
from tests.simkit import SimFactory

sim_factory = simkit.sim_factory
OK = CollectorStatus.OK
START = datetime(2026, 2, 26, 10, 0, tzinfo=UTC)  # the simulator's default start
TOKEN_PREFIX = "x-access-token:"


def sim_now(sim: Simulator) -> datetime:
    return datetime.fromtimestamp(sim.world.now, UTC)


@contextlib.asynccontextmanager
async def evidence_of(sim_factory: SimFactory, scenario: str, signature: str = "cache",
                      **diagnostics: Any) -> AsyncIterator[tuple[Simulator, EvidenceBundle]]:
    async with sim_factory(scenario) as sim:
        settings = Settings(kube=KubeSettings(kubeconfig=sim.kubeconfig_path),
                            diagnostics=diagnostics)
        kube = await KubeClient.from_settings(settings.kube)
        try:
            bundle = await collect_evidence(kube, settings, incident_id="inc-1",
                                            signature=signature, now=sim_now(sim))
        finally:
            await kube.close()
        yield sim, bundle


def _statuses(bundle: EvidenceBundle) -> dict[str, CollectorStatus]:
    return {name: got.status for name, got in bundle.collectors().items()}


def _failed_builds(sim: Simulator) -> list[Any]:
    """The simulator's own record of failed builds whose Job still exists (TTL 600s)."""
    alive = {j["metadata"]["name"] for j in sim.world.store.copies("jobs", None)}
    return [r for r in sim.world.activity.history
            if r.kind == "build" and r.finished is not None and not r.succeeded
            and r.name in alive]


async def test_cache_incident_is_confirmed_with_runs_times_and_jobs(
        sim_factory: SimFactory) -> None:
    async with evidence_of(sim_factory, "cache-recovers") as (sim, bundle):
        assert set(_statuses(bundle).values()) == {OK}
        assert bundle.confirmed and bundle.signature == "cache"
        cp = bundle.control_plane_logs.data
        assert cp is not None
        cache = cp.stats("cache")
        failed_records = [r for r in sim.world.activity.history
                          if r.kind == "build" and r.finished is not None and not r.succeeded]
        # one occurrence per failed build the control-plane relayed in the 20 minutes of history
        assert cache.occurrences == len(failed_records) >= 9
        assert set(bundle.run_ids) == {r.run_id for r in failed_records}
        first = min(r.finished for r in failed_records if r.finished is not None)
        last = max(r.finished for r in failed_records if r.finished is not None)
        assert bundle.first_error_at is not None and bundle.last_error_at is not None
        assert abs(bundle.first_error_at.timestamp() - first) <= 1
        assert abs(bundle.last_error_at.timestamp() - last) <= 1
        assert bundle.first_error_at < bundle.last_error_at <= START
        worker = bundle.worker_logs.data
        assert worker is not None and worker.stats("cache").lines >= len(failed_records)
        jobs = bundle.failed_jobs.data
        assert jobs is not None
        expected = _failed_builds(sim)
        assert [j.name for j in jobs.jobs] == [r.name for r in expected]
        for job in jobs.jobs:
            assert job.kind == "build" and job.status == "Failed"
            assert job.reason == "BackoffLimitExceeded" and job.signature == "cache"
            assert job.run_id in bundle.run_ids
            assert any("MANIFEST_UNKNOWN" in line for line in job.last_lines)
            clone = next(line for line in job.last_lines if "git clone" in line)
            assert f"{TOKEN_PREFIX}[REDACTED]@" in clone
        switch = bundle.kill_switch.data
        assert switch is not None and switch.value == "true" and switch.rollout_complete
        assert "container control-plane env CODEXK8S_KANIKO_CACHE_ENABLED" in switch.location
        registry = bundle.registry.data
        assert registry is not None and registry.registry_available
        assert not registry.degraded_together


async def test_cache_persists_scenario_gives_the_same_picture(sim_factory: SimFactory) -> None:
    async with evidence_of(sim_factory, "cache-persists") as (_, bundle):
        assert set(_statuses(bundle).values()) == {OK}
        assert bundle.confirmed and len(bundle.run_ids) >= 9
        assert bundle.failed_jobs.data is not None
        assert all(j.signature == "cache" for j in bundle.failed_jobs.data.jobs)


async def test_registry_outage_shows_registry_down_and_mirror_failures(
        sim_factory: SimFactory) -> None:
    async with evidence_of(sim_factory, "registry-outage") as (sim, bundle):
        assert set(_statuses(bundle).values()) == {OK}
        registry = bundle.registry.data
        assert registry is not None
        assert not registry.registry_available and registry.registry_ready_replicas == 0
        assert registry.registry_reason and "MinimumReplicasUnavailable" in registry.registry_reason
        mirrors = [j["metadata"]["name"] for j in sim.world.store.copies("jobs", None)
                   if j["metadata"]["name"].startswith("codex-k8s-image-mirror")
                   and any(c["type"] == "Failed" for c in j["status"].get("conditions", []))]
        assert mirrors and registry.failed_mirror_jobs == mirrors
        assert registry.mirror_jobs_failed == len(mirrors) and registry.degraded_together
        # builds fail pushing, not on the cache: nothing confirms the cache signature
        assert not bundle.confirmed
        jobs = bundle.failed_jobs.data
        assert jobs is not None and {j.kind for j in jobs.jobs} >= {"build", "mirror"}
        assert all(j.signature is None for j in jobs.jobs)
        assert any("connection refused" in line for j in jobs.jobs for line in j.last_lines)


async def test_build_ref_signature_comes_from_codegen_check(sim_factory: SimFactory) -> None:
    async with evidence_of(sim_factory, "build-ref", signature="build-ref") as (_, bundle):
        assert set(_statuses(bundle).values()) == {OK}
        assert bundle.confirmed
        jobs = bundle.failed_jobs.data
        assert jobs is not None and jobs.jobs
        assert {j.kind for j in jobs.jobs} == {"codegen"}
        assert all(j.signature == "build-ref" for j in jobs.jobs)
        assert any("is not a commit" in line for line in jobs.jobs[-1].last_lines)
        assert bundle.run_ids and jobs.jobs[-1].run_id in bundle.run_ids
        cp = bundle.control_plane_logs.data
        assert cp is not None and cp.stats("build-ref").lines > 0
        assert cp.stats("cache").lines == 0


async def test_healthy_cluster_confirms_nothing(sim_factory: SimFactory) -> None:
    async with evidence_of(sim_factory, "healthy") as (_, bundle):
        assert set(_statuses(bundle).values()) == {OK}
        assert not bundle.confirmed
        assert bundle.first_error_at is None and bundle.run_ids == []
        assert bundle.failed_jobs.data is not None and bundle.failed_jobs.data.jobs == []
        workloads = bundle.workloads.data
        assert workloads is not None
        assert any(j.status == "Complete" and j.kind == "build" for j in workloads.jobs)
        assert {p.owner.split("/")[0] for p in workloads.pods if p.owner} >= {"ReplicaSet", "Job"}
        assert all(p.ready in {"0/1", "1/1"} for p in workloads.pods)
        assert bundle.missing() == []


async def test_rbac_restricted_reports_worker_logs_forbidden_and_keeps_the_rest(
        sim_factory: SimFactory) -> None:
    async with evidence_of(sim_factory, "rbac-restricted") as (_, bundle):
        statuses = _statuses(bundle)
        assert statuses.pop("worker_logs") is CollectorStatus.FORBIDDEN
        assert set(statuses.values()) == {OK}
        assert bundle.worker_logs.hint == "grant get on pods/log in namespace codex-k8s-prod"
        assert bundle.confirmed and bundle.run_ids
        assert bundle.missing() == [
            "worker_logs: forbidden (grant get on pods/log in namespace codex-k8s-prod)"]
