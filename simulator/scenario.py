"""Scenarios: what the simulated platform does over time, as data.

Purpose: the schema of `scenarios/*.yaml` (build/mirror/codegen cadence and outcomes with the
cache switch on or off, rollout timings, registry health, preloaded history, faults) and the
loader. Scenario files ship inside the package.
Boundary: validation and loading only; the world interprets the plan.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from simulator.faults import FaultRule

Outcome = Literal["success", "manifest_unknown", "registry_unavailable", "bad_build_ref"]


class _Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Phase(_Plan):
    """Before `until_seconds` after the history's start, builds with the cache on end so."""

    until_seconds: float = Field(ge=0)
    outcome: Outcome


class BuildPlan(_Plan):
    """Kaniko build jobs: one every `interval_seconds`, components in turn. `phases`: the
    outcome with the cache on over earlier spans (an earlier, recovered episode)."""

    interval_seconds: float = Field(default=180.0, gt=0)
    first_after_seconds: float = Field(default=30.0, ge=0)
    success_seconds: float = Field(default=95.0, gt=0)
    failure_seconds: float = Field(default=35.0, gt=0)
    components: list[str] = Field(
        default_factory=lambda: ["api-gateway", "control-plane", "worker", "web-console"]
    )
    cache_on: Outcome = "success"
    cache_off: Outcome = "success"
    ttl_seconds: int = 600
    phases: list[Phase] = Field(default_factory=list)


class MirrorPlan(_Plan):
    """Image mirror jobs."""

    interval_seconds: float = Field(default=600.0, gt=0)
    first_after_seconds: float = Field(default=60.0, ge=0)
    duration_seconds: float = Field(default=40.0, gt=0)
    outcome: Outcome = "success"
    ttl_seconds: int = 300


class CodegenPlan(_Plan):
    """codegen-check jobs, which check out `build_ref`."""

    interval_seconds: float = Field(default=900.0, gt=0)
    first_after_seconds: float = Field(default=120.0, ge=0)
    duration_seconds: float = Field(default=50.0, gt=0)
    outcome: Outcome = "success"
    build_ref: str = "main"
    ttl_seconds: int = 600


class RolloutPlan(_Plan):
    """How a Deployment's new pods come up."""

    start_seconds: float = Field(default=4.0, ge=0)
    ready_seconds: float = Field(default=12.0, gt=0)
    terminate_seconds: float = Field(default=3.0, ge=0)
    stuck_deployments: list[str] = Field(default_factory=list)


class Scenario(_Plan):
    """A complete scenario."""

    name: str
    description: str = ""
    seed: int = 205
    start: str | None = None
    history_seconds: float = Field(default=1200.0, ge=0)
    # env: a literal env value; secret: a key of the runtime Secret read through envFrom;
    # valueFrom: an env entry whose valueFrom names that Secret's key.
    switch_location: Literal["env", "secret", "valueFrom"] = "env"
    registry_available: bool = True
    builds: BuildPlan = Field(default_factory=BuildPlan)
    mirror: MirrorPlan = Field(default_factory=MirrorPlan)
    codegen: CodegenPlan = Field(default_factory=CodegenPlan)
    rollout: RolloutPlan = Field(default_factory=RolloutPlan)
    faults: list[FaultRule] = Field(default_factory=list)


def _scenario_dir() -> Path:
    return Path(str(resources.files("simulator") / "scenarios"))


def scenario_names() -> list[str]:
    """Names of the scenarios shipped with the package."""
    return sorted(p.stem for p in _scenario_dir().glob("*.yaml"))


def load_scenario(name_or_path: str) -> Scenario:
    """Load a shipped scenario by name, or a YAML file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = _scenario_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(scenario_names())
        raise ValueError(f"unknown scenario {name_or_path!r} (known: {known})")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Scenario.model_validate(data)
