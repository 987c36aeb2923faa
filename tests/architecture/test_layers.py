"""The layer contracts (``[tool.importlinter]`` in pyproject.toml) hold, and they can fail.

``lint-imports`` (import-linter, which walks every module's imports with grimp) runs on the
tree as it is, then on copies of the tree with one forbidden import added: the responder
importing the simulator and the reverse, the domain importing aiohttp, a module outside the
Kubernetes adapter importing kubernetes_asyncio, one outside the store importing a database
driver, a lower layer importing a higher one. Each copy must be refused, naming the import.
``make test`` also runs ``lint-imports`` on its own.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    # import-linter puts its working directory first on sys.path: the copy is what it reads.
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False)


def test_the_tree_keeps_every_contract() -> None:
    run = _lint(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout and "simulator" in run.stdout


@pytest.mark.parametrize(("module", "forbidden", "shown"), [
    ("service/cli.py", "from simulator.clock import AnchoredClock", "service.cli -> simulator"),
    ("simulator/demo.py", "from service.domain.timetext import span", "simulator.demo -> service"),
    ("service/domain/policy.py", "import aiohttp", "service.domain.policy -> aiohttp"),
    ("service/notify/outbox.py", "import kubernetes_asyncio",
     "service.notify.outbox -> kubernetes_asyncio"),
    ("service/api/webhook.py", "import sqlite3", "service.api.webhook -> sqlite3"),
    ("service/runtime/clock.py", "from service.runbook import pipeline",
     "service.runtime.clock -> service.runbook.pipeline"),
])
def test_a_forbidden_import_breaks_the_contract(tmp_path: Path, module: str, forbidden: str,
                                                 shown: str) -> None:
    for package in ("service", "simulator"):
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{forbidden}  # noqa\n",
                      encoding="utf-8")
    run = _lint(tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "BROKEN" in run.stdout and "1 broken" in run.stdout, run.stdout
    assert shown in run.stdout, run.stdout
