"""The patch a message shows as ``kubectl`` is the patch: run by the real kubectl against the
simulator, it turns the switch off as the responder's own request does."""

from __future__ import annotations

import base64
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.config.wording import runbook_text
from service.domain.runbook_text import patch_commands
from service.runbook.switch import plan_patches
from tests import simkit
from tests.conftest import make_settings
from tests.simkit import SimFactory, kubectl

CP = "deploy/codex-k8s-control-plane"
NOW = datetime(2026, 2, 26, 10, 0, tzinfo=UTC)
sim_factory = simkit.sim_factory


def _commands(tmp_path: Path, **target: Any) -> list[str]:
    settings = make_settings(tmp_path, mitigation={"target": target} if target else {})
    planned = [{"kind": p.kind, "name": p.name, "patch_type": p.patch_type, "body": p.body}
               for p in plan_patches(settings, NOW)]
    return patch_commands({"patches": planned}, runbook_text(settings))


async def _run(sim: Any, command: str) -> None:
    words = shlex.split(command)
    assert words[0] == "kubectl", command
    done = await kubectl(sim, *words[1:])
    assert done.code == 0, (command, done.err)


async def test_the_env_patch_as_kubectl_sets_the_switch(tmp_path: Path,
                                                        sim_factory: SimFactory) -> None:
    (command,) = _commands(tmp_path)
    assert command.startswith("kubectl -n codex-k8s-prod patch deployment "
                              "codex-k8s-control-plane --type strategic -p '")
    async with sim_factory("cache-recovers") as sim:
        await _run(sim, command)
        env = await kubectl(sim, "get", CP, "-o", "jsonpath={.spec.template.spec.containers[0]"
                            ".env[?(@.name==\"CODEXK8S_KANIKO_CACHE_ENABLED\")].value}")
    assert env.out == "false"


async def test_the_secret_patch_and_restart_as_kubectl(tmp_path: Path,
                                                       sim_factory: SimFactory) -> None:
    commands = _commands(tmp_path, kind="secret", name="codex-k8s-runtime")
    assert [c.split(" -p ")[0] for c in commands] == [
        "kubectl -n codex-k8s-prod patch secret codex-k8s-runtime --type merge",
        "kubectl -n codex-k8s-prod patch deployment codex-k8s-control-plane --type strategic"]
    async with sim_factory("cache-secret") as sim:
        for command in commands:
            await _run(sim, command)
        value = await kubectl(sim, "get", "secret", "codex-k8s-runtime", "-o",
                              "jsonpath={.data.CODEXK8S_KANIKO_CACHE_ENABLED}")
        sim.advance(60)
        status = await kubectl(sim, "rollout", "status", CP, "--timeout=10s")
    assert base64.b64decode(value.out) == b"false"
    assert status.code == 0, status.err
