"""API semantics of the simulator over HTTP: patches, PUT conflicts, paging, Tables, watches.

Raw aiohttp requests, so status codes, media types and bodies are checked as sent on the wire.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from simulator.patches import apply_patch
from simulator.server import Simulator
from tests.simkit import running_simulator

NS = "codex-k8s-prod"
DEPLOY = f"/apis/apps/v1/namespaces/{NS}/deployments/codex-k8s-control-plane"
SMP = "application/strategic-merge-patch+json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[tuple[Simulator, aiohttp.ClientSession]]:
    async with (
        running_simulator("healthy", tmp_path) as sim,
        aiohttp.ClientSession(sim.url) as session,
    ):
        yield sim, session


def test_strategic_merge_list_semantics() -> None:
    pod: dict[str, Any] = {
        "spec": {
            "containers": [
                {
                    "name": "a",
                    "image": "a:1",
                    "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}],
                },
                {"name": "b", "image": "b:1", "args": ["--one"]},
            ]
        }
    }
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [
                {
                    "name": "a",
                    "$setElementOrder/env": [{"name": "Z"}, {"name": "X"}],
                    "env": [
                        {"name": "Z", "value": "3"},
                        {"name": "Y", "$patch": "delete"},
                        {"name": "X", "value": None},
                    ],
                },
                {"name": "b", "args": ["--two"]},
            ],
        }
    }
    out = apply_patch(SMP, pod, patch)
    containers = out["spec"]["containers"]
    assert [c["name"] for c in containers] == ["b", "a"]
    assert containers[0]["args"] == ["--two"], "lists without a merge key are replaced"
    assert containers[1]["env"] == [{"name": "Z", "value": "3"}, {"name": "X"}]
    assert pod["spec"]["containers"][0]["env"][1] == {"name": "Y", "value": "2"}, "no mutation"
    replaced = apply_patch(
        SMP, pod, {"spec": {"containers": [{"$patch": "replace"}, {"name": "c", "image": "c:1"}]}}
    )
    assert replaced["spec"]["containers"] == [{"name": "c", "image": "c:1"}]
    meta = apply_patch(
        SMP,
        {"metadata": {"finalizers": ["x"], "labels": {"a": "1"}}},
        {
            "metadata": {
                "finalizers": ["y"],
                "labels": {"a": None, "b": "2"},
                "$deleteFromPrimitiveList/finalizers": ["x"],
            }
        },
    )
    assert meta == {"metadata": {"finalizers": ["y"], "labels": {"b": "2"}}}


def test_merge_and_json_patch() -> None:
    doc = {"a": {"b": 1, "c": [1, 2]}, "d": "x"}
    assert apply_patch("application/merge-patch+json", doc, {"a": {"b": None, "c": [3]}}) == {
        "a": {"c": [3]},
        "d": "x",
    }
    ops = [
        {"op": "add", "path": "/a/c/-", "value": 9},
        {"op": "move", "from": "/d", "path": "/e"},
        {"op": "copy", "from": "/e", "path": "/f"},
        {"op": "remove", "path": "/a/b"},
        {"op": "test", "path": "/f", "value": "x"},
    ]
    assert apply_patch("application/json-patch+json", doc, ops) == {
        "a": {"c": [1, 2, 9]},
        "e": "x",
        "f": "x",
    }


async def test_put_needs_the_current_resource_version(
    http: tuple[Simulator, aiohttp.ClientSession],
) -> None:
    _, session = http
    path = f"/api/v1/namespaces/{NS}/configmaps/codex-k8s-config"
    async with session.get(path) as resp:
        cm = await resp.json()
    cm["data"]["CODEXK8S_AI_SLOTS"] = "8"
    async with session.put(path, json=cm) as resp:
        assert resp.status == 200
        updated = await resp.json()
    assert int(updated["metadata"]["resourceVersion"]) > int(cm["metadata"]["resourceVersion"])
    async with session.put(path, json=cm) as resp:
        body = await resp.json()
        assert resp.status == 409
    assert body["reason"] == "Conflict"
    assert body["message"].startswith(
        "Operation cannot be fulfilled on configmaps "
        '"codex-k8s-config": the object has been modified'
    )


async def test_patch_edge_cases(http: tuple[Simulator, aiohttp.ClientSession]) -> None:
    sim, session = http
    async with session.patch(DEPLOY, data="{}", headers={"Content-Type": "text/plain"}) as resp:
        assert resp.status == 415
        assert (await resp.json())["reason"] == "UnsupportedMediaType"
    async with session.get(DEPLOY) as resp:
        before = await resp.json()
    async with session.patch(
        DEPLOY,
        data=json.dumps({"metadata": {"labels": {"x": "y"}}}),
        headers={"Content-Type": SMP},
        params={"dryRun": "All"},
    ) as resp:
        assert (await resp.json())["metadata"]["labels"]["x"] == "y"
    same = {"spec": {"replicas": 1}}
    async with session.patch(DEPLOY, data=json.dumps(same), headers={"Content-Type": SMP}) as resp:
        after = await resp.json()
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"], (
        "a no-op patch writes nothing"
    )
    assert "x" not in after["metadata"]["labels"]
    selector = {"spec": {"selector": {"matchLabels": {"a": "b"}}}}
    async with session.patch(
        DEPLOY, data=json.dumps(selector), headers={"Content-Type": "application/merge-patch+json"}
    ) as resp:
        body = await resp.json()
        assert resp.status == 422
    assert body["reason"] == "Invalid" and "field is immutable" in body["message"]
    assert (
        sim.world.store.peek("deployments", NS, "codex-k8s-control-plane")["metadata"]["generation"]
        == 1
    )


async def test_list_paging_and_tables(http: tuple[Simulator, aiohttp.ClientSession]) -> None:
    _, session = http
    path = f"/api/v1/namespaces/{NS}/pods"
    names: list[str] = []
    params = {"limit": "2"}
    while True:
        async with session.get(path, params=params) as resp:
            page = await resp.json()
        assert page["kind"] == "PodList" and "kind" not in page["items"][0]
        names += [p["metadata"]["name"] for p in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
        params = {"limit": "2", "continue": token}
    async with session.get(path) as resp:
        everything = [p["metadata"]["name"] for p in (await resp.json())["items"]]
    assert names == everything and len(names) > 2
    async with session.get(f"{path}/{names[0]}", headers={"Accept": TABLE}) as resp:
        table = await resp.json()
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]][:5] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    async with session.get(
        path, headers={"Accept": TABLE}, params={"includeObject": "Object"}
    ) as resp:
        full = await resp.json()
    assert full["rows"][0]["object"]["kind"] == "Pod"


async def test_watch_with_initial_events_and_bookmark(
    http: tuple[Simulator, aiohttp.ClientSession],
) -> None:
    _, session = http
    params = {
        "watch": "1",
        "sendInitialEvents": "true",
        "allowWatchBookmarks": "true",
        "resourceVersionMatch": "NotOlderThan",
        "timeoutSeconds": "1",
        "labelSelector": "app.kubernetes.io/name=codex-k8s",
    }
    async with session.get(f"/apis/apps/v1/namespaces/{NS}/deployments", params=params) as resp:
        assert resp.headers["Content-Type"] == "application/json"
        events = [json.loads(line) async for line in resp.content]
    kinds = [e["type"] for e in events]
    assert kinds == ["ADDED", "ADDED", "ADDED", "BOOKMARK"]
    assert events[-1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_discovery_documents(http: tuple[Simulator, aiohttp.ClientSession]) -> None:
    _, session = http
    async with session.get("/version") as resp:
        assert (await resp.json())["gitVersion"].startswith("v1.32")
    async with session.get("/api/v1") as resp:
        core = {r["name"]: r for r in (await resp.json())["resources"]}
    assert core["pods"]["shortNames"] == ["po"] and core["events"]["shortNames"] == ["ev"]
    assert core["pods/log"]["verbs"] == ["get"] and core["configmaps"]["shortNames"] == ["cm"]
    async with session.get("/apis/apps/v1") as resp:
        apps = {r["name"]: r for r in (await resp.json())["resources"]}
    assert apps["deployments"]["shortNames"] == ["deploy"]
    assert apps["replicasets"]["shortNames"] == ["rs"]
    assert apps["deployments/scale"]["group"] == "autoscaling"
    async with session.get("/apis") as resp:
        groups = {g["name"] for g in (await resp.json())["groups"]}
    assert groups == {"apps", "batch", "authorization.k8s.io"}
    async with session.get("/apis/nope/v1") as resp:
        assert resp.status == 404


async def test_aggregated_discovery(http: tuple[Simulator, aiohttp.ClientSession]) -> None:
    _, session = http
    accept = (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
        "application/json"
    )
    async with session.get("/apis", headers={"Accept": accept}) as resp:
        assert resp.headers["Content-Type"] == (
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        )
        doc = await resp.json(content_type=None)
    assert doc["kind"] == "APIGroupDiscoveryList"
    apps = next(g for g in doc["items"] if g["metadata"]["name"] == "apps")
    deploy = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert deploy["scope"] == "Namespaced" and deploy["shortNames"] == ["deploy"]
    scale = next(s for s in deploy["subresources"] if s["subresource"] == "scale")
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    async with session.get("/api", headers={"Accept": accept}) as resp:
        core = await resp.json(content_type=None)
    pods = next(r for r in core["items"][0]["versions"][0]["resources"] if r["resource"] == "pods")
    assert {s["subresource"] for s in pods["subresources"]} == {"log", "status"}
