"""A flaky or slow API still gives a bundle: retries, per-collector timeouts, the overall deadline.

Faults are injected in the simulator (5xx, 429 with Retry-After, latency, dropped streams, RBAC
denials); the bundle must come back with every collector's honest status.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from service.cluster.client import KubeClient
from service.config.settings import KubeSettings, Settings
from service.domain.evidence import CollectorStatus, EvidenceBundle
from service.runbook.diagnostics.collector import Window, collect
from service.runbook.diagnostics.failed_jobs import FailedJobsCollector
from service.runbook.diagnostics.investigation import collect_evidence
from simulator.server import Simulator
from tests import simkit
from tests.simkit import SimFactory, running_simulator

sim_factory = simkit.sim_factory
OK = CollectorStatus.OK


async def _bundle(sim: Simulator, kube: dict[str, Any] | None = None,
                  **diagnostics: Any) -> EvidenceBundle:
    settings = Settings(kube=KubeSettings(kubeconfig=sim.kubeconfig_path, **(kube or {})),
                        diagnostics=diagnostics)
    client = await KubeClient.from_settings(settings.kube)
    try:
        return await collect_evidence(client, settings, incident_id="inc-1", signature="cache",
                                      now=datetime.fromtimestamp(sim.world.now, UTC))
    finally:
        await client.close()


def _statuses(bundle: EvidenceBundle) -> dict[str, CollectorStatus]:
    return {name: got.status for name, got in bundle.collectors().items()}


async def test_5xx_and_429_are_retried_and_the_bundle_is_whole(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-recovers") as sim:
        sim.add_fault(kind="error", status=500, resource="pods", verb="list", count=1)
        sim.add_fault(kind="error", status=503, retry_after=0, resource="jobs", verb="list",
                      count=1)
        sim.add_fault(kind="throttle", retry_after=1, resource="deployments", verb="get",
                      count=2)
        sim.add_fault(kind="error", status=503, retry_after=0, resource="pods/log", count=1)
        bundle = await _bundle(sim)
    assert set(_statuses(bundle).values()) == {OK}
    assert bundle.confirmed and bundle.run_ids and bundle.failed_jobs.data
    assert max(got.attempts for got in bundle.collectors().values()) == 2
    assert bundle.workloads.attempts == 2  # its pod list hit the 500 first


async def test_latency_on_every_request_still_gives_the_bundle(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-recovers") as sim:
        sim.add_fault(kind="latency", seconds=0.2)
        bundle = await _bundle(sim, collector_timeout_s=10, overall_deadline_s=15)
        peak = sim.traffic.peak
    assert set(_statuses(bundle).values()) == {OK}
    assert bundle.confirmed
    # concurrent, not one after another: with every answer held 0.2 s, the simulator saw the
    # collectors' requests at the same time (one at a time would peak at 1)
    assert peak >= len(bundle.collectors()) - 1


async def test_a_hung_collector_is_cut_at_its_timeout(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-recovers") as sim:
        sim.add_fault(kind="latency", seconds=30, resource="deployments", verb="get",
                      name="codex-k8s-registry")
        bundle = await _bundle(sim, collector_timeout_s=1.0)
    statuses = _statuses(bundle)
    assert statuses.pop("registry") is CollectorStatus.TIMEOUT
    assert set(statuses.values()) == {OK}
    assert bundle.registry.error == "no answer within 1s"  # not the 30 s answer, cut at 1 s
    assert bundle.confirmed


async def test_the_overall_deadline_caps_every_collector(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-recovers") as sim:
        sim.add_fault(kind="latency", seconds=30, resource="pods/log",
                      name="codex-k8s-control-plane-*")
        bundle = await _bundle(sim, collector_timeout_s=20, overall_deadline_s=1.0)
    assert bundle.control_plane_logs.status is CollectorStatus.TIMEOUT
    assert bundle.control_plane_logs.error == "no answer within 1s"  # the deadline, not 20 s
    # what it had so far (nothing streamed yet) is kept as data
    assert bundle.control_plane_logs.data is not None
    assert bundle.control_plane_logs.data.lines_scanned == 0
    assert bundle.worker_logs.status is OK
    # the failed jobs still confirm the signature
    assert bundle.confirmed


async def test_a_stream_cut_midway_keeps_what_was_scanned(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-recovers") as sim:
        sim.add_fault(kind="drop", resource="pods/log", name="codex-k8s-control-plane-*",
                      after_bytes=20_000)
        bundle = await _bundle(sim)
    cp = bundle.control_plane_logs
    assert cp.status is CollectorStatus.ERROR and cp.error and "stream cut" in cp.error
    assert cp.data is not None and 0 < cp.data.bytes_scanned <= 20_000
    assert cp.attempts == 1


async def test_forbidden_lists_name_what_to_grant(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-recovers") as sim:
        sim.add_fault(kind="forbidden", resource="jobs", verb="list")
        bundle = await _bundle(sim)
    assert bundle.failed_jobs.status is CollectorStatus.FORBIDDEN
    assert bundle.failed_jobs.hint == "grant list on jobs in namespace codex-k8s-prod"
    assert bundle.workloads.status is CollectorStatus.FORBIDDEN
    assert bundle.registry.status is CollectorStatus.FORBIDDEN
    assert bundle.control_plane_logs.status is OK and bundle.confirmed


async def test_a_job_pod_gone_between_list_and_read_is_not_a_failure(tmp_path: Path) -> None:
    async with running_simulator("cache-recovers", tmp_path) as sim:
        assert sim.kubeconfig_path is not None
        kube = await KubeClient.from_settings(KubeSettings(kubeconfig=sim.kubeconfig_path))
        try:
            # Every job pod's log answers 404, as when the TTL controller removed the pod.
            sim.add_fault(kind="error", verb="get", resource="pods/log",
                          name="codex-k8s-kaniko-*", status=404)
            settings = Settings()
            now = datetime.fromtimestamp(sim.clock.now(), UTC)
            got = await collect(FailedJobsCollector(settings.platform, settings.diagnostics),
                                kube, Window(now - timedelta(hours=6), now), timeout_s=20)
            assert got.status is CollectorStatus.OK, got.error
            assert got.data is not None and got.data.jobs
        finally:
            await kube.close()
