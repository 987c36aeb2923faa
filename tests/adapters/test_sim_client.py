"""kubernetes_asyncio against the simulator: every call the responder makes round-trips.

The client deserialises into its typed models with client-side validation on, so a missing
required field or a wrong shape fails here exactly as it would against a broken apiserver.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.rest import ApiException

from simulator.server import Simulator
from tests.simkit import running_simulator

NS = "codex-k8s-prod"
CP = "codex-k8s-control-plane"
CP_SELECTOR = "app.kubernetes.io/name=codex-k8s,app.kubernetes.io/component=control-plane"


async def _client(kubeconfig: Path) -> client.ApiClient:
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    return client.ApiClient(configuration=cfg)


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[tuple[Simulator, client.ApiClient]]:
    async with running_simulator("cache-recovers", tmp_path) as sim:
        assert sim.kubeconfig_path is not None
        api = await _client(sim.kubeconfig_path)
        try:
            yield sim, api
        finally:
            await api.close()


async def test_pods_with_label_and_field_selectors(
    cluster: tuple[Simulator, client.ApiClient],
) -> None:
    _, api = cluster
    core = client.CoreV1Api(api)
    pods = await core.list_namespaced_pod(NS, label_selector=CP_SELECTOR)
    assert len(pods.items) == 1
    pod = pods.items[0]
    assert pod.status.phase == "Running"
    assert pod.status.container_statuses[0].ready is True
    assert pod.status.container_statuses[0].restart_count == 0
    assert pod.metadata.owner_references[0].kind == "ReplicaSet"
    failed = await core.list_namespaced_pod(NS, field_selector="status.phase=Failed")
    assert failed.items and all(
        p.metadata.labels["app.kubernetes.io/name"] == "codex-k8s-kaniko" for p in failed.items
    )
    assert all(p.status.container_statuses[0].state.terminated.exit_code == 1 for p in failed.items)
    one = await core.read_namespaced_pod(pod.metadata.name, NS)
    assert one.metadata.uid == pod.metadata.uid
    set_based = await core.list_namespaced_pod(
        NS, label_selector="app.kubernetes.io/name in (codex-k8s-kaniko),!job-name-missing"
    )
    kaniko = [p.metadata.name for p in set_based.items]
    assert len(kaniko) >= len(failed.items)
    assert all(name.startswith("codex-k8s-kaniko-") for name in kaniko)
    none = await core.list_namespaced_pod(
        NS,
        label_selector="app.kubernetes.io/name notin "
        "(codex-k8s,codex-k8s-kaniko,codex-k8s-registry,codex-k8s-image-mirror)",
    )
    assert none.items == []


async def test_jobs_deployments_replicasets_events(
    cluster: tuple[Simulator, client.ApiClient],
) -> None:
    _, api = cluster
    batch, apps, core = client.BatchV1Api(api), client.AppsV1Api(api), client.CoreV1Api(api)
    jobs = await batch.list_namespaced_job(
        NS, label_selector="app.kubernetes.io/name=codex-k8s-kaniko"
    )
    assert jobs.items
    job = await batch.read_namespaced_job(jobs.items[0].metadata.name, NS)
    kinds = [c.type for c in job.status.conditions]
    assert kinds == ["FailureTarget", "Failed"]
    assert job.status.failed == 1 and job.status.start_time is not None
    assert job.spec.backoff_limit == 0 and job.spec.ttl_seconds_after_finished == 600
    deployments = await apps.list_namespaced_deployment(NS)
    names = {d.metadata.name for d in deployments.items}
    assert names == {CP, "codex-k8s-worker", "codex-k8s", "codex-k8s-registry"}
    deploy = await apps.read_namespaced_deployment(CP, NS)
    env = {e.name: e.value for e in deploy.spec.template.spec.containers[0].env}
    assert env["CODEXK8S_KANIKO_CACHE_ENABLED"] == "true"
    assert deploy.status.observed_generation == deploy.metadata.generation
    assert [c.type for c in deploy.status.conditions] == ["Available", "Progressing"]
    sets = await apps.list_namespaced_replica_set(NS, label_selector=CP_SELECTOR)
    assert sets.items[0].metadata.owner_references[0].name == CP
    rs = await apps.read_namespaced_replica_set(sets.items[0].metadata.name, NS)
    assert rs.status.ready_replicas == 1
    events = await core.list_namespaced_event(NS, field_selector="reason=BackoffLimitExceeded")
    assert events.items and all(e.type == "Warning" for e in events.items)


async def test_secret_and_configmap_read_and_patch(
    cluster: tuple[Simulator, client.ApiClient],
) -> None:
    sim, api = cluster
    core = client.CoreV1Api(api)
    secret = await core.read_namespaced_secret("codex-k8s-runtime", NS)
    assert "CODEXK8S_DATABASE_URL" in secret.data
    patched = await core.patch_namespaced_secret(
        "codex-k8s-runtime", NS, {"stringData": {"CODEXK8S_KANIKO_CACHE_ENABLED": "false"}}
    )
    assert patched.data["CODEXK8S_KANIKO_CACHE_ENABLED"] == "ZmFsc2U="
    assert int(patched.metadata.resource_version) > int(secret.metadata.resource_version)
    cm = await core.read_namespaced_config_map("codex-k8s-config", NS)
    assert cm.data["CODEXK8S_BUILD_REF"] == "main"
    cm2 = await core.patch_namespaced_config_map(
        "codex-k8s-config",
        NS,
        {"data": {"CODEXK8S_BUILD_REF": "v1.2.3"}},
        _content_type="application/merge-patch+json",
    )
    assert cm2.data["CODEXK8S_BUILD_REF"] == "v1.2.3"
    assert [e.patch_type for e in sim.audit.entries()] == ["strategic", "merge"]


async def test_streamed_logs_with_options(cluster: tuple[Simulator, client.ApiClient]) -> None:
    sim, api = cluster
    core = client.CoreV1Api(api)
    pod = (await core.list_namespaced_pod(NS, label_selector=CP_SELECTOR)).items[0].metadata.name
    response = await core.read_namespaced_pod_log(
        pod, NS, container="control-plane", since_seconds=6 * 3600, _preload_content=False
    )
    chunks = []
    async for chunk in response.content.iter_chunked(4096):
        chunks.append(chunk)
    response.release()
    text = b"".join(chunks).decode()
    assert response.headers["Content-Type"] == "text/plain"
    assert response.headers.get("Transfer-Encoding") == "chunked"
    assert text.count("MANIFEST_UNKNOWN") >= 9
    tail = await core.read_namespaced_pod_log(pod, NS, tail_lines=3, timestamps=True)
    lines = tail.splitlines()
    assert len(lines) == 3 and all(line[:4] == "2026" and line[29:31] == "Z " for line in lines)
    limited = await core.read_namespaced_pod_log(pod, NS, limit_bytes=100)
    assert len(limited.encode()) == 100
    with pytest.raises(ApiException) as err:
        await core.read_namespaced_pod_log(pod, NS, previous=True)
    assert err.value.status == 400
    assert "previous terminated container" in json.loads(err.value.body)["message"]
    _ = sim


async def test_three_patch_types_on_deployment(cluster: tuple[Simulator, client.ApiClient]) -> None:
    sim, api = cluster
    apps = client.AppsV1Api(api)
    before = await apps.read_namespaced_deployment(CP, NS)
    strategic = await apps.patch_namespaced_deployment(
        CP,
        NS,
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "control-plane",
                                "env": [
                                    {"name": "CODEXK8S_KANIKO_CACHE_ENABLED", "value": "false"},
                                    {"name": "CODEXK8S_ENV", "$patch": "delete"},
                                ],
                            }
                        ]
                    }
                }
            }
        },
    )
    env = strategic.spec.template.spec.containers[0].env
    assert [e.name for e in env] == ["CODEXK8S_REGISTRY_HOST", "CODEXK8S_KANIKO_CACHE_ENABLED"]
    assert env[1].value == "false"
    assert strategic.metadata.generation == before.metadata.generation + 1
    merged = await apps.patch_namespaced_deployment(
        CP,
        NS,
        {"metadata": {"annotations": {"sre/incident": "inc-1"}}},
        _content_type="application/merge-patch+json",
    )
    assert merged.metadata.annotations["sre/incident"] == "inc-1"
    assert merged.metadata.generation == strategic.metadata.generation
    assert int(merged.metadata.resource_version) > int(strategic.metadata.resource_version)
    jsonp = await apps.patch_namespaced_deployment(
        CP,
        NS,
        [
            {"op": "test", "path": "/spec/replicas", "value": 1},
            {
                "op": "replace",
                "path": "/spec/template/spec/containers/0/env/1/value",
                "value": "true",
            },
        ],
    )
    assert jsonp.spec.template.spec.containers[0].env[1].value == "true"
    assert jsonp.metadata.generation == strategic.metadata.generation + 1
    with pytest.raises(ApiException) as err:
        await apps.patch_namespaced_deployment(
            CP, NS, [{"op": "test", "path": "/spec/replicas", "value": 5}]
        )
    assert err.value.status == 422
    types = [e.patch_type for e in sim.audit.entries()]
    assert types == ["strategic", "merge", "json", "json"]


async def test_deployment_watch_follows_a_rollout(
    cluster: tuple[Simulator, client.ApiClient],
) -> None:
    sim, api = cluster
    apps = client.AppsV1Api(api)
    listed = await apps.list_namespaced_deployment(NS, field_selector=f"metadata.name={CP}")
    rv = listed.metadata.resource_version
    await apps.patch_namespaced_deployment(
        CP,
        NS,
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "control-plane",
                                "env": [
                                    {"name": "CODEXK8S_KANIKO_CACHE_ENABLED", "value": "false"}
                                ],
                            }
                        ]
                    }
                }
            }
        },
    )

    async def drive() -> None:
        # One simulated second a turn: each change is kept for the watch, which replays from
        # ``rv``, so how fast it reads does not matter.
        for _ in range(40):
            await asyncio.sleep(0)
            sim.advance(1)

    driver = asyncio.create_task(drive())
    seen = []
    w = watch.Watch()
    async for event in w.stream(
        apps.list_namespaced_deployment,
        NS,
        field_selector=f"metadata.name={CP}",
        resource_version=rv,
        timeout_seconds=30,
    ):
        d = event["object"]
        seen.append(
            (
                event["type"],
                d.metadata.generation,
                d.status.observed_generation,
                d.status.updated_replicas,
                d.status.available_replicas,
                d.status.replicas,
            )
        )
        if (
            d.status.updated_replicas == 1
            and d.status.replicas == 1
            and d.status.observed_generation == d.metadata.generation == 2
        ):
            w.stop()
    await driver
    assert all(kind == "MODIFIED" for kind, *_ in seen)
    assert seen[0][1:3] == (2, 1), "the patch itself: spec changed, not yet observed"
    assert any(event[1:3] == (2, 2) for event in seen[1:])
    assert any(replicas == 2 for *_, replicas in seen), "surge: old and new pod together"
    assert sim.world.cache_enabled is False


async def test_access_review_and_errors(tmp_path: Path) -> None:
    async with running_simulator("rbac-restricted", tmp_path) as sim:
        assert sim.kubeconfig_path is not None
        api = await _client(sim.kubeconfig_path)
        try:
            auth = client.AuthorizationV1Api(api)
            core = client.CoreV1Api(api)

            async def review(name: str | None, resource: str = "pods") -> bool:
                body = client.V1SelfSubjectAccessReview(
                    spec=client.V1SelfSubjectAccessReviewSpec(
                        resource_attributes=client.V1ResourceAttributes(
                            namespace=NS,
                            verb="get",
                            resource=resource,
                            subresource="log",
                            name=name,
                        )
                    )
                )
                result = await auth.create_self_subject_access_review(body)
                return bool(result.status.allowed)

            assert await review(None) is True
            assert await review("codex-k8s-worker-abc-12345") is False
            assert await review("codex-k8s-control-plane-abc-12345") is True
            with pytest.raises(ApiException) as err:
                await core.read_namespaced_pod("nope", NS)
            body = json.loads(err.value.body)
            assert err.value.status == 404
            assert body == {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": 'pods "nope" not found',
                "reason": "NotFound",
                "details": {"name": "nope", "kind": "pods"},
                "code": 404,
            }
        finally:
            await api.close()
        sim.token = "rotated"
        api = await _client(sim.kubeconfig_path)
        try:
            with pytest.raises(ApiException) as err:
                await client.CoreV1Api(api).list_namespaced_pod(NS)
            assert err.value.status == 401
            assert json.loads(err.value.body)["reason"] == "Unauthorized"
        finally:
            await api.close()
