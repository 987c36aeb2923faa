"""A compact summary of the simulated world (`GET /_sim/state`, `Simulator.state()`).

Purpose: what a test or a demo operator wants at a glance: simulated now, the cache switch the
serving control-plane runs with, Deployment rollout counters, and every job the platform
launched with its outcome (kept after the Job object vanished by TTL).
Boundary: read-only view.
"""

from __future__ import annotations

from typing import Any

from simulator.clock import rfc3339
from simulator.world import World


def world_summary(world: World) -> dict[str, Any]:
    deployments = {}
    for d in world.store.items("deployments", world.namespace):
        st = d.get("status", {})
        progressing: dict[str, Any] = next(
            (c for c in st.get("conditions", []) if c["type"] == "Progressing"), {}
        )
        deployments[d["metadata"]["name"]] = {
            "generation": d["metadata"].get("generation"),
            "observedGeneration": st.get("observedGeneration"),
            "replicas": st.get("replicas", 0),
            "updatedReplicas": st.get("updatedReplicas", 0),
            "availableReplicas": st.get("availableReplicas", 0),
            "progressing": progressing.get("reason"),
        }
    jobs = [
        {
            "name": r.name,
            "kind": r.kind,
            "component": r.component,
            "run_id": r.run_id,
            "outcome": r.outcome,
            "cache_enabled": r.cache_enabled,
            "created": rfc3339(r.created),
            "finished": rfc3339(r.finished) if r.finished is not None else None,
        }
        for r in world.activity.history
    ]
    return {
        "now": rfc3339(world.now),
        "epoch": world.now,
        "namespace": world.namespace,
        "cache_enabled": world.cache_enabled,
        "deployments": deployments,
        "jobs": jobs,
        "live_jobs": len(world.store.items("jobs", world.namespace)),
        "live_pods": len(world.store.items("pods", world.namespace)),
    }
