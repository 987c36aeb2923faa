"""Two replicas on one PostgreSQL database: one leads the runbook, the switch is patched once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from service.api.keys import RUNBOOK, STORE
from service.domain.lifecycle import State
from tests.adapters.pg_server import shared
from tests.conftest import AppStarter, alert, make_settings, notification
from tests.runbook_harness import CONTROL_PLANE_PATH, SimTime
from tests.simkit import running_simulator


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
        deadline = time.monotonic() + 20
        while not any(RUNBOOK in c.app and c.app[RUNBOOK].passes for c in clients):
            assert time.monotonic() < deadline, "no replica started the runbook"
            await asyncio.sleep(0.05)
        leaders = [c for c in clients if c.app[RUNBOOK].passes]
        assert len(leaders) == 1  # the other waits for the advisory lock

        starts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sim.clock.now() - 180))
        status, ack = await b.webhook(notification(alert("fp-rep", starts=starts)))
        assert status == 200
        incident_id = ack["incidents"][0]
        store = a.app[STORE]
        for _ in range(40):  # 20 simulated minutes
            clock.advance(30)
            await asyncio.sleep(0.1)
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
