"""The Dockerfile's install steps, run for real in a clean venv (no container engine runs here).

The test reads the Dockerfile's ``build`` stage and carries out its instructions on this
machine: ``WORKDIR`` and ``COPY`` into a scratch root, ``ENV``, then every ``RUN`` line with the
image paths (``/src``, ``/opt/venv``, ``/tmp``) mapped into that scratch root. Nothing is
duplicated here: change the Dockerfile and this test runs the new steps. It then checks what the
runtime stage relies on: ``aislot-responder --help`` works from the venv, no dev tools and no
simulator were installed, and the runtime stage is non-root, read-only friendly and starts
``serve``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.procs import free_port, http, wait_until

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
# PIP_NO_CACHE_DIR keeps the image small; here the pip cache may be reused to stay fast.
HOST_DROPPED_ENV = {"PIP_NO_CACHE_DIR"}


@dataclass
class Instruction:
    op: str
    args: str


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[Instruction] = field(default_factory=list)


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARGs and the stages, with line continuations joined and comments dropped."""
    logical: list[str] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if buf and line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    assert not buf, "Dockerfile ends inside a continued line"
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        op, _, rest = line.strip().partition(" ")
        op, rest = op.upper(), rest.strip()
        if op == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), parts[0])
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else ""
            stages.append(Stage(base, name))
        elif not stages:
            assert op == "ARG", f"only ARG may precede FROM, got {op}"
            key, _, value = rest.partition("=")
            args[key] = value
        else:
            stages[-1].instructions.append(Instruction(op, rest))
    return args, stages


def env_pairs(args: str) -> list[tuple[str, str]]:
    return [tuple(word.split("=", 1)) for word in shlex.split(args)]  # type: ignore[misc]


@pytest.fixture(scope="module")
def stages() -> dict[str, Stage]:
    assert DOCKERFILE.is_file(), "Dockerfile missing at the repository root"
    _, parsed = parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))
    return {s.name: s for s in parsed}


def test_dockerfile_is_multi_stage_slim_and_non_root(stages: dict[str, Stage]) -> None:
    assert set(stages) >= {"build", "runtime"}, "expected stages 'build' and 'runtime'"
    runtime = stages["runtime"]
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", runtime.base), runtime.base
    assert stages["build"].base == runtime.base, "venv is copied: same interpreter path needed"
    ops = [i.op for i in runtime.instructions]
    # Runtime gets the built venv, installs nothing itself and runs as a numeric non-root uid.
    copies = [i.args for i in runtime.instructions if i.op == "COPY"]
    assert any("--from=build" in c and "/opt/venv" in c for c in copies), copies
    for run in (i.args for i in runtime.instructions if i.op == "RUN"):
        assert not re.search(r"\bpip\b.*\binstall\b|apt-get install|\bgcc\b", run), run
    users = [i.args for i in runtime.instructions if i.op == "USER"]
    assert users and re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1]), users
    assert ops.index("USER") > max(n for n, op in enumerate(ops) if op in {"RUN", "COPY"})
    env = dict(p for i in runtime.instructions if i.op == "ENV" for p in env_pairs(i.args))
    assert env["AISLOT_STORE__SQLITE_PATH"] == "/data/responder.db"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1", "read-only root: no .pyc writes at run time"
    volumes = [i.args for i in runtime.instructions if i.op == "VOLUME"]
    assert any("/data" in v for v in volumes), volumes
    entry = [i.args for i in runtime.instructions if i.op == "ENTRYPOINT"]
    cmd = [i.args for i in runtime.instructions if i.op == "CMD"]
    assert entry and cmd
    assert eval_json_list(entry[-1]) + eval_json_list(cmd[-1]) == ["aislot-responder", "serve"]


def eval_json_list(text: str) -> list[str]:
    import json

    value = json.loads(text)
    assert isinstance(value, list), f"exec form expected, got {text}"
    return [str(v) for v in value]


def test_dockerignore_keeps_context_small() -> None:
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert "**" in ignore, ".dockerignore should deny by default"
    assert not any(line.startswith("!") and (".venv" in line or ".git" in line) for line in ignore)
    assert not any(line.startswith("!") and "simulator" in line for line in ignore), ignore


def test_build_stage_install_steps_produce_a_working_cli(
    stages: dict[str, Stage], tmp_path: Path
) -> None:
    build = stages["build"]
    scratch = tmp_path / "image"
    mapping = {"/opt/venv": scratch / "opt/venv", "/src": scratch / "src", "/tmp": scratch / "tmp"}
    for path in mapping.values():
        path.mkdir(parents=True, exist_ok=True)

    # One pass over the text (a mapped path may itself start with /tmp); longest path first,
    # whole path components only.
    image_paths = "|".join(re.escape(p) for p in sorted(mapping, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w./-])({image_paths})(?=/|\s|$|['\"])")

    def to_host(text: str) -> str:
        return pattern.sub(lambda m: str(mapping[m.group(1)]), text)

    # `python` in the RUN lines is the base image's interpreter: here, the base interpreter of
    # this Python 3.11 (not the project's venv, so the install really starts clean).
    bindir = scratch / "bin"
    bindir.mkdir()
    base_python = Path(getattr(sys, "_base_executable", sys.executable))
    (bindir / "python").symlink_to(base_python)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = f"{bindir}:{env.get('PATH', '/usr/bin:/bin')}"
    workdir = scratch
    runs = 0
    for ins in build.instructions:
        if ins.op == "WORKDIR":
            workdir = Path(to_host(ins.args))
            workdir.mkdir(parents=True, exist_ok=True)
        elif ins.op == "ENV":
            for key, value in env_pairs(ins.args):
                if key not in HOST_DROPPED_ENV:
                    env[key] = to_host(value.replace("$PATH", env["PATH"]))
        elif ins.op == "COPY":
            words = shlex.split(ins.args)
            assert not any(w.startswith("--from") for w in words), "build stage copies context"
            *sources, dest = words
            target = Path(to_host(dest)) if dest.startswith("/") else workdir / dest
            for src in sources:
                origin = ROOT / src
                assert origin.exists(), f"COPY {src}: not in the build context"
                if origin.is_dir():
                    shutil.copytree(origin, target if not dest.endswith("/") or len(sources) == 1
                                    else target / origin.name,
                                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                                    dirs_exist_ok=True)
                else:
                    target.mkdir(parents=True, exist_ok=True) if dest.endswith("/") else None
                    shutil.copy2(origin, target / origin.name if target.is_dir() else target)
        elif ins.op == "RUN":
            runs += 1
            command = to_host(ins.args)
            proc = subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=workdir,
                                  env=env, check=False, capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, (
                f"RUN failed ({proc.returncode}): {ins.args}\n--- stdout\n{proc.stdout[-4000:]}"
                f"\n--- stderr\n{proc.stderr[-4000:]}")
        elif ins.op in {"ARG", "LABEL"}:
            continue
        else:
            pytest.fail(f"build stage instruction {ins.op} is not understood by this test")
    assert runs >= 2, "expected the venv creation and the install steps as RUN lines"

    venv = mapping["/opt/venv"]
    cli = venv / "bin" / "aislot-responder"
    assert cli.is_file(), "the package's console script was not installed"
    clean_env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run([str(cli), "--help"], check=False, capture_output=True, text=True,
                          env=clean_env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "serve" in proc.stdout and "check-config" in proc.stdout, proc.stdout
    # The bundled default config validates with the installed package.
    proc = subprocess.run([str(cli), "check-config", str(ROOT / "config/responder.yaml")],
                          check=False, capture_output=True, text=True, env=clean_env, cwd=tmp_path,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr

    # Only runtime dependencies: the dev extra (pinned by the same lock) stays out of the image.
    listed = subprocess.run([str(venv / "bin/python"), "-c",
                             "import importlib.metadata as m;"
                             "print('\\n'.join(sorted(d.metadata['Name'].lower() "
                             "for d in m.distributions())))"],
                            check=False, capture_output=True, text=True, env=clean_env, timeout=120)
    installed = set(listed.stdout.split())
    assert "aislot-responder" in installed
    assert not installed & {"pytest", "mypy", "ruff", "hypothesis", "pip", "setuptools"}, installed
    # The simulator (its own distribution, aislot-simulator, for development and the demo) is
    # not in the image: not copied, not installed, no console script, nothing importable.
    assert not (scratch / "src" / "simulator").exists(), "the build copied the simulator"
    assert "aislot-simulator" not in installed, installed
    assert not (venv / "bin" / "aislot-simulator").exists()
    assert not [p for p in venv.rglob("*") if "simulator" in p.name.lower()], "simulator files"
    spec = subprocess.run([str(venv / "bin/python"), "-c",
                           "import importlib.util as u; print(u.find_spec('simulator'))"],
                          check=False, capture_output=True, text=True, env=clean_env,
                          cwd=tmp_path, timeout=120)
    assert spec.returncode == 0 and spec.stdout.strip() == "None", spec.stdout + spec.stderr
    # And exactly at the lock's versions.
    lock = dict(line.split("==", 1) for line in
                (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
                if "==" in line and not line.startswith(("#", " ")))
    versions = subprocess.run([str(venv / "bin/python"), "-c",
                               "import importlib.metadata as m;"
                               "print('\\n'.join(d.metadata['Name'].lower().replace('_','-') + '=='"
                               " + d.version for d in m.distributions()))"],
                              check=False, capture_output=True, text=True, env=clean_env,
                              timeout=120)
    for line in versions.stdout.split():
        name, version = line.split("==")
        if name != "aislot-responder":
            assert name in lock, f"{name} installed but not in requirements.lock"
            assert lock[name] == version, f"{name}=={version}, lock says {lock[name]}"

    # Serve from the installed venv as the image would (package data such as the SQL migrations
    # and the OpenAPI document must be in the wheel): ready, and nothing written under the venv
    # (the image's root filesystem is read-only).
    before = {p: p.stat().st_mtime_ns for p in venv.rglob("*") if p.is_file()}
    data = tmp_path / "data"
    data.mkdir()
    port = free_port()
    serve_env = {**clean_env, "PYTHONDONTWRITEBYTECODE": "1",
                 "AISLOT_CONFIG": str(ROOT / "config/responder.yaml"),
                 "AISLOT_STORE__SQLITE_PATH": str(data / "responder.db"),
                 "AISLOT_SERVER__HOST": "127.0.0.1", "AISLOT_SERVER__PORT": str(port),
                 "AISLOT_AUTH__WEBHOOK_TOKEN": "docker-test-webhook-token",
                 "AISLOT_AUTH__READ_TOKEN": "docker-test-read-token"}
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([str(cli), "serve"], env=serve_env, cwd=data, stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        def ready() -> bool:
            if server.poll() is not None:
                raise AssertionError(f"serve exited: {(tmp_path / 'serve.log').read_text()}")
            try:
                return http("GET", f"http://127.0.0.1:{port}/readyz", timeout=2)[0] == 200
            except OSError:
                return False

        wait_until(ready, timeout=60, what="the installed service to be ready")
        status, spec = http("GET", f"http://127.0.0.1:{port}/openapi.json")
        assert status == 200 and "/webhook" in spec["paths"]
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    after = {p: p.stat().st_mtime_ns for p in venv.rglob("*") if p.is_file()}
    assert after == before, "the service wrote under its install tree"
    assert (data / "responder.db").is_file()
