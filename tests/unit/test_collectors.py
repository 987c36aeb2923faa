"""The collector registry: parts run all at once, each outcome read by its typed key, and a
collector that hangs, raises or is denied costs only its own part."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest

from service.cluster.client import KubeClient
from service.cluster.errors import KubeForbidden
from service.config.settings import Settings
from service.domain.evidence import Collected, CollectorStatus, EvidenceBundle, Workloads
from service.domain.logscan import ScanResult
from service.runbook.diagnostics.collector import Collectors, Part, Reading, Window
from service.runbook.diagnostics.investigation import evidence_collectors
from service.runbook.diagnostics.observation import watch_collectors

NOW = datetime(2026, 2, 26, 10, 0, tzinfo=UTC)
NO_KUBE = cast(KubeClient, None)  # these collectors never reach the cluster
EMPTY: Part[Workloads] = Part("empty")
LOGS: Part[ScanResult] = Part("logs")


@dataclass
class Gate:
    """Opens when ``expected`` collectors are inside at once: proof they run together."""

    expected: int
    inside: int = 0
    opened: asyncio.Event = field(default_factory=asyncio.Event)

    async def enter(self) -> None:
        self.inside += 1
        if self.inside == self.expected:
            self.opened.set()
        await self.opened.wait()


@dataclass
class Waits:
    gate: Gate
    windows: list[Window] = field(default_factory=list)

    def reading(self, kube: KubeClient, window: Window) -> Reading[Workloads]:
        async def work() -> Workloads:
            self.windows.append(window)
            await self.gate.enter()
            return Workloads()
        return Reading(work)


@dataclass
class Hangs:
    """Reads 7 lines, then never answers: the cut-off run keeps what it had."""

    def reading(self, kube: KubeClient, window: Window) -> Reading[ScanResult]:
        seen = ScanResult(source="control_plane")

        async def work() -> ScanResult:
            seen.lines_scanned = 7
            await asyncio.Event().wait()
            return seen
        return Reading(work, partial=lambda: seen)


@dataclass
class Fails:
    error: Exception

    def reading(self, kube: KubeClient, window: Window) -> Reading[Workloads]:
        async def work() -> Workloads:
            raise self.error
        return Reading(work)


def test_a_part_is_registered_once() -> None:
    found = Collectors()
    found.register(EMPTY, Waits(Gate(1)))
    with pytest.raises(ValueError, match="'empty' is registered already"):
        found.register(EMPTY, Waits(Gate(1)))


async def test_collectors_run_together_and_each_sees_the_window() -> None:
    gate = Gate(expected=3)
    found, parts = Collectors(), [Part[Workloads](f"part-{n}") for n in range(3)]
    collectors = [Waits(gate) for _ in parts]
    for part, collector in zip(parts, collectors, strict=True):
        found.register(part, collector)
    window = Window(NOW - timedelta(hours=6), NOW)
    got = await found.collect(NO_KUBE, window, timeout_s=30)
    assert [got[p].status for p in parts] == [CollectorStatus.OK] * 3
    assert all(c.windows == [window] for c in collectors)


async def test_a_hang_a_crash_and_a_denial_cost_only_their_own_part() -> None:
    found = Collectors()
    found.register(LOGS, Hangs())
    crash: Part[Workloads] = Part("crash")
    denied: Part[Workloads] = Part("denied")
    fine: Part[Workloads] = Part("fine")
    found.register(crash, Fails(RuntimeError("bug in a collector")))
    found.register(denied, Fails(KubeForbidden(
        "jobs is forbidden", verb="list", resource="jobs", namespace="codex-k8s-prod")))
    found.register(fine, Waits(Gate(1)))
    got = await found.collect(NO_KUBE, Window(NOW, NOW), timeout_s=0.05)
    assert got[LOGS].status is CollectorStatus.TIMEOUT
    assert got[LOGS].data is not None and got[LOGS].data.lines_scanned == 7
    assert got[crash].status is CollectorStatus.ERROR
    assert got[crash].error == "RuntimeError: bug in a collector"
    assert got[denied].status is CollectorStatus.FORBIDDEN
    assert got[denied].hint == "grant list on jobs in namespace codex-k8s-prod"
    assert got[fine].status is CollectorStatus.OK


def test_since_seconds_rounds_up_and_is_at_least_one() -> None:
    assert Window(NOW - timedelta(seconds=90.2), NOW).since_seconds == 91
    assert Window(NOW, NOW).since_seconds == 1


def test_every_part_of_the_bundle_has_its_collector() -> None:
    settings = Settings()
    parts = [n for n, _ in evidence_collectors(settings).entries()]
    outcomes = {name for name, f in EvidenceBundle.model_fields.items()
                if isinstance(f.annotation, type) and issubclass(f.annotation, Collected)}
    assert set(parts) == outcomes
    watched = [n for n, _ in watch_collectors(settings, "cache").entries()]
    assert watched == ["builds", "control_plane_logs", "registry", "kill_switch"]
