"""Secrets stay out of messages: a malformed DSN, a config file PyYAML cannot read.

The DSN's password must not appear in what ``PostgresStore.open`` raises, in what
``check-config`` prints, nor in a ``ConfigError``; each still says what is wrong and where.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.config.dsn import dsn_problem, without_dsn_secrets
from service.config.settings import ConfigError, load_settings
from service.domain.incidents import IdentityRules
from service.store.base import StoreUnavailable
from service.store.postgres import PostgresStore

ROOT = Path(__file__).resolve().parents[2]
SECRET = "p@ss:w0rd"

# Each one is refused by asyncpg with a message quoting part of it (``int('w0rd@db')``),
# an IndexError, or a ValueError outside the driver's exception tree.
MALFORMED = [
    f"postgresql://aislot:{SECRET}@db/x",  # unencoded '@' in the password
    "postgresql://aislot:pa/ss@db/x",  # unencoded '/'
    "postgresql://aislot:pa?ss@db/x",  # unencoded '?'
    f"postgresql://aislot:{SECRET}@[::1/x",  # unbalanced IPv6 bracket
    "postgresql://aislot:hunter2@h1,,h2/x",  # empty host
    "postgresql://aislot:hunter2@db:99999/x",  # port out of range
    "postgresql://aislot:hunter2@db/x?password",  # query field without '='
    "mysql://aislot:hunter2@db/x",  # wrong scheme
    "aislot:hunter2@db/x",  # no scheme at all
]


def _fragments(dsn: str) -> list[str]:
    """The password and the pieces a driver's parser might cut it into."""
    password = dsn.partition("://")[2].rpartition("@")[0].partition(":")[2] or "hunter2"
    return [password, *(piece for piece in password.replace("@", ":").replace("/", ":")
                        .replace("?", ":").split(":") if len(piece) > 2)]


@pytest.mark.parametrize("dsn", MALFORMED)
def test_dsn_problem_names_the_problem_without_quoting_the_dsn(dsn: str) -> None:
    problem = dsn_problem(dsn)
    assert problem
    for fragment in _fragments(dsn):
        assert fragment not in problem


@pytest.mark.parametrize("dsn", [
    "postgresql://aislot:hunter2@db/x",
    "postgres://aislot:p%40ss%3Aw0rd@db:5432/x?sslmode=disable",
    "postgresql://aislot:hunter2@[::1]:5432,db2:5433/x",
    "postgresql:///x?host=/var/run/postgresql",
])
def test_well_formed_dsns_pass(dsn: str) -> None:
    assert dsn_problem(dsn) is None


@pytest.mark.parametrize("dsn", [*MALFORMED,
                                 "postgresql://aislot:hunter2@db/x?sslmode=bogus"])
async def test_open_with_a_malformed_dsn_raises_store_unavailable_without_the_password(
    dsn: str,
) -> None:
    store = PostgresStore(dsn, rules=IdentityRules("ns"), timeout_s=2.0, migrate_timeout_s=2.0)
    with pytest.raises(StoreUnavailable) as err:
        await store.open()
    text = str(err.value)
    assert text.startswith("postgres: invalid DSN (")
    for fragment in _fragments(dsn):
        assert fragment not in text
    assert err.value.__cause__ is None  # no driver exception chained into a traceback


def test_the_dsn_passwords_are_removed_from_driver_text() -> None:
    dsn = "postgres://aislot:p%40ss@db/x?sslpassword=kk-secret"
    text = without_dsn_secrets("auth failed for p@ss (p%40ss), key kk-secret at postgres://aislot:p%40ss@db/x",
                 dsn)
    assert "p@ss" not in text and "p%40ss" not in text and "kk-secret" not in text
    assert "auth failed for" in text and "db/x" in text


def _check_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "service", "check-config", str(path)],
                          capture_output=True, text=True, cwd=ROOT, check=False)


def test_yaml_syntax_error_near_a_dsn_does_not_print_it(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("store:\n  backend: postgres\n  postgres_dsn: postgresql://u:hunter2@db/x: y\n")
    run = _check_config(cfg)
    assert run.returncode == 2
    assert "hunter2" not in run.stderr + run.stdout
    assert "not valid YAML: mapping values are not allowed here at line 3" in run.stderr
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert "hunter2" not in str(err.value) and err.value.__cause__ is None


def test_malformed_dsn_in_config_names_the_field_not_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "dsn.yaml"
    cfg.write_text("store:\n  backend: postgres\n")
    dsn = f"postgresql://aislot:{SECRET}@db/x"
    run = subprocess.run([sys.executable, "-m", "service", "check-config", str(cfg)],
                         capture_output=True, text=True, cwd=ROOT, check=False,
                         env={"PATH": "/usr/bin:/bin", "AISLOT_STORE__POSTGRES_DSN": dsn})
    monkeypatch.setenv("AISLOT_STORE__POSTGRES_DSN", dsn)
    assert run.returncode == 2
    assert "store.postgres_dsn" in run.stderr and "percent-encode" in run.stderr
    for fragment in _fragments(f"postgresql://aislot:{SECRET}@db/x"):
        assert fragment not in run.stderr + run.stdout
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert "w0rd" not in repr(err.value.__cause__)  # the ValidationError hides the input
