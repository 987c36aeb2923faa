"""Sink settings: one model per type, told apart by ``type``, validated once at load.

Each model holds exactly its sink's fields (a field of another type is a typo, refused); a
missing required field, a bad URL or repo name is refused by ``load_settings`` (and so by
``check-config``, exit 2) with the path the file and env use (``sinks.<name>.<field>``, the
type said beside it), and env and ``_FILE`` secrets fill in what the file may not hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.config.settings import SINK_MODELS, ConfigError, load_settings
from service.config.sinks import (
    SinkSection,
    SlackSinkSettings,
    TelegramSinkSettings,
    WebhookSinkSettings,
)

ROOT = Path(__file__).resolve().parents[2]
SLACK_URL = "https://hooks.slack.com/services/T0/B0/secretpart0123456789"


def test_each_type_has_exactly_its_own_fields() -> None:
    common = set(SinkSection.model_fields)
    own = {kind: set(model.model_fields) - common for kind, model in SINK_MODELS.items()}
    assert own == {"webhook": {"url", "token"}, "slack": {"url"},
                   "telegram": {"token", "chat_id", "url"},
                   "github": {"token", "repo", "issue", "url"},
                   "pagerduty": {"token", "url"}, "console": set()}
    required = {kind: {n for n, f in model.model_fields.items() if f.is_required()}
                for kind, model in SINK_MODELS.items()}
    assert required == {"webhook": {"type", "url"}, "slack": {"type", "url"},
                        "telegram": {"type", "token", "chat_id"},
                        "github": {"type", "token", "repo"}, "pagerduty": {"type", "token"},
                        "console": {"type"}}


@pytest.mark.parametrize(("text", "problems"), [
    ("chat:\n    type: telegram\n",
     ["sinks.chat.token: Field required (a telegram sink; env AISLOT_SINKS__CHAT__TOKEN or "
      "AISLOT_SINKS__CHAT__TOKEN_FILE)",
      "sinks.chat.chat_id: Field required (a telegram sink; file key 'sinks.chat.chat_id' or "
      "env AISLOT_SINKS__CHAT__CHAT_ID)"]),
    ("chat:\n    type: slack\n    url: https://hooks.example/x\n    chat_id: '1'\n",
     ["sinks.chat.chat_id: Extra inputs are not permitted (a slack sink;"]),
    ("chat:\n    type: slack\n", ["sinks.chat.url: Field required (a slack sink;"]),
    ("hook:\n    type: webhook\n    url: ftp://hooks.example/x\n",
     ["sinks.hook.url: URL scheme should be 'http' or 'https' (a webhook sink;"]),
    ("hook:\n    type: webhook\n    url: hooks.example\n", ["sinks.hook.url: Input should be"]),
    ("gh:\n    type: github\n    repo: platform\n", ["sinks.gh.repo: String should match",
                                                     "sinks.gh.token: Field required"]),
    ("pd:\n    type: pagerduty\n    events: [opened, closed]\n",
     ["sinks.pd.events.1: Input should be 'opened'", "sinks.pd.token: Field required"]),
    ("out:\n    type: console\n    url: http://x\n", ["sinks.out.url: Extra inputs"]),
    ("chat:\n    type: slak\n", ["sinks.chat.type: unknown sink type (one of webhook, slack, "
                                "telegram, github, pagerduty, console) (file key "
                                "'sinks.chat.type' or env AISLOT_SINKS__CHAT__TYPE)"]),
    ("chat:\n    url: https://hooks.example/x\n", ["sinks.chat.type: missing sink type"]),
])
def test_a_bad_sink_is_refused_at_load_with_its_path(tmp_path: Path, text: str,
                                                     problems: list[str]) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sinks:\n  " + text)
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    for problem in problems:
        assert f"  {problem}" in str(err.value)


def test_check_config_exits_2_on_a_bad_sink_and_env_completes_it(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sinks:\n  chat:\n    type: telegram\n    chat_id: '-100'\n")
    args = [sys.executable, "-m", "service", "check-config", str(cfg)]
    env = {"PATH": "/usr/bin:/bin"}
    run = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    assert run.returncode == 2
    assert "sinks.chat.token: Field required (a telegram sink" in run.stderr
    (tmp_path / "tg").write_text("123456:bot-token\n")
    for secret in ({"AISLOT_SINKS__CHAT__TOKEN": "123456:bot-token"},
                   {"AISLOT_SINKS__CHAT__TOKEN_FILE": str(tmp_path / "tg")}):
        ok = subprocess.run(args, env={**env, **secret}, cwd=ROOT, capture_output=True,
                            text=True, check=False)
        assert ok.returncode == 0, ok.stderr


def test_env_builds_or_completes_a_sink_of_the_right_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sinks:\n  tg:\n    type: telegram\n    chat_id: '-100'\n"
                   f"  chat:\n    type: slack\n    url: {SLACK_URL}\n")
    monkeypatch.setenv("AISLOT_SINKS__TG__TOKEN", "123456:bot-token")
    monkeypatch.setenv("AISLOT_SINKS__HOOK__TYPE", "webhook")
    monkeypatch.setenv("AISLOT_SINKS__HOOK__URL", "http://hooks.internal/aislot")
    monkeypatch.setenv("AISLOT_SINKS__HOOK__EVENTS", '["escalated"]')
    settings = load_settings(cfg)
    tg, chat, hook = settings.sinks["tg"], settings.sinks["chat"], settings.sinks["hook"]
    assert isinstance(tg, TelegramSinkSettings)
    assert (tg.chat_id, tg.token.get_secret_value()) == ("-100", "123456:bot-token")
    assert tg.url == "https://api.telegram.org"  # the public Bot API unless told
    assert isinstance(hook, WebhookSinkSettings) and hook.events == ["escalated"]
    # The Slack URL is the credential: kept as a secret, never shown.
    assert isinstance(chat, SlackSinkSettings) and chat.url.get_secret_value() == SLACK_URL
    assert "secretpart" not in repr(settings) and "123456:bot" not in repr(settings)
