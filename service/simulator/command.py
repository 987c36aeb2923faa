"""`aislot-responder simulate`: run the Kubernetes simulator as a process.

Purpose: parse `--scenario NAME [--host H] [--port P] [--kubeconfig-out FILE] [--speed X]`,
serve the simulated namespace, write the kubeconfig, print one line
`simulator listening on URL kubeconfig=FILE` and run until SIGTERM/SIGINT.
Boundary: process entry only; the lead wires `add_arguments`/`run` into service/cli.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
from pathlib import Path

from service.simulator.scenario import scenario_names
from service.simulator.server import Simulator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the `simulate` subcommand."""
    parser.add_argument(
        "--scenario",
        default="healthy",
        help=f"scenario name ({', '.join(scenario_names())}) or a YAML path",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=0, help="port (0 = a free port)")
    parser.add_argument(
        "--kubeconfig-out",
        default=None,
        help="where to write the kubeconfig (default: a temp file)",
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second (default 1)"
    )
    parser.add_argument("--token", default="aislot-sim-token", help="bearer token to accept")


async def serve(args: argparse.Namespace) -> int:
    """Run the simulator until a termination signal."""
    sim = Simulator(args.scenario, speed=args.speed, token=args.token)
    url = await sim.start(args.host, args.port)
    out = args.kubeconfig_out or str(
        Path(tempfile.gettempdir()) / f"aislot-sim-{url.rsplit(':', 1)[-1]}.kubeconfig"
    )
    path = sim.write_kubeconfig(out)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print(f"simulator listening on {url} kubeconfig={path}", flush=True)
    try:
        await stop.wait()
    finally:
        await sim.stop()
    return 0


def run(args: argparse.Namespace) -> int:
    """Entry point for `aislot-responder simulate`."""
    try:
        return asyncio.run(serve(args))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    """`python -m service.simulator.command` (same as `aislot-responder simulate`)."""
    parser = argparse.ArgumentParser(prog="aislot-responder simulate")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
