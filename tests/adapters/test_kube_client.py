"""KubeClient against the simulator: round trips, error mapping, retries, streams and watches.

The simulator speaks kube-apiserver's protocol; the client reaches it through a normal
kubeconfig, exactly as it reaches a real cluster. Faults are injected on the simulator side.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from service.cluster.client import PATCH_CONTENT_TYPES, KubeClient
from service.cluster.errors import (
    KubeConfigError,
    KubeForbidden,
    KubeNotFound,
    KubePermanent,
    KubeRetryable,
    KubeStreamBroken,
    KubeTimeout,
)
from service.cluster.scope import metering, sharing_reads
from service.config.settings import KubeSettings
from simulator.server import Simulator
from tests import simkit
from tests.simkit import SimFactory
from tests.waiting import until

sim_factory = simkit.sim_factory
CP = "codex-k8s-control-plane"
SWITCH = "CODEXK8S_KANIKO_CACHE_ENABLED"


@contextlib.asynccontextmanager
async def client(sim: Simulator, **kube: Any) -> AsyncIterator[KubeClient]:
    settings = KubeSettings(kubeconfig=sim.kubeconfig_path, **kube)
    kc = await KubeClient.from_settings(settings)
    try:
        yield kc
    finally:
        await kc.close()


def _names(listing: dict[str, Any]) -> list[str]:
    return [item["metadata"]["name"] for item in listing["items"]]


async def _pod_of(kc: KubeClient, prefix: str) -> str:
    return next(n for n in _names(await kc.list_pods()) if n.startswith(prefix))


async def _read(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def test_reads_return_the_apis_own_json(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-recovers") as sim, client(sim) as kc:
        pods = await kc.list_pods(label_selector="app.kubernetes.io/component=control-plane")
        assert pods["kind"] == "PodList"
        # Kubernetes' own field names, not snake_case model attributes.
        assert "containerStatuses" in pods["items"][0]["status"]
        running = await kc.list_pods(field_selector="status.phase=Running")
        assert all(p["status"]["phase"] == "Running" for p in running["items"])
        jobs = await kc.list_jobs(label_selector="app.kubernetes.io/name=codex-k8s-kaniko")
        assert jobs["kind"] == "JobList" and jobs["items"]
        deploy = await kc.get_deployment(CP)
        assert deploy["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == (
            "control-plane")
        secret = await kc.get_secret("codex-k8s-runtime")
        assert "CODEXK8S_GITHUB_TOKEN" in secret["data"]
        cm = await kc.get_configmap("codex-k8s-config")
        assert cm["data"]["CODEXK8S_BUILD_REF"]


async def test_patches_send_the_content_type_of_their_kind(sim_factory: SimFactory) -> None:
    async with sim_factory("healthy") as sim, client(sim) as kc:
        body = {"spec": {"template": {"spec": {"containers": [
            {"name": "control-plane", "env": [{"name": SWITCH, "value": "false"}]}]}}}}
        patched = await kc.patch_deployment(CP, body, "strategic")
        env = patched["spec"]["template"]["spec"]["containers"][0]["env"]
        assert {"name": SWITCH, "value": "false"} in env
        # strategic merge kept the other entries of the list
        assert any(e["name"] == "CODEXK8S_ENV" for e in env)
        cm = await kc.patch_configmap("codex-k8s-config", {"data": {"CODEXK8S_BUILD_REF": "main"}},
                                      "merge")
        assert cm["data"]["CODEXK8S_BUILD_REF"] == "main"
        value = base64.b64encode(b"false").decode()
        secret = await kc.patch_secret(
            "codex-k8s-runtime", [{"op": "add", "path": f"/data/{SWITCH}", "value": value}], "json")
        assert secret["data"][SWITCH] == value
        sent = [e.content_type for e in sim.audit.entries() if e.method == "PATCH"]
        assert sent == [PATCH_CONTENT_TYPES[k] for k in ("strategic", "merge", "json")]
        with pytest.raises(ValueError, match="patch_type"):
            await kc.patch_configmap("codex-k8s-config", {}, "apply")  # type: ignore[arg-type]


async def test_pod_log_streams_with_options(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-recovers") as sim, client(sim) as kc:
        pod = await _pod_of(kc, CP)
        whole = await _read(kc.stream_pod_log(pod, "control-plane", since_seconds=6 * 3600))
        assert whole.count(b"\n") > 100 and b"MANIFEST_UNKNOWN" in whole
        tail = await _read(kc.stream_pod_log(pod, tail_lines=5, timestamps=True))
        lines = tail.decode().splitlines()
        assert len(lines) == 5 and lines[0][:4] == "2026" and " {" in lines[0]
        limited = await _read(kc.stream_pod_log(pod, limit_bytes=100))
        assert len(limited) == 100
        recent = await _read(kc.stream_pod_log(pod, since_seconds=60))
        assert 0 < len(recent) < len(whole)


async def test_big_log_arrives_in_chunks(sim_factory: SimFactory) -> None:
    async with sim_factory("healthy") as sim, client(sim) as kc:
        pod = await _pod_of(kc, CP)
        sim.add_fault(kind="huge_log", name=pod, bytes=4 * 1024 * 1024)
        sizes = [len(c) async for c in kc.stream_pod_log(pod)]
        assert sum(sizes) > 3 * 1024 * 1024
        assert len(sizes) > 10 and max(sizes) <= 256 * 1024


async def test_watch_sees_the_rollout(sim_factory: SimFactory) -> None:
    async with sim_factory("healthy") as sim, client(sim) as kc:
        events: list[dict[str, Any]] = []

        async def watch() -> None:
            async for event in kc.watch("deployments", "apps/v1", timeout_s=1,
                                        field_selector=f"metadata.name={CP}"):
                events.append(event)

        task = asyncio.create_task(watch())
        await until(lambda: bool(events), "the watch's first event")  # it is established
        await kc.patch_deployment(CP, {"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": "2026-02-26T10:00:00Z"}}}}})
        for _ in range(4):
            sim.advance(5)  # each step's changes are queued for the watch as they happen
        await task  # ends at the watch's own timeout_s
    assert events[0]["type"] == "ADDED"
    assert {e["object"]["metadata"]["name"] for e in events} == {CP}
    modified = [e for e in events if e["type"] == "MODIFIED"]
    assert modified and modified[-1]["object"]["metadata"]["generation"] == 2


async def test_can_i_answers_like_the_rbac_of_the_scenario(sim_factory: SimFactory) -> None:
    async with sim_factory("rbac-restricted") as sim, client(sim) as kc:
        assert await kc.can_i("get", "pods", "log")
        assert await kc.can_i("list", "jobs", group="batch")
        assert not await kc.can_i("get", "pods", "log", name="codex-k8s-worker-abc")
        assert not await kc.can_i("create", "pods", "exec")


async def test_forbidden_and_not_found_are_permanent(sim_factory: SimFactory) -> None:
    async with sim_factory("rbac-restricted") as sim, client(sim) as kc:
        worker = await _pod_of(kc, "codex-k8s-worker")
        with metering() as meter, pytest.raises(KubeForbidden) as denied:
            await _read(kc.stream_pod_log(worker))
        assert (denied.value.verb, denied.value.resource) == ("get", "pods/log")
        assert denied.value.hint == "grant get on pods/log in namespace codex-k8s-prod"
        assert meter.most == 1  # a 403 is not retried
        with pytest.raises(KubeNotFound):
            await kc.get_deployment("no-such-deployment")
        with pytest.raises(KubePermanent) as bad:
            await _read(kc.stream_pod_log(worker.replace("worker", "control-plane"), "nope"))
        assert bad.value.status in (400, 404)


@pytest.mark.parametrize(("fault", "status"), [
    ({"kind": "error", "status": 500}, 500),
    ({"kind": "error", "status": 503, "retry_after": 0}, 503),
    ({"kind": "throttle", "retry_after": 1}, 429),
])
async def test_retryable_answers_are_retried(sim_factory: SimFactory, fault: dict[str, Any],
                                             status: int) -> None:
    async with sim_factory("healthy") as sim, client(sim) as kc:
        sim.add_fault(resource="deployments", verb="get", count=2, **fault)
        with metering() as meter:
            deploy = await kc.get_deployment(CP)
        assert deploy["metadata"]["name"] == CP
        assert (meter.calls, meter.attempts) == (1, 3)


async def test_throttle_honours_retry_after(sim_factory: SimFactory) -> None:
    async with sim_factory("healthy") as sim, client(sim, retry_deadline_s=0.5) as kc:
        sim.add_fault(kind="throttle", resource="jobs", verb="list", retry_after=1)
        with pytest.raises(KubeRetryable) as throttled:
            await kc.list_jobs()
        # The server asks for 1 s, past the 0.5 s deadline: no earlier try (it would only be
        # throttled again) and no sleep past the deadline; the error carries the server's wait.
        assert throttled.value.status == 429 and throttled.value.retry_after_s == 1.0
        assert throttled.value.attempts == 1


async def test_throttle_within_the_deadline_waits_as_asked(sim_factory: SimFactory) -> None:
    async with sim_factory("healthy") as sim, client(sim, retry_deadline_s=5) as kc:
        sim.add_fault(kind="throttle", resource="jobs", verb="list", retry_after=1, count=1)
        jobs = await kc.list_jobs()
        assert jobs["kind"] == "JobList"
        assert sim.traffic.served["list jobs"] == 1  # the throttled try was not an answer


async def test_gives_up_at_the_retry_deadline(sim_factory: SimFactory) -> None:
    async with sim_factory("healthy") as sim, client(sim, retry_deadline_s=0.5) as kc:
        sim.add_fault(kind="error", status=500, resource="deployments")
        with pytest.raises(KubeRetryable) as failed:
            await kc.get_deployment(CP)
        assert failed.value.status == 500 and failed.value.attempts >= 2


async def test_slow_answer_times_out_and_is_retried(sim_factory: SimFactory) -> None:
    async with sim_factory("healthy") as sim, client(sim, request_timeout_s=0.3,
                                                     retry_deadline_s=0.8) as kc:
        sim.add_fault(kind="latency", resource="configmaps", seconds=2)
        with pytest.raises(KubeTimeout) as slow:
            await kc.get_configmap("codex-k8s-config")
        assert slow.value.attempts >= 2


async def test_stream_is_retried_only_before_its_first_byte(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-recovers") as sim, client(sim) as kc:
        pod = await _pod_of(kc, CP)
        sim.add_fault(kind="error", status=503, retry_after=0, resource="pods/log", count=1)
        with metering() as meter:
            assert b"MANIFEST_UNKNOWN" in await _read(kc.stream_pod_log(pod))
        assert meter.attempts == 2
        sim.add_fault(kind="drop", resource="pods/log", after_bytes=1000, count=1)
        received = 0
        with metering() as meter, pytest.raises(KubeStreamBroken):
            async for chunk in kc.stream_pod_log(pod):
                received += len(chunk)
        assert received == 1000 and meter.attempts == 1


async def test_identical_reads_share_one_request_inside_an_investigation(
        sim_factory: SimFactory) -> None:
    async with sim_factory("healthy") as sim, client(sim) as kc:
        with metering() as shared:
            with sharing_reads():
                first, second, other = await asyncio.gather(
                    kc.list_pods(), kc.list_pods(), kc.list_pods(label_selector="job-name"))
            assert first is second and other is not first
        assert shared.calls == 2  # the two identical lists went out once
        with metering() as alone:
            await asyncio.gather(kc.list_pods(), kc.list_pods())
        assert alone.calls == 2
        with sharing_reads():  # writes are never shared
            await kc.patch_configmap("codex-k8s-config", {"data": {"A": "1"}})
            await kc.patch_configmap("codex-k8s-config", {"data": {"A": "2"}})
        assert (await kc.get_configmap("codex-k8s-config"))["data"]["A"] == "2"


async def test_a_missing_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "kubeconfig"
    with pytest.raises(KubeConfigError, match=r"cannot load cluster config from .*nope"):
        await KubeClient.from_settings(KubeSettings(kubeconfig=missing))


def _exec_kubeconfig(path: Path, command: str, args: list[str]) -> Path:
    """A kubeconfig whose credentials come from an exec plugin (client.authentication v1)."""
    import json

    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": "http://127.0.0.1:1"}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "users": [{"name": "u", "user": {"exec": {
            "apiVersion": "client.authentication.k8s.io/v1", "command": command,
            "args": args, "interactiveMode": "Never"}}}],
    }))
    return path


async def test_a_hanging_credential_plugin_is_cut_at_the_request_timeout(tmp_path: Path) -> None:
    config = _exec_kubeconfig(tmp_path / "kc", "sleep", ["30"])
    with pytest.raises(KubeConfigError, match=r"no answer within 0.5s"):
        await KubeClient.from_settings(KubeSettings(kubeconfig=config, request_timeout_s=0.5))


async def test_a_failing_credential_plugin_is_a_config_error(tmp_path: Path) -> None:
    config = _exec_kubeconfig(tmp_path / "kc", "false", [])
    with pytest.raises(KubeConfigError, match=r"cannot load cluster config"):
        await KubeClient.from_settings(KubeSettings(kubeconfig=config, request_timeout_s=5))
