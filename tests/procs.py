"""Real processes for end-to-end tests: the responder (``aislot-responder serve``) and the real
Alertmanager binary, each on a free loopback port, stopped (or killed) by the test."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ALERTMANAGER_NAMES = ("prometheus-alertmanager", "alertmanager")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, body: Any = None, token: str | None = None,
         timeout: float = 10.0) -> tuple[int, Any]:
    """A blocking JSON request; returns (status, parsed body or text)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def wait_until(predicate: Any, timeout: float = 30.0, interval: float = 0.1,
               what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


@dataclass
class Responder:
    """A running ``aislot-responder serve`` subprocess."""

    base: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_responder(workdir: Path, env: dict[str, str], port: int | None = None) -> Responder:
    port = port or free_port()
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AISLOT_")},
        "AISLOT_SERVER__HOST": "127.0.0.1",
        "AISLOT_SERVER__PORT": str(port),
        "AISLOT_SERVER__PUBLIC_URL": f"http://127.0.0.1:{port}",
        "AISLOT_STORE__SQLITE_PATH": str(workdir / "responder.db"),
        "AISLOT_LOGGING__FORMAT": "json",
        **env,
    }
    log_path = workdir / f"responder-{port}-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--config", "config/responder.yaml"],
            env=full_env, stdout=log_file, stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parent.parent,
        )
    responder = Responder(f"http://127.0.0.1:{port}", proc, log_path, full_env)

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"responder exited {proc.returncode}:\n{responder.log()}")
        try:
            return http("GET", f"{responder.base}/readyz", timeout=2)[0] == 200
        except OSError:
            return False

    wait_until(ready, what="responder /readyz")
    return responder


def stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def responder(workdir: Path, env: dict[str, str]) -> Iterator[Responder]:
    running = start_responder(workdir, env)
    try:
        yield running
    finally:
        stop(running.proc)


def alertmanager_binary() -> str:
    for name in ALERTMANAGER_NAMES:
        found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists()
                                       else None)
        if found:
            return found
    raise AssertionError("the Alertmanager binary is missing: run scripts/bootstrap --system "
                         "(Debian package prometheus-alertmanager)")


@dataclass
class Alertmanager:
    base: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        status, body = http("POST", f"{self.base}/api/v2/alerts", alerts)
        assert status == 200, (status, body)


@contextmanager
def alertmanager(workdir: Path, webhook_url: str, token: str, *,
                 group_interval: str = "1s") -> Iterator[Alertmanager]:
    """The real Alertmanager routing everything to ``webhook_url`` with a bearer token."""
    port = free_port()
    config = workdir / "alertmanager.yml"
    config.write_text(json.dumps({
        "route": {"receiver": "aislot-responder", "group_by": ["alertname", "namespace"],
                  "group_wait": "0s", "group_interval": group_interval,
                  "repeat_interval": "1h"},
        "receivers": [{"name": "aislot-responder", "webhook_configs": [{
            "url": webhook_url, "send_resolved": True, "max_alerts": 0,
            "http_config": {"authorization": {"type": "Bearer", "credentials": token}},
        }]}],
    }))
    storage = workdir / "am-data"
    storage.mkdir(exist_ok=True)
    log_path = workdir / "alertmanager.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [alertmanager_binary(), f"--config.file={config}", f"--storage.path={storage}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
             "--log.level=debug"],
            stdout=log_file, stderr=subprocess.STDOUT,
        )
    am = Alertmanager(f"http://127.0.0.1:{port}", proc, log_path)
    try:
        wait_until(lambda: _am_ready(am), what="alertmanager /-/ready")
        yield am
    finally:
        stop(proc)


def _am_ready(am: Alertmanager) -> bool:
    if am.proc.poll() is not None:
        raise AssertionError(f"alertmanager exited {am.proc.returncode}:\n{am.log()}")
    try:
        return http("GET", f"{am.base}/-/ready", timeout=2)[0] == 200
    except OSError:
        return False
