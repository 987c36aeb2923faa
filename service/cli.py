"""The ``aislot-responder`` command: serve, check-config.

``demo`` and ``simulate`` moved to the simulator's own command (``aislot-simulator demo`` and
``aislot-simulator serve``, a development tool not in the image); here they say so and exit 2.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

from service.config.settings import ConfigError, Settings, config_path_from_env, load_settings


def _load(path: Path | None) -> Settings:
    return load_settings(path or config_path_from_env())


class StartupError(Exception):
    """The service cannot start (the port is taken, the store cannot be opened); one line."""


def _listen(host: str, port: int) -> socket.socket:
    """Bind the port before anything starts, so a taken port stops the start cleanly."""
    try:
        family, _, _, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        return socket.create_server(address[:2], family=family)
    except OSError as exc:
        raise StartupError(f"cannot listen on {host}:{port}: "
                           f"{exc.strerror or exc}") from None


def _serve(args: argparse.Namespace) -> int:
    import structlog
    from aiohttp import web

    from service.app import create_app
    from service.domain.redaction import redact
    from service.runtime.logs import configure_logging
    from service.store.base import StoreUnavailable

    settings = _load(args.config)
    configure_logging(settings.logging.level, settings.logging.format)
    log = structlog.get_logger("service.cli")
    if settings.auth.webhook_token is None and settings.auth.webhook_basic_user is None:
        raise ConfigError("auth.webhook_token (env AISLOT_AUTH__WEBHOOK_TOKEN) or "
                          "auth.webhook_basic_user/password must be set to serve")
    if settings.auth.read_token is None:
        raise ConfigError("auth.read_token (env AISLOT_AUTH__READ_TOKEN) must be set to serve")

    def listening(_banner: str) -> None:
        # aiohttp calls this once its site listens: a log event instead of its text banner
        # (a start that fails before is one plain line from main(), nothing else).
        log.info("server_listening", host=settings.server.host, port=settings.server.port,
                 public_url=settings.server.public_url)
        if settings.auth.link_key is None:
            log.warning("link_grants_disabled",
                        reason="no auth.link_key: messages' links need the read token to open")

    # Order: the port, then the store (the app's first cleanup context), then the loops.
    sock = _listen(settings.server.host, settings.server.port)
    try:
        web.run_app(
            create_app(settings),
            sock=sock,
            shutdown_timeout=settings.server.shutdown_timeout_s,
            access_log=None,
            print=listening,
        )
    except StoreUnavailable as exc:
        raise StartupError(f"cannot open the store: {redact(str(exc))}") from None
    finally:
        sock.close()
    log.info("server_stopped")
    return 0


def _check_config(args: argparse.Namespace) -> int:
    settings = _load(args.file)
    origin = args.file or config_path_from_env() or "defaults"
    print(f"config OK ({origin}): store={settings.store.backend} port={settings.server.port}")
    return 0


MOVED = {"demo": "aislot-simulator demo", "simulate": "aislot-simulator serve"}


def _moved(command: str) -> int:
    print(f"aislot-responder: `{command}` moved to `{MOVED[command]}` (the simulator's "
          "own command, installed for development by scripts/bootstrap; `make demo` runs the "
          "demo)", file=sys.stderr)
    return 2


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
    return parser


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given and given[0] in MOVED:
        return _moved(given[0])
    args = build_parser().parse_args(given)
    try:
        code: int = args.func(args)
    except (ConfigError, StartupError) as exc:
        print(f"aislot-responder: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
