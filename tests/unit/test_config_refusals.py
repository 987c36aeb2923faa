"""Issue 12, finding 6: configuration that cannot be honoured is refused at load, with the
field path, by ``load_settings`` and so by ``check-config`` (exit 2). On main: a token in the
YAML file was taken (the README says secrets come by env only), ``AISLOT_BOGUS__X=1`` was
ignored silently, and ``approval`` mode started with no Owner token, so nothing could ever be
approved."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.config.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "a-token-of-enough-length-0123"


def _check_config(path: Path | None, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "service", "check-config", *([str(path)] if path else [])]
    return subprocess.run(args, env={"PATH": "/usr/bin:/bin", **env}, cwd=ROOT,
                          capture_output=True, text=True, check=False)


@pytest.mark.parametrize(("text", "field"), [
    (f"auth:\n  webhook_token: {TOKEN}\n", "auth.webhook_token"),
    (f"auth:\n  read_token: {TOKEN}\n", "auth.read_token"),
    (f"auth:\n  owner_token: {TOKEN}\n", "auth.owner_token"),
    (f"auth:\n  webhook_basic_user: am\n  webhook_basic_password: {TOKEN}\n",
     "auth.webhook_basic_password"),
    (f"store:\n  backend: postgres\n  postgres_dsn: postgresql://u:{TOKEN}@db/x\n",
     "store.postgres_dsn"),
    (f"sinks:\n  chat:\n    type: telegram\n    chat_id: '1'\n    token: {TOKEN}\n",
     "sinks.chat.token"),
])
def test_a_secret_in_the_config_file_is_refused(tmp_path: Path, text: str, field: str) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert field in str(err.value) and TOKEN not in str(err.value)
    env_name = "AISLOT_" + field.replace(".", "__").upper()
    assert env_name in str(err.value) and f"{env_name}_FILE" in str(err.value)
    run = _check_config(cfg, {})
    assert run.returncode == 2 and field in run.stderr and TOKEN not in run.stderr


def test_secrets_come_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Kubernetes Secret mounted as files: ``*_FILE`` env, or ``*_file`` in the file."""
    (tmp_path / "webhook-token").write_text(TOKEN + "\n")  # `echo` adds a newline
    (tmp_path / "read-token").write_text("read-" + TOKEN)
    (tmp_path / "tg").write_text("123456:telegram-bot-token")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"auth:\n  read_token_file: {tmp_path / 'read-token'}\n"
                   "sinks:\n  chat:\n    type: telegram\n    chat_id: '1'\n"
                   f"    token_file: {tmp_path / 'tg'}\n")
    monkeypatch.setenv("AISLOT_AUTH__WEBHOOK_TOKEN_FILE", str(tmp_path / "webhook-token"))
    settings = load_settings(cfg)
    assert settings.auth.webhook_token is not None and settings.auth.read_token is not None
    assert settings.auth.webhook_token.get_secret_value() == TOKEN
    assert settings.auth.read_token.get_secret_value() == "read-" + TOKEN
    assert settings.sinks["chat"].token is not None
    assert settings.sinks["chat"].token.get_secret_value() == "123456:telegram-bot-token"
    # The file's secret obeys the same rules as the env's.
    (tmp_path / "webhook-token").write_text("short\n")
    with pytest.raises(ConfigError, match=r"auth\.webhook_token"):
        load_settings(cfg)


def test_a_secret_file_that_cannot_be_read_or_a_secret_given_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AISLOT_AUTH__WEBHOOK_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError) as err:
        load_settings(overrides={})
    assert "webhook_token_file" in str(err.value) and "No such file" in str(err.value)
    (tmp_path / "t").write_text(TOKEN)
    monkeypatch.setenv("AISLOT_AUTH__WEBHOOK_TOKEN_FILE", str(tmp_path / "t"))
    monkeypatch.setenv("AISLOT_AUTH__WEBHOOK_TOKEN", TOKEN)
    with pytest.raises(ConfigError, match="not both"):
        load_settings(overrides={})


@pytest.mark.parametrize("name", ["AISLOT_BOGUS__X", "AISLOT_SEVER__PORT", "AISLOT_BOGUS",
                                  "AISLOT_PORT"])
def test_an_env_var_naming_no_section_is_refused(name: str) -> None:
    run = _check_config(None, {name: "1"})
    assert run.returncode == 2, run.stdout
    assert name in run.stderr and "no setting section" in run.stderr


def test_approval_mode_needs_an_owner_token(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("mitigation:\n  mode: approval\n")
    run = _check_config(cfg, {})
    assert run.returncode == 2
    assert "approval needs auth.owner_token" in run.stderr
    ok = _check_config(cfg, {"AISLOT_AUTH__OWNER_TOKEN": TOKEN})
    assert ok.returncode == 0, ok.stderr


def test_postgres_needs_a_dsn(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("store:\n  backend: postgres\n")
    run = _check_config(cfg, {})
    assert run.returncode == 2 and "postgres_dsn is required" in run.stderr
    ok = _check_config(cfg, {"AISLOT_STORE__POSTGRES_DSN": "postgresql://u:p@db/x"})
    assert ok.returncode == 0, ok.stderr
