"""The ``aislot-responder`` command: serve, check-config, simulate, demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from service.settings import ConfigError, Settings, config_path_from_env, load_settings


def _load(path: Path | None) -> Settings:
    return load_settings(path or config_path_from_env())


def _serve(args: argparse.Namespace) -> int:
    import structlog
    from aiohttp import web

    from service.app import create_app
    from service.logs import configure_logging

    settings = _load(args.config)
    configure_logging(settings.logging.level, settings.logging.format)
    log = structlog.get_logger("service.cli")
    problem = None
    if settings.auth.webhook_token is None and settings.auth.webhook_basic_user is None:
        problem = ("auth.webhook_token (env AISLOT_AUTH__WEBHOOK_TOKEN) or "
                   "auth.webhook_basic_user/password must be set to serve")
    elif settings.auth.read_token is None:
        problem = "auth.read_token (env AISLOT_AUTH__READ_TOKEN) must be set to serve"
    if problem is not None:  # logging is set up: said as an event, in the log's format
        log.error("config_invalid", error=problem)
        return 2
    if settings.auth.link_key is None:
        log.warning("link_grants_disabled",
                    reason="no auth.link_key: messages' links need the read token to open")
    web.run_app(
        create_app(settings),
        host=settings.server.host,
        port=settings.server.port,
        shutdown_timeout=settings.server.shutdown_timeout_s,
        access_log=None,
        # aiohttp calls this once its sites listen: a log event instead of its text banner.
        print=lambda _banner: log.info("server_listening", host=settings.server.host,
                                       port=settings.server.port,
                                       public_url=settings.server.public_url),
    )
    log.info("server_stopped")
    return 0


def _check_config(args: argparse.Namespace) -> int:
    settings = _load(args.file)
    origin = args.file or config_path_from_env() or "defaults"
    print(f"config OK ({origin}): store={settings.store.backend} port={settings.server.port}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from service.demo import run_demo

    return run_demo(args)


def _simulate(args: argparse.Namespace) -> int:
    from service.simulator.command import run

    code: int = run(args)
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aislot-responder",
        description="Alert auto-responder for the AI-slot build runbook RB-CK8S-AISLOT-BUILD-0001",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the service")
    serve.add_argument("--config", type=Path, help="config file (default config/responder.yaml)")
    serve.set_defaults(func=_serve)
    check = sub.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("file", nargs="?", type=Path, help="config file")
    check.set_defaults(func=_check_config)
    demo = sub.add_parser("demo", help="run the demo on embedded defaults")
    demo.add_argument("--scenario", default="cache-recovers", help="simulator scenario")
    demo.set_defaults(func=_demo)
    simulate = sub.add_parser("simulate", help="serve a simulated codex-k8s namespace")
    try:
        from service.simulator.command import add_arguments
    except ImportError:  # pragma: no cover - the simulator ships with the package
        pass
    else:
        add_arguments(simulate)
    simulate.set_defaults(func=_simulate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"aislot-responder: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
