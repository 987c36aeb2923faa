"""A throwaway PostgreSQL server for the store tests: real binaries, a tmp data dir, trust auth.

Purpose: ``PgServer.start()`` runs ``initdb`` into a fresh temporary directory and starts
``postgres`` on a free loopback port (socket dir inside the tmp dir, fsync off: the data is
thrown away). As root the server runs as the ``postgres`` system user (or one made with
``useradd``), since PostgreSQL refuses to run as root. ``create_database()`` gives each test its
own database. Missing binaries FAIL the tests: they are a bootstrap error, not an optional
feature (``scripts/bootstrap --system`` installs the Debian package ``postgresql``).
Boundary: test support only; the service never imports this.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.procs import free_port

DEBIAN_PACKAGE = "postgresql"
RUN_AS = "postgres"
_BINARIES = ("initdb", "postgres", "pg_isready")


def bin_dir() -> Path:
    """The newest installed PostgreSQL server's bin dir (``PG_BIN`` overrides)."""
    candidates = ([Path(os.environ["PG_BIN"])] if os.environ.get("PG_BIN")
                  else sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_major))
    on_path = shutil.which("initdb")
    if on_path and not os.environ.get("PG_BIN"):
        candidates.insert(0, Path(on_path).resolve().parent)
    found = [p for p in candidates if all((p / name).exists() for name in _BINARIES)]
    if not found:
        pytest.fail(f"PostgreSQL server binaries ({', '.join(_BINARIES)}) are missing: run "
                    f"scripts/bootstrap --system (Debian package {DEBIAN_PACKAGE}) or set "
                    "PG_BIN to their directory", pytrace=False)
    return found[-1]


def _major(path: Path) -> int:
    digits = re.match(r"\d+", path.parent.name)
    return int(digits.group()) if digits else 0


def _user() -> str | None:
    """The account to run the server as: None when not root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(RUN_AS)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", RUN_AS], check=True)
    return RUN_AS


@dataclass
class PgServer:
    """A running server; ``dsn(name)`` addresses one of its databases."""

    root: Path
    port: int
    proc: subprocess.Popen[bytes]

    @classmethod
    def start(cls) -> PgServer:
        binaries, user = bin_dir(), _user()
        root = Path(tempfile.mkdtemp(prefix="aislot-pg-"))
        data, log_path = root / "data", root / "postgres.log"
        ids: dict[str, Any] = {}
        if user:
            entry = pwd.getpwnam(user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
            ids = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        init = subprocess.run(
            [str(binaries / "initdb"), "-D", str(data), "-U", "postgres",
             "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"],
            capture_output=True, check=False, cwd=root, **ids)
        if init.returncode != 0:
            pytest.fail(f"initdb failed: {init.stderr.decode(errors='replace')}",
                        pytrace=False)
        port = free_port()
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(
                [str(binaries / "postgres"), "-D", str(data), "-k", str(root),
                 "-p", str(port), "-h", "127.0.0.1", "-c", "fsync=off",
                 "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                 "-c", "max_connections=300"],
                stdout=log_file, stderr=subprocess.STDOUT, cwd=root,
                **ids)
        server = cls(root, port, proc)
        server._wait_ready(binaries)
        return server

    def _wait_ready(self, binaries: Path, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"postgres exited {self.proc.returncode}:\n{self.log()}",
                            pytrace=False)
            ready = subprocess.run(
                [str(binaries / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                check=False)
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"postgres not ready within {timeout}s:\n{self.log()}", pytrace=False)

    def log(self) -> str:
        path = self.root / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its DSN."""
        name = f"t_{secrets.token_hex(6)}"

        async def create() -> None:
            conn = await asyncpg.connect(self.dsn(), timeout=10)
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()

        asyncio.run(create())
        return self.dsn(name)

    async def acreate_database(self) -> str:
        """``create_database`` for async tests (same loop)."""
        name = f"t_{secrets.token_hex(6)}"
        conn = await asyncpg.connect(self.dsn(), timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.dsn(name)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: clients are cut off
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.root)


_shared: PgServer | None = None


def shared() -> PgServer:
    """One server per test process, started on first use and stopped at exit."""
    global _shared  # noqa: PLW0603 - one server per pytest process
    if _shared is None or _shared.proc.poll() is not None:
        _shared = PgServer.start()
        atexit.register(_shared.stop)
    return _shared
