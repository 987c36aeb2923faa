"""The simulator twin of the seeded real cluster, served over HTTP from its own thread.

Purpose: the conformance tests send the same request to the simulator and to the real apiserver
and compare the answers; both must hold the same world, so the twin is built from the scenario
and start the real cluster was seeded from (the simulator is deterministic), and runs its aiohttp
server on a private event loop so the tests can make blocking calls to both.
Boundary: test-side; starts and stops one simulator.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from simulator.server import Simulator
from tests.realkube.api import Api


@contextmanager
def simulator_twin(scenario: str, start: str, workdir: Path) -> Iterator[tuple[Simulator, Api]]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sim-twin", daemon=True)
    thread.start()
    sim = Simulator.manual(scenario, start=start)
    asyncio.run_coroutine_threadsafe(sim.start("127.0.0.1", 0), loop).result(30)
    sim.write_kubeconfig(workdir / "sim.kubeconfig")
    try:
        yield sim, Api(str(sim.url), sim.token, None)
    finally:
        asyncio.run_coroutine_threadsafe(sim.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
