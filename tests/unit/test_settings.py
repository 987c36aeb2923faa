"""The settings tree: file + env, validation errors that name the field, check-config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.config.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_repo_default_config_loads_and_matches_builtin_defaults() -> None:
    from_file = load_settings(ROOT / "config" / "responder.yaml")
    builtin = load_settings(overrides={"server": {"host": "0.0.0.0"}})
    assert from_file.model_dump() == builtin.model_dump()


def test_env_overrides_file_per_leaf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("server:\n  host: 10.0.0.1\n  port: 8000\nmitigation:\n  mode: approval\n")
    monkeypatch.setenv("AISLOT_SERVER__PORT", "9001")
    monkeypatch.setenv("AISLOT_AUTH__WEBHOOK_TOKEN", "tok-from-env-0123456789")
    monkeypatch.setenv("AISLOT_AUTH__OWNER_TOKEN", "owner-from-env-0123456789")
    monkeypatch.setenv("AISLOT_SINKS__CHAT__TYPE", "slack")
    monkeypatch.setenv("AISLOT_SINKS__CHAT__URL", "https://hooks.example/x")
    settings = load_settings(cfg)
    assert (settings.server.host, settings.server.port) == ("10.0.0.1", 9001)
    assert settings.mitigation.mode == "approval"
    assert settings.auth.webhook_token is not None
    assert settings.auth.webhook_token.get_secret_value() == "tok-from-env-0123456789"
    assert "tok-from-env-0123456789" not in repr(settings)
    assert settings.sinks["chat"].type == "slack"


@pytest.mark.parametrize(("text", "field"), [
    ("server:\n  port: 99999\n", "server.port"),
    ("mitigation:\n  mode: yolo\n", "mitigation.mode"),
    ("store:\n  backend: postgres\n", "store"),
    ("servr:\n  port: 1\n", "servr"),
    ("sinks:\n  chat:\n    type: telegram\n", "sinks.chat.chat_id"),
    ("diagnostics:\n  signatures:\n    - name: x\n      patterns:\n        worker:\n"
     "          defining: ['(']\n", "diagnostics.signatures.0.patterns.worker.defining"),
    # Tuning values that used to be constants: bounded, and ordered where it matters.
    ("outbox:\n  batch: 0\n", "outbox.batch"),
    ("outbox:\n  poll_interval_s: 0\n", "outbox.poll_interval_s"),
    ("outbox:\n  inline_attempts: 100\n", "outbox.inline_attempts"),
    ("outbox:\n  retry_after_max_s: 1000000\n", "outbox.retry_after_max_s"),
    ("outbox:\n  inline_initial_s: 2\n", "outbox"),  # more than inline_max_wait_s
    ("outbox:\n  backoff_initial_s: 1000\n", "outbox"),  # more than backoff_max_s
    ("diagnostics:\n  investigations_at_once: 0\n", "diagnostics.investigations_at_once"),
    ("diagnostics:\n  job_log_tails_at_once: 1000\n", "diagnostics.job_log_tails_at_once"),
    ("store:\n  sqlite_busy_timeout_ms: -1\n", "store.sqlite_busy_timeout_ms"),
    ("store:\n  postgres_pool_size: 0\n", "store.postgres_pool_size"),
    ("store:\n  claim_lease_s: 1\n", "store.claim_lease_s"),
    ("store:\n  postgres_migrate_timeout_s: 0\n", "store.postgres_migrate_timeout_s"),
    ("server:\n  task_restart_delay_s: 0\n", "server.task_restart_delay_s"),
    ("server:\n  task_restart_delay_s: 40\n  task_restart_delay_max_s: 20\n", "server"),
])
def test_bad_config_names_the_field(tmp_path: Path, text: str, field: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    assert f"  {field}" in str(err.value)


def test_check_config_command(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("server:\n  port: not-a-port\n")
    run = subprocess.run([sys.executable, "-m", "service", "check-config", str(bad)],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    assert run.returncode == 2
    assert "server.port" in run.stderr and "AISLOT_SERVER__PORT" in run.stderr
    ok = subprocess.run([sys.executable, "-m", "service", "check-config",
                         "config/responder.yaml"], capture_output=True, text=True, cwd=ROOT,
                        check=False)
    assert ok.returncode == 0, ok.stderr
    notyaml = tmp_path / "n.yaml"
    notyaml.write_text("server: [\n")
    run = subprocess.run([sys.executable, "-m", "service", "check-config", str(notyaml)],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    assert run.returncode == 2 and "not valid YAML" in run.stderr


def test_serve_refuses_to_start_without_tokens(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "AISLOT_STORE__SQLITE_PATH": str(tmp_path / "x.db")}
    run = subprocess.run([sys.executable, "-m", "service", "serve"], capture_output=True,
                         text=True, cwd=ROOT, env=env, check=False, timeout=60)
    assert run.returncode == 2 and "auth.webhook_token" in run.stderr


def test_defaults_are_the_former_constants() -> None:
    s = load_settings(overrides={})
    assert (s.outbox.poll_interval_s, s.outbox.batch, s.outbox.inline_attempts,
            s.outbox.inline_deadline_s, s.outbox.inline_initial_s, s.outbox.inline_max_wait_s,
            s.outbox.backoff_initial_s, s.outbox.backoff_max_s, s.outbox.retry_after_max_s) == (
        5.0, 50, 3, 5.0, 0.1, 1.0, 10.0, 900.0, 3600.0)
    assert (s.diagnostics.investigations_at_once, s.diagnostics.job_log_tails_at_once) == (8, 8)
    assert (s.store.sqlite_busy_timeout_ms, s.store.postgres_pool_size,
            s.store.claim_lease_s, s.store.postgres_migrate_timeout_s) == (
        5000, 10, 120.0, 60.0)
    assert (s.server.task_restart_delay_s, s.server.task_restart_delay_max_s) == (1.0, 30.0)


def test_check_config_rejects_an_env_override_out_of_range() -> None:
    env = {"PATH": "/usr/bin:/bin", "AISLOT_OUTBOX__BATCH": "0",
           "AISLOT_DIAGNOSTICS__INVESTIGATIONS_AT_ONCE": "65"}
    run = subprocess.run([sys.executable, "-m", "service", "check-config",
                          "config/responder.yaml"], capture_output=True, text=True, cwd=ROOT,
                         env=env, check=False, timeout=60)
    assert run.returncode == 2
    assert "outbox.batch" in run.stderr and "AISLOT_OUTBOX__BATCH" in run.stderr
    assert "diagnostics.investigations_at_once" in run.stderr
