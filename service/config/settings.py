"""The one settings tree: ``config/responder.yaml`` (or ``--config FILE``) plus ``AISLOT_*`` env.

Env wins over the file, ``__`` separates levels (``AISLOT_SERVER__PORT=9000``); that is how
secrets (tokens) arrive. Everything is validated at start; ``load_settings`` raises
``ConfigError`` whose message names the offending field path. The sections that tune the
process itself (server, store, outbox, logging, runtime) live in ``service.config.process``
and are re-exported here; the sinks' models live in ``service.config.sinks``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, Field, SecretStr, ValidationError, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from service.config.process import (
    LoggingSettings,
    OutboxSettings,
    RuntimeSettings,
    SecretSection,
    Section,
    ServerSettings,
    StoreSettings,
)
from service.config.sinks import SINK_MODELS, SinkSettings
from service.domain.evidence import JobKind
from service.domain.policy_record import Mode
from service.domain.signatures import SignatureConfig, default_signatures

__all__ = [  # the process sections are imported from here like the others
    "SINK_MODELS", "AuthSettings", "ConfigError", "DiagnosticsSettings", "EscalationSettings",
    "IncidentSettings", "KillSwitchTarget", "KubeSettings", "LoggingSettings",
    "MitigationSettings", "OutboxSettings", "PlatformObjects", "RuntimeSettings", "Section",
    "ServerSettings", "Settings", "SinkSettings", "StoreSettings", "config_path_from_env",
    "load_settings",
]

DEFAULT_CONFIG_PATH = Path("config/responder.yaml")
ENV_PREFIX = "AISLOT_"
CONFIG_ENV = "AISLOT_CONFIG"


MIN_LINK_KEY_CHARS = 32


class ConfigError(Exception):
    """A configuration that cannot be used; the message says which field and why."""


MIN_SECRET_CHARS = 16
# What a bearer credential may hold (RFC 6750 b64token), so a configured token can be sent.
_BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def _long_enough(value: SecretStr) -> SecretStr:
    if len(value.get_secret_value()) < MIN_SECRET_CHARS:
        raise ValueError(f"must be at least {MIN_SECRET_CHARS} characters "
                         "(e.g. from `openssl rand -hex 24`)")
    return value


def _bearer_shape(value: SecretStr) -> SecretStr:
    if not _BEARER_TOKEN.fullmatch(value.get_secret_value()):
        raise ValueError("may hold only ASCII letters, digits and - . _ ~ + / "
                         "(then = padding), as a bearer token must (RFC 6750)")
    return value


Password = Annotated[SecretStr, AfterValidator(_long_enough)]
Token = Annotated[SecretStr, AfterValidator(_long_enough), AfterValidator(_bearer_shape)]


class AuthSettings(SecretSection):
    """Tokens; they arrive by env (AISLOT_AUTH__WEBHOOK_TOKEN ...) or from files
    (AISLOT_AUTH__WEBHOOK_TOKEN_FILE ...), never from the config file, and are never logged.

    Each secret is at least 16 characters and differs from the others: a read token equal to
    the webhook token would let either holder do both."""

    secret_fields = ("webhook_token", "webhook_basic_password", "read_token", "owner_token",
                     "link_key")

    webhook_token: Token | None = None
    webhook_basic_user: str | None = None
    webhook_basic_password: Password | None = None
    read_token: Token | None = None
    owner_token: Token | None = None
    owner_name: str = "owner"
    link_key: SecretStr | None = Field(
        default=None, min_length=MIN_LINK_KEY_CHARS,
        description="signs the grants in messages' incident links (env AISLOT_AUTH__LINK_KEY)")
    link_ttl_s: float = Field(default=24 * 3600, ge=60, le=30 * 24 * 3600,
                              description="how long a message's incident link opens the page")

    @model_validator(mode="after")
    def _basic_is_a_pair(self) -> AuthSettings:
        if (self.webhook_basic_user is None) != (self.webhook_basic_password is None):
            raise ValueError("webhook_basic_user and webhook_basic_password go together")
        return self

    @model_validator(mode="after")
    def _secrets_distinct(self) -> AuthSettings:
        seen: dict[str, str] = {}
        for name in self.secret_fields:
            secret: SecretStr | None = getattr(self, name)
            if secret is None:
                continue
            if (same := seen.get(secret.get_secret_value())) is not None:
                raise ValueError(f"{name} must differ from {same}")
            seen[secret.get_secret_value()] = name
        return self


class IncidentSettings(Section):
    """How an alert maps to an incident (the alert catalog's dedup rule)."""

    default_namespace: str = "codex-k8s-prod"
    namespace_label: str = "namespace"
    signature_label: str = "error_signature"
    job_kind_label: str = "job_kind"
    related_issue: str = "205"


class KubeSettings(Section):
    """How to reach the cluster: a kubeconfig file, else in-cluster config."""

    kubeconfig: Path | None = None
    context: str | None = None
    namespace: str = "codex-k8s-prod"
    request_timeout_s: float = Field(default=10.0, gt=0)
    retry_deadline_s: float = Field(default=30.0, gt=0)
    watch_timeout_s: float = Field(
        default=290.0, gt=0, description="a live-view watch's timeoutSeconds; then re-watched")
    watch_silence_s: float = Field(
        default=30.0, gt=0,
        description="a watch silent this long past its timeout is cut and reconnected")
    log_follow_read_s: float = Field(
        default=300.0, gt=0,
        description="a followed log silent this long is reconnected from its last line")
    log_resume_margin_s: float = Field(
        default=120.0, gt=0,
        description="after a cut, a followed log is read again from this long before its "
                    "last line arrived, to find its place")
    view_retry_s: float = Field(
        default=60.0, gt=0,
        description="a job tail or the switch the live view could not read is retried after")
    observe: Literal["watch", "poll"] = Field(
        default="watch",
        description="watch: one live view of the namespace (list+watch, logs read once), the "
                    "policy evaluated as it changes; poll: the collectors again at each "
                    "monitor_interval_s (the baseline of bench_reaction)")


class PlatformObjects(Section):
    """Names and selectors of the platform's objects (context/platform.md)."""

    control_plane_deployment: str = "codex-k8s-control-plane"
    control_plane_container: str = "control-plane"
    worker_deployment: str = "codex-k8s-worker"
    registry_deployment: str = "codex-k8s-registry"
    build_job_selector: str = "app.kubernetes.io/name=codex-k8s-kaniko"
    mirror_job_selector: str = "app.kubernetes.io/name=codex-k8s-image-mirror"
    codegen_job_selector: str = "app.kubernetes.io/component=codegen-check"
    run_id_label: str = Field(default="codex-k8s.dev/run-id", description="a job's run id")
    job_name_words: list[str] = Field(
        default_factory=lambda: ["kaniko", "mirror", "build"],
        description="a failed job no selector claims counts when its name holds one of these")


class DiagnosticsSettings(Section):
    """The runbook's diagnostics: windows, timeouts, limits, and the signatures to grep."""

    log_window_s: int = Field(default=6 * 3600, gt=0, description="logs --since (6h)")
    collector_timeout_s: float = Field(default=20.0, gt=0)
    overall_deadline_s: float = Field(default=45.0, gt=0)
    max_excerpts: int = Field(default=20, ge=1)
    excerpt_chars: int = Field(default=400, ge=40)
    max_line_bytes: int = Field(default=64 * 1024, ge=1024)
    job_log_tail_lines: int = Field(default=200, ge=1)
    reinvestigate_interval_s: float = Field(default=300.0, ge=0)
    investigations_at_once: int = Field(
        default=8, ge=1, le=64, description="incidents investigated at the same time")
    job_log_tails_at_once: int = Field(
        default=8, ge=1, le=64, description="failed jobs' log tails read at the same time")
    journal_max_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024,
        description="the live view's memory for the control-plane lines the evidence scans")
    signatures: list[SignatureConfig] = Field(default_factory=default_signatures)


class KillSwitchTarget(Section):
    """Where ``CODEXK8S_KANIKO_CACHE_ENABLED`` lives."""

    kind: Literal["deployment-env", "secret", "configmap"] = "deployment-env"
    name: str = Field(default="codex-k8s-control-plane",
                      description="the Deployment (deployment-env) or the Secret/ConfigMap")
    key: str = "CODEXK8S_KANIKO_CACHE_ENABLED"
    off_value: str = "false"
    restart_deployment: str = Field(
        default="codex-k8s-control-plane",
        description="restarted (restartedAt annotation) when the switch is in a Secret/ConfigMap",
    )


class MitigationSettings(Section):
    """The cache kill switch and its safety policy."""

    mode: Mode = "auto"
    signatures: list[str] = Field(
        default_factory=lambda: ["cache"],
        description="signatures the kill switch fixes: applied only when the evidence "
                    "confirms one of them")
    target: KillSwitchTarget = KillSwitchTarget()
    rollout_timeout_s: float = Field(default=180.0, gt=0)


def _default_recovery_jobs() -> dict[str, list[JobKind]]:
    # Only builds say the cache is fixed: a mirror job completes with the cache still stale.
    return {"cache": ["build"], "build-ref": ["codegen"]}


class EscalationSettings(Section):
    """The runbook's thresholds."""

    repeat_threshold: int = Field(default=2, ge=0,
                                  description="escalate when more than this many in a row")
    recovery_deadline_s: float = Field(default=1800.0, gt=0)
    clean_window_s: float = Field(default=1800.0, gt=0)
    monitor_interval_s: float = Field(default=60.0, gt=0)
    blind_after_s: float = Field(default=300.0, gt=0, description="tell on-call when what a "
                                 "rule needs cannot be read for this long")
    recovery_jobs: dict[str, list[JobKind]] = Field(
        default_factory=_default_recovery_jobs,
        description="per signature, the job kinds whose outcomes count (streak, recovery)")
    rollback_plan: str = (
        "Config rollback first (cache off, valid build ref), then image rollback of "
        "control-plane/worker with the Owner (docs/ops/rollback_plan_ai_slot_build_pipeline.md)"
    )


class Settings(BaseSettings):
    """The whole configuration of one responder process."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__",
                                      extra="forbid", frozen=True, hide_input_in_errors=True)

    server: ServerSettings = ServerSettings()
    auth: AuthSettings = AuthSettings()
    store: StoreSettings = StoreSettings()
    outbox: OutboxSettings = OutboxSettings()
    logging: LoggingSettings = LoggingSettings()
    incidents: IncidentSettings = IncidentSettings()
    kube: KubeSettings = KubeSettings()
    platform: PlatformObjects = PlatformObjects()
    diagnostics: DiagnosticsSettings = DiagnosticsSettings()
    mitigation: MitigationSettings = MitigationSettings()
    escalation: EscalationSettings = EscalationSettings()
    sinks: dict[str, SinkSettings] = Field(default_factory=dict)
    runtime: RuntimeSettings = RuntimeSettings()

    @model_validator(mode="after")
    def _approval_has_an_approver(self) -> Settings:
        if self.mitigation.mode == "approval" and self.auth.owner_token is None:
            raise ValueError("mitigation.mode approval needs auth.owner_token (env "
                             "AISLOT_AUTH__OWNER_TOKEN): without it nothing can be approved")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Env over file: the file's values come in as init kwargs.
        return (env_settings, init_settings)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:  # its text quotes the offending line: maybe a secret
        raise ConfigError(f"{path}: not valid YAML: {_yaml_problem(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    return data


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """What PyYAML found wrong and where, without its excerpt of the file."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return type(exc).__name__
    where = (f" at line {exc.problem_mark.line + 1}, column {exc.problem_mark.column + 1}"
             if exc.problem_mark else "")
    return f"{exc.problem or 'unreadable'}{where}" + (f" ({exc.context})" if exc.context else "")


def _problem(err: ErrorDetails) -> tuple[list[str], str, str | None]:
    """The field path as the file and env name it, what is wrong there, and which sink.

    A sink's errors come with its type in the path (``sinks.chat.telegram.token``, from the
    union): the file key and env have none, so the type goes into the text instead.
    """
    path = [str(p) for p in err["loc"]]
    if err["type"] in ("union_tag_not_found", "union_tag_invalid") and path[:1] == ["sinks"]:
        found = "missing" if err["type"] == "union_tag_not_found" else "unknown"
        return [*path, "type"], f"{found} sink type (one of {', '.join(SINK_MODELS)})", None
    if len(path) > 2 and path[0] == "sinks" and path[2] in SINK_MODELS:
        return path[:2] + path[3:], err["msg"], path[2]
    return path, err["msg"], None


def _secret_field(path: list[str], sink_type: str | None) -> bool:
    """Whether ``path`` names a secret, which comes by env and never from the file."""
    models: dict[str, type[SecretSection]] = {"auth": AuthSettings, "store": StoreSettings}
    if len(path) == 2 and path[0] in models:
        return path[1] in models[path[0]].secret_fields
    model = SINK_MODELS.get(sink_type or "")
    return len(path) == 3 and path[0] == "sinks" and model is not None \
        and path[2] in model.secret_fields


def _describe(exc: ValidationError, origin: str) -> str:
    lines = [f"invalid configuration ({origin}):"]
    for err in exc.errors():
        parts, text, sink = _problem(err)
        path = ".".join(parts) or "(root)"
        env = ENV_PREFIX + "__".join(parts).upper()
        where = (f"env {env} or {env}_FILE" if _secret_field(parts, sink)
                 else f"file key {path!r} or env {env}")
        lines.append(f"  {path}: {text} ({f'a {sink} sink; ' if sink else ''}{where})")
    return "\n".join(lines)


def _secrets_in(data: dict[str, Any]) -> list[str]:
    """Paths of the secrets a config file holds (it may be a ConfigMap anyone can read)."""
    sections: list[tuple[str, Any, tuple[str, ...]]] = [
        ("auth", data.get("auth"), AuthSettings.secret_fields),
        ("store", data.get("store"), StoreSettings.secret_fields)]
    sinks = data.get("sinks")
    # A sink of no known type is refused later; its secrets are refused first all the same.
    every_sinks = tuple({f for model in SINK_MODELS.values() for f in model.secret_fields})
    if isinstance(sinks, dict):
        sections += [(f"sinks.{name}", sink,
                      SINK_MODELS[sink["type"]].secret_fields
                      if isinstance(sink, dict) and sink.get("type") in SINK_MODELS
                      else every_sinks)
                     for name, sink in sinks.items()]
    return [f"{where}.{field}" for where, values, fields in sections if isinstance(values, dict)
            for field in fields if field in values]


def _env_problem() -> str | None:
    """An ``AISLOT_`` variable that names no section: a typo that would be ignored silently."""
    sections = set(Settings.model_fields)
    for key in sorted(os.environ):
        if not key.startswith(ENV_PREFIX) or key == CONFIG_ENV:
            continue
        section = key[len(ENV_PREFIX):].split("__", 1)[0].lower()
        if section not in sections:
            return (f"env {key}: no setting section {section!r} (sections: "
                    f"{', '.join(sorted(sections))}; {CONFIG_ENV} names the file)")
    return None


def load_settings(path: Path | None = None, *, overrides: dict[str, Any] | None = None) -> Settings:
    """Load and validate; ``path`` None means the default file when it exists, else defaults.

    ``overrides`` (tests, the demo) may carry secrets; the file may not."""
    origin = "defaults and env"
    data: dict[str, Any] = {}
    if path is None and DEFAULT_CONFIG_PATH.is_file():
        path = DEFAULT_CONFIG_PATH
    if path is not None:
        data = _read_yaml(path)
        origin = f"{path} and env"
        if found := _secrets_in(data):
            env = ENV_PREFIX + found[0].replace(".", "__").upper()
            raise ConfigError(f"{path}: {', '.join(found)}: secrets are not read from the config "
                              f"file; set env {env} or {env}_FILE (a file such as a mounted "
                              "Secret)")
    if (problem := _env_problem()) is not None:
        raise ConfigError(problem)
    for key, value in (overrides or {}).items():
        data[key] = value
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin)) from exc


def config_path_from_env() -> Path | None:
    """``AISLOT_CONFIG`` names a config file (used by the Helm chart and tests)."""
    value = os.environ.get(CONFIG_ENV)
    return Path(value) if value else None
