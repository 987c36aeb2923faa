"""Evidence from the one live view: no second sweep of the cluster right after the first.

In watch mode (the default) the view has listed and watched jobs, pods and Deployments and read
the control-plane logs and the failed jobs' tails; the first evidence bundle is composed from
it. The simulator records every request it serves: from the alert to the first evidence
message, watch mode lists no jobs or pods and reads no control-plane or worker log again, and
no failed job's log is read twice over the whole run; poll mode (the collectors, the bench
baseline) does the whole sweep again. The two bundles say the same. A part the view cannot read
is named in the bundle with its gap's status and grant.
"""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path

from service.domain.evidence import CollectorStatus, EvidenceBundle
from service.domain.incidents import Incident
from service.domain.lifecycle import State
from service.runbook.observer import ViewObserver
from simulator.traffic import Request
from tests import simkit
from tests.conftest import AppStarter
from tests.integration.test_namespace_view import viewed
from tests.runbook_harness import QUIET_TURNS, Harness, harness
from tests.simkit import SimFactory
from tests.viewkit import NS, sim_now
from tests.waiting import until

sim_factory = simkit.sim_factory

CP = "codex-k8s-control-plane"
WORKER = "codex-k8s-worker"


async def _view_ready(h: Harness) -> None:
    """The view has listed the namespace and follows the control-plane and worker logs:
    caught up (one request), then followed (a second, open as long as the pod runs).
    The alert may come any time after the responder starts; here, after that."""
    def started() -> bool:
        served, asked = h.sim.traffic.served, list(h.sim.traffic.requests)
        listed = all(served[f"list {r}"] for r in ("jobs", "pods", "deployments"))
        return listed and len(_logs(asked, CP)) >= 2 and len(_logs(asked, WORKER)) >= 2

    await until(started, "the view never started")


async def _first_evidence(tmp_path: Path, start_app: AppStarter,
                          observe: str) -> tuple[list[Request], list[Request], EvidenceBundle]:
    """(requests before the alert, from the alert to the first evidence message, the bundle)."""
    async with harness(tmp_path / observe, "cache-persists", start_app, mode="observe",
                       kube={"observe": observe}) as h:
        if observe == "watch":
            await _view_ready(h)
        before = len(h.sim.traffic.requests)
        incident_id = await h.fire()
        incident = await h.investigated(incident_id)  # its evidence message queued with it
        asked = list(h.sim.traffic.requests)
        assert incident.latest_evidence is not None
        return asked[:before], asked[before:], incident.latest_evidence


def _logs(requests: list[Request], prefix: str) -> list[str]:
    return [r.name or "" for r in requests
            if r.resource == "pods/log" and (r.name or "").startswith(prefix)]


async def test_watch_mode_evidence_is_no_second_sweep(tmp_path: Path,
                                                     start_app: AppStarter) -> None:
    _, polled, poll_bundle = await _first_evidence(tmp_path, start_app, "poll")
    early, after, bundle = await _first_evidence(tmp_path, start_app, "watch")
    polled_keys = collections.Counter(f"{r.verb} {r.resource}" for r in polled)
    keys = collections.Counter(f"{r.verb} {r.resource}" for r in after)
    print(f"\npoll:  {sum(polled_keys.values())} requests alert->evidence {dict(polled_keys)}"
          f"\nwatch: {sum(keys.values())} requests alert->evidence {dict(keys)}")

    # Poll mode: the collectors sweep the namespace again at the alert.
    assert polled_keys["list jobs"] >= 1 and polled_keys["list pods"] >= 1
    assert _logs(polled, CP), "poll mode reads the control-plane log at the alert"
    # Watch mode: the view's lists and logs, nothing listed or re-read at the alert.
    assert keys["list jobs"] == keys["list pods"] == keys["list deployments"] == 0, keys
    assert not _logs(after, CP), "the control-plane log was read again for the evidence"
    assert not _logs(after, WORKER), "the worker log was read again for the evidence"
    assert _logs(polled, WORKER)
    # Every other pod's log (the failed jobs' tails) once over the whole run.
    every = [n for n in _logs(early + after, "") if not n.startswith((CP, WORKER))]
    assert len(every) == len(set(every)), f"a pod's log read twice: {every}"
    assert sum(keys.values()) < sum(polled_keys.values())

    # The same bundle, part by part (same shape: the message and the page render it alike).
    assert type(bundle) is type(poll_bundle)
    for name, got in bundle.collectors().items():
        assert got.status is CollectorStatus.OK, (name, got)
    assert bundle.confirmed and poll_bundle.confirmed
    assert bundle.run_ids == poll_bundle.run_ids
    assert (bundle.first_error_at, bundle.last_error_at, bundle.episode_start) == (
        poll_bundle.first_error_at, poll_bundle.last_error_at, poll_bundle.episode_start)
    for part in ("control_plane_logs", "worker_logs"):
        scan, scan_polled = getattr(bundle, part).data, getattr(poll_bundle, part).data
        assert scan is not None and scan_polled is not None
        assert scan_polled.stats(bundle.signature).lines > 0, part  # something to compare
        for sig in scan_polled.signatures:
            assert [m.excerpt for m in scan.stats(sig).excerpts] == \
                [m.excerpt for m in scan_polled.stats(sig).excerpts], (part, sig)
            assert scan.stats(sig).occurrence_list == scan_polled.stats(sig).occurrence_list
            assert scan.stats(sig).lines == scan_polled.stats(sig).lines
    assert bundle.failed_jobs == poll_bundle.failed_jobs.model_copy(
        update={"duration_s": bundle.failed_jobs.duration_s})
    assert bundle.kill_switch.data == poll_bundle.kill_switch.data
    assert bundle.registry.data == poll_bundle.registry.data
    assert bundle.workloads.data == poll_bundle.workloads.data


async def test_a_part_the_view_cannot_read_is_named_in_the_bundle(
        sim_factory: SimFactory) -> None:
    """Jobs forbidden: the bundle comes after a collector's time on the injected clock, the
    parts that need the jobs say forbidden with the grant, the others are whole."""
    async with sim_factory("cache-persists") as sim:
        sim.add_fault(kind="forbidden", resource="jobs")
        async with viewed(sim, watch_silence_s=0.2) as (view, kube, settings, clock):
            async with asyncio.timeout(30):
                # the denial is known and the logs are read to their end: what the bundle
                # says of each part is then decided by the view, not by the race
                while not (any(g.part == "jobs" for g in view.gaps())
                           and view.logs_caught_up() and view.workers.caught_up()):
                    await view.wait_changed(view.version)
            observer = ViewObserver(view, kube, settings, clock)
            now = sim_now(sim)
            incident = Incident(id="inc-1", namespace=NS, signature="cache",
                                state=State.INVESTIGATING, opened_at=now, updated_at=now,
                                first_failure_at=now)
            pending = asyncio.ensure_future(observer.evidence(incident, now))
            for _ in range(4 * QUIET_TURNS):  # turns of the event loop, not time
                await asyncio.sleep(0)
            assert not pending.done()  # it waits for the view, on the manual clock
            clock.advance(settings.diagnostics.collector_timeout_s)
            bundle = await asyncio.wait_for(pending, 30)
    hint = "grant list on jobs in namespace codex-k8s-prod"
    for part in (bundle.workloads, bundle.failed_jobs, bundle.registry):
        assert part.status is CollectorStatus.FORBIDDEN and part.hint == hint, part
    assert bundle.control_plane_logs.status is CollectorStatus.OK
    assert bundle.kill_switch.status is CollectorStatus.OK
    assert any(m.startswith(f"workloads: forbidden ({hint}") for m in bundle.missing())
