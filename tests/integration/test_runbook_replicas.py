"""Two replicas on one PostgreSQL database: one leads the runbook, the switch is patched once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from service.api.keys import STORE
from service.domain.lifecycle import State
from tests.adapters.pg_server import shared
from tests.conftest import AppStarter, alert, make_settings, notification
from tests.runbook_harness import CONTROL_PLANE_PATH, SimTime, watch_passes
from tests.simkit import running_simulator
from tests.waiting import until


async def test_two_replicas_apply_the_kill_switch_once(tmp_path: Path,
                                                      start_app: AppStarter) -> None:
    dsn = await asyncio.to_thread(shared().create_database)
    async with running_simulator("cache-recovers", tmp_path) as sim:
        clock = SimTime(sim)
        clients = []
        for name in ("a", "b"):
            settings = make_settings(
                tmp_path / name, store={"backend": "postgres", "postgres_dsn": dsn},
                kube={"kubeconfig": str(sim.kubeconfig_path)},
                escalation={"monitor_interval_s": 30})
            clients.append(await start_app(settings, clock=clock))
        a, b = clients
        await until(lambda: any(watch_passes(c.app) for c in clients),
                    "no replica started the runbook")
        leaders = [c for c in clients if watch_passes(c.app)]
        assert len(leaders) == 1  # the other waits for the advisory lock
        (leader,) = leaders

        starts = datetime.fromtimestamp(sim.clock.now() - 180, UTC).isoformat()
        status, ack = await b.webhook(notification(alert("fp-rep", starts=starts)))
        assert status == 200
        incident_id = ack["incidents"][0]
        store = a.app[STORE]
        for _ in range(40):  # 20 simulated minutes, a pass of the leader's watch each 30 s
            before = watch_passes(leader.app)
            clock.advance(30)
            await until(lambda seen=before: watch_passes(leader.app) > seen,
                        "the leader's watch made no pass after the clock moved")
            incident = await store.get_incident(incident_id)
            assert incident is not None
            if incident.policy.mitigation.rollout == "complete":
                break
        assert incident.policy.mitigation.status == "applied"
        assert incident.state is State.MONITORING
        patches = [e for e in sim.audit.entries()
                   if e.method == "PATCH" and e.path == CONTROL_PLANE_PATH and e.status < 300]
        assert len(patches) == 1
        kinds = [e.kind for e in incident.timeline]
        assert kinds.count("mitigated") == 1 and kinds.count("evidence_collected") == 1
