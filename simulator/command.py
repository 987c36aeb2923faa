"""`aislot-simulator`: the simulator's own command, `serve` and `demo`.

Purpose: `serve --scenario NAME [--host H] [--port P] [--kubeconfig-out FILE] [--speed X]` serves
the simulated namespace, writes the kubeconfig, prints one line
`simulator listening on URL kubeconfig=FILE` and runs until SIGTERM/SIGINT; `demo` runs the
responder's demo against it (simulator/demo.py). Also `python -m simulator ...`.
Boundary: process entry only; the responder (`aislot-responder`) is another program.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
from pathlib import Path

from simulator.demo import run_demo
from simulator.scenario import scenario_names
from simulator.server import Simulator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the `serve` subcommand."""
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
    """`aislot-simulator serve`."""
    try:
        return asyncio.run(serve(args))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aislot-simulator",
        description="A simulated codex-k8s-prod namespace (kube-apiserver compatible), and the "
        "responder's demo on it",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serving = sub.add_parser("serve", help="serve a simulated codex-k8s namespace")
    add_arguments(serving)
    serving.set_defaults(func=run)
    demo = sub.add_parser(
        "demo", help="the responder (aislot-responder serve, a child process) on a simulated "
        "namespace, one compressed clock, the story as it happens")
    demo.add_argument("--scenario", default="cache-recovers",
                      help=f"scenario name ({', '.join(scenario_names())}) or a YAML path")
    demo.add_argument("--responder", default=None,
                      help="the aislot-responder program (default: the one beside this Python, "
                      "else on PATH)")
    demo.set_defaults(func=run_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `aislot-simulator` console script."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
