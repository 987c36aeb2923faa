"""read_kill_switch / KillSwitchCollector: the switch's value wherever it lives, and its rollout.

Against the simulator: a plain env entry (the default), a Secret key read through envFrom, a
Secret or ConfigMap target, a valueFrom reference, the rollout seen by kubectl's rules while
simulated time passes, and RBAC denials turned into hints.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from service.cluster.client import KubeClient
from service.cluster.errors import KubeNotFound
from service.config.settings import KubeSettings, Settings
from service.domain.evidence import CollectorStatus, KillSwitchState
from service.runbook.diagnostics.collector import Window, collect
from service.runbook.diagnostics.switch_state import KillSwitchCollector, read_kill_switch
from simulator.scenario import load_scenario
from simulator.server import Simulator
from tests import simkit
from tests.simkit import SimFactory

sim_factory = simkit.sim_factory
CP = "codex-k8s-control-plane"
SWITCH = "CODEXK8S_KANIKO_CACHE_ENABLED"
ENV_OFF = {"spec": {"template": {"spec": {"containers": [
    {"name": "control-plane", "env": [{"name": SWITCH, "value": "false"}]}]}}}}


def _settings(sim: Simulator, **target: Any) -> Settings:
    mitigation = {"target": target} if target else {}
    return Settings(kube=KubeSettings(kubeconfig=sim.kubeconfig_path), mitigation=mitigation)


def _collector(settings: Settings) -> KillSwitchCollector:
    return KillSwitchCollector(settings.mitigation.target,
                               settings.platform.control_plane_container)


async def _read(kube: KubeClient, settings: Settings) -> KillSwitchState:
    return await read_kill_switch(kube, settings.mitigation.target,
                                  settings.platform.control_plane_container)


@contextlib.asynccontextmanager
async def _client(settings: Settings) -> AsyncIterator[KubeClient]:
    kube = await KubeClient.from_settings(settings.kube)
    try:
        yield kube
    finally:
        await kube.close()


@contextlib.asynccontextmanager
async def _secret_install(tmp_path: Path) -> AsyncIterator[Simulator]:
    """The platform variant that keeps the switch in the Secret codex-k8s-runtime."""
    scenario = load_scenario("cache-recovers").model_copy(update={"switch_location": "secret"})
    sim = Simulator.manual(scenario)
    await sim.start("127.0.0.1", 0)
    sim.write_kubeconfig(tmp_path / "kubeconfig-secret")
    try:
        yield sim
    finally:
        await sim.stop()


async def test_env_entry_and_rollout_progress(sim_factory: SimFactory) -> None:
    async with sim_factory("cache-recovers") as sim:
        settings = _settings(sim)
        async with _client(settings) as kube:
            before = await _read(kube, settings)
            assert before.value == "true" and before.rollout_complete
            assert before.location == (
                f"deployment/{CP} container control-plane env {SWITCH}")
            await kube.patch_deployment(CP, ENV_OFF)
            during = await _read(kube, settings)
            assert during.value == "false" and during.generation == 2
            assert during.rollout_complete is False
            sim.advance(60)
            after = await _read(kube, settings)
            assert after.rollout_complete and after.observed_generation == 2


async def test_stuck_rollout_never_completes(sim_factory: SimFactory) -> None:
    async with sim_factory("rollout-stuck") as sim:
        settings = _settings(sim)
        async with _client(settings) as kube:
            await kube.patch_deployment(CP, ENV_OFF)
            sim.advance(300)
            state = await _read(kube, settings)
    assert state.value == "false" and state.rollout_complete is False


async def test_switch_in_a_secret_through_envfrom_and_as_target(tmp_path: Path) -> None:
    async with _secret_install(tmp_path) as sim:
        by_env = _settings(sim)
        async with _client(by_env) as kube:
            state = await _read(kube, by_env)
            assert state.value == "true"
            assert state.location.endswith("(envFrom secret/codex-k8s-runtime)")
            by_secret = _settings(sim, kind="secret", name="codex-k8s-runtime")
            direct = await _read(kube, by_secret)
            assert direct.value == "true" and direct.rollout_complete
            assert direct.location == f"secret/codex-k8s-runtime key {SWITCH}"
            off = base64.b64encode(b"false").decode()
            await kube.patch_secret("codex-k8s-runtime", {"data": {SWITCH: off}})
            assert (await _read(kube, by_secret)).value == "false"


async def test_configmap_target_and_value_from(sim_factory: SimFactory) -> None:
    async with sim_factory("healthy") as sim:
        by_cm = _settings(sim, kind="configmap", name="codex-k8s-config")
        async with _client(by_cm) as kube:
            assert (await _read(kube, by_cm)).value is None  # key not there yet
            await kube.patch_configmap("codex-k8s-config", {"data": {SWITCH: "false"}})
            state = await _read(kube, by_cm)
            assert state.value == "false" and state.location.startswith("configmap/")
            # `value: null` removes the literal, as the apiserver forbids value with valueFrom
            ref = {"name": SWITCH, "value": None, "valueFrom": {"configMapKeyRef": {
                "name": "codex-k8s-config", "key": SWITCH}}}
            await kube.patch_deployment(CP, {"spec": {"template": {"spec": {"containers": [
                {"name": "control-plane", "env": [ref]}]}}}})
            by_env = _settings(sim)
            state = await _read(kube, by_env)
            assert state.value == "false"
            assert state.location.endswith("(from configmap/codex-k8s-config)")


async def test_read_raises_and_collector_reports(sim_factory: SimFactory) -> None:
    async with sim_factory("healthy") as sim:
        missing = _settings(sim, kind="secret", name="no-such-secret")
        async with _client(missing) as kube:
            with pytest.raises(KubeNotFound):
                await _read(kube, missing)
            now = datetime.fromtimestamp(sim.world.now, UTC)
            got = await collect(_collector(missing), kube, Window(now, now), timeout_s=20)
            assert got.status is CollectorStatus.ERROR and got.data is None
            sim.add_fault(kind="forbidden", resource="secrets", verb="get")
            denied = _settings(sim, kind="secret", name="codex-k8s-runtime")
            got = await collect(_collector(denied), kube, Window(now, now), timeout_s=20)
    assert got.status is CollectorStatus.FORBIDDEN
    assert got.hint == "grant get on secrets in namespace codex-k8s-prod"
