"""A kube-apiserver-compatible simulator of the platform's `codex-k8s-prod` namespace.

Purpose: let the responder, its tests and the demo talk to "Kubernetes" through the real
clients (kubernetes_asyncio, kubectl) on machines where no API server can run. Public API:
`Simulator` (server, world, clock, faults, audit), `ManualClock`/`ScaledClock`, `FaultRule`,
`Scenario`, `load_scenario`, `scenario_names`; the `aislot-simulator` command (`serve`, `demo`)
lives in `command`.
Boundary: its own distribution (simulator/pyproject.toml), for development and the demo, never
in the responder's image; importing this package starts nothing, and it imports nothing of
`service` (nor `service` of it: lint-imports).
"""

from simulator.clock import ManualClock, ScaledClock
from simulator.faults import FaultRule
from simulator.scenario import Scenario, load_scenario, scenario_names
from simulator.server import Simulator

__all__ = [
    "FaultRule",
    "ManualClock",
    "ScaledClock",
    "Scenario",
    "Simulator",
    "load_scenario",
    "scenario_names",
]
