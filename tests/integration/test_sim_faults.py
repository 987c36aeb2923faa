"""Injected faults look to a client exactly like a real apiserver's failures.

Raw HTTP (aiohttp) checks status codes, headers and `Status` bodies; the `/_sim` control
endpoints add and remove faults at run time as a test in another process would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from simulator.server import Simulator
from tests.simkit import running_simulator
from tests.waiting import until

NS = "codex-k8s-prod"
PODS = f"/api/v1/namespaces/{NS}/pods"
DEPLOYS = f"/apis/apps/v1/namespaces/{NS}/deployments"


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[Simulator, aiohttp.ClientSession]]:
    async with running_simulator("cache-recovers", tmp_path) as sim:
        headers = {"Authorization": f"Bearer {sim.token}"}
        async with aiohttp.ClientSession(sim.url, headers=headers) as http:
            yield sim, http


def _pod(sim: Simulator, part: str) -> str:
    return next(
        p["metadata"]["name"]
        for p in sim.world.store.items("pods", NS)
        if part in p["metadata"]["name"]
    )


async def test_internal_error_and_unavailable(
    live: tuple[Simulator, aiohttp.ClientSession],
) -> None:
    sim, http = live
    sim.add_fault(kind="error", status=500, resource="pods", verb="list", count=1)
    async with http.get(PODS) as resp:
        body = await resp.json()
        assert resp.status == 500
        assert resp.headers["Content-Type"] == "application/json"
    assert body["kind"] == "Status" and body["status"] == "Failure"
    assert body["reason"] == "InternalError" and body["code"] == 500
    assert body["message"].startswith("Internal error occurred: ")
    async with http.get(PODS) as resp:
        assert resp.status == 200, "count=1: fired once"
    sim.add_fault(kind="error", status=503, resource="deployments", count=1, retry_after=0)
    async with http.get(DEPLOYS) as resp:
        body = await resp.json()
        assert resp.status == 503 and "Retry-After" not in resp.headers
    assert body["reason"] == "ServiceUnavailable"


async def test_throttle_has_retry_after(live: tuple[Simulator, aiohttp.ClientSession]) -> None:
    sim, http = live
    sim.add_fault(kind="throttle", retry_after=3, count=2)
    for _ in range(2):
        async with http.get(f"{DEPLOYS}/codex-k8s-control-plane") as resp:
            body = await resp.json()
            assert resp.status == 429
            assert resp.headers["Retry-After"] == "3"
        assert body["reason"] == "TooManyRequests"
        assert body["details"] == {"retryAfterSeconds": 3}
        assert body["message"] == "Too many requests, please try again later."
    async with http.get(f"{DEPLOYS}/codex-k8s-control-plane") as resp:
        assert resp.status == 200


async def test_error_rate_is_partial_and_reproducible(
    live: tuple[Simulator, aiohttp.ClientSession],
) -> None:
    sim, http = live
    sim.add_fault(kind="error", status=500, rate=0.3, resource="jobs")
    codes = []
    for _ in range(40):
        async with http.get(f"/apis/batch/v1/namespaces/{NS}/jobs") as resp:
            codes.append(resp.status)
    assert set(codes) == {200, 500}
    assert 4 <= codes.count(500) <= 24


async def test_forbidden_matches_rbac_wording(
    live: tuple[Simulator, aiohttp.ClientSession],
) -> None:
    sim, http = live
    sim.add_fault(kind="forbidden", resource="pods", verb="list")
    async with http.get(PODS) as resp:
        body = await resp.json()
        assert resp.status == 403
    assert body["message"] == (
        'pods is forbidden: User "system:serviceaccount:codex-k8s-prod:aislot-responder" '
        'cannot list resource "pods" in API group "" in the namespace "codex-k8s-prod"'
    )
    assert body["reason"] == "Forbidden" and body["details"] == {"kind": "pods"}
    sim.add_fault(kind="forbidden", resource="deployments", verb="patch")
    async with http.patch(
        f"{DEPLOYS}/codex-k8s-control-plane",
        json={},
        headers={"Content-Type": "application/merge-patch+json"},
    ) as resp:
        body = await resp.json()
        assert resp.status == 403
    assert body["message"].startswith('deployments.apps "codex-k8s-control-plane" is forbidden')
    assert body["details"] == {
        "name": "codex-k8s-control-plane",
        "group": "apps",
        "kind": "deployments",
    }
    assert sim.audit.entries()[-1].status == 403


async def test_log_stream_dropped_mid_way(live: tuple[Simulator, aiohttp.ClientSession]) -> None:
    sim, http = live
    pod = _pod(sim, "control-plane")
    sim.add_fault(kind="drop", resource="pods/log", after_bytes=2000)
    received = b""
    with pytest.raises(aiohttp.ClientPayloadError):
        async with http.get(f"{PODS}/{pod}/log") as resp:
            assert resp.status == 200
            async for chunk in resp.content.iter_any():
                received += chunk
    assert 0 < len(received) <= 2000


async def test_plain_request_dropped(live: tuple[Simulator, aiohttp.ClientSession]) -> None:
    sim, http = live
    rule = sim.add_fault(kind="drop", resource="deployments")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        async with http.get(DEPLOYS) as resp:
            await resp.read()
    sim.faults.remove(rule.id)
    async with http.get(DEPLOYS) as resp:
        assert resp.status == 200


async def test_latency_fault_still_answers(live: tuple[Simulator, aiohttp.ClientSession]) -> None:
    sim, http = live
    rule = sim.add_fault(kind="latency", seconds=0.05, resource="pods")
    async with http.get(PODS) as resp:
        assert resp.status == 200
    assert rule.id in {r.id for r in sim.faults.rules()}


async def test_huge_log_is_generated_lazily(live: tuple[Simulator, aiohttp.ClientSession]) -> None:
    sim, http = live
    pod = _pod(sim, "control-plane")
    size = 5 * 1024 * 1024
    sim.add_fault(kind="huge_log", name="codex-k8s-control-plane-*", bytes=size)
    total = lines = hits = 0
    async with http.get(f"{PODS}/{pod}/log") as resp:
        async for chunk in resp.content.iter_chunked(1 << 16):
            total += len(chunk)
            lines += chunk.count(b"\n")
            hits += chunk.count(b"MANIFEST_UNKNOWN")
    assert abs(total - size) < size * 0.05
    assert hits == (lines + 996) // 997
    async with http.get(f"{PODS}/{pod}/log", params={"tailLines": "10"}) as resp:
        assert len((await resp.text()).splitlines()) == 10
    async with http.get(f"{PODS}/{pod}/log", params={"sinceSeconds": "60"}) as resp:
        recent = len(await resp.read())
    assert 0 < recent < total / 20


async def test_watch_resume_too_old_is_expired(
    live: tuple[Simulator, aiohttp.ClientSession],
) -> None:
    sim, http = live
    for _ in range(48):
        if sim.world.store.oldest_replayable() > 1001:
            break
        sim.advance(3600)
    params = {"watch": "true", "resourceVersion": "1001", "timeoutSeconds": "5"}
    async with http.get(DEPLOYS, params=params) as resp:
        assert resp.status == 200
        event = await resp.json(content_type=None)
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"
    assert event["object"]["message"].startswith("too old resource version: 1001")


async def test_control_endpoints(live: tuple[Simulator, aiohttp.ClientSession]) -> None:
    _, http = live
    async with http.post("/_sim/faults", json={"kind": "throttle", "resource": "pods"}) as resp:
        assert resp.status == 201
        rule_id = (await resp.json())["items"][0]["id"]
    async with http.get(PODS) as resp:
        assert resp.status == 429
    async with http.delete(f"/_sim/faults/{rule_id}") as resp:
        assert (await resp.json())["items"] == []
    async with http.post("/_sim/faults", json={"kind": "bogus"}) as resp:
        assert resp.status == 400
    async with http.post("/_sim/clock/advance", json={"seconds": 600}) as resp:
        advanced = await resp.json()
    assert advanced["now"] == "2026-02-26T10:10:00Z"
    async with http.patch(
        f"{DEPLOYS}/codex-k8s-worker",
        json={"spec": {"replicas": 1}},
        headers={"Content-Type": "application/merge-patch+json"},
    ) as resp:
        assert resp.status == 200
    async with http.get("/_sim/audit") as resp:
        audit = (await resp.json())["items"]
    assert audit[-1]["method"] == "PATCH" and audit[-1]["patch_type"] == "merge"
    assert audit[-1]["body"] == {"spec": {"replicas": 1}}
    assert audit[-1]["time"] == "2026-02-26T10:10:00Z"
    async with http.get("/_sim/state") as resp:
        state = await resp.json()
    assert state["scenario"] == "cache-recovers" and state["cache_enabled"] is True
    assert state["deployments"]["codex-k8s-control-plane"]["availableReplicas"] == 1
    async with http.post("/_sim/scenario", json={"name": "healthy"}) as resp:
        assert (await resp.json())["scenario"] == "healthy"


async def test_watch_dropped_mid_stream(live: tuple[Simulator, aiohttp.ClientSession]) -> None:
    sim, http = live
    sim.add_fault(kind="drop", resource="deployments", verb="watch", after_bytes=3000)
    lines = 0
    with pytest.raises(aiohttp.ClientPayloadError):
        async with http.get(DEPLOYS, params={"watch": "true", "timeoutSeconds": "5"}) as resp:
            assert resp.status == 200
            async for _ in resp.content:
                lines += 1
    assert 1 <= lines < 4


async def test_scaled_clock_moves_the_world(tmp_path: Path) -> None:
    sim = Simulator("healthy", speed=600.0)
    start = sim.world.now
    async with sim:
        await until(lambda: sim.world.now > start, "the simulated world stood still")
