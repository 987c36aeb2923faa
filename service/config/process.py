"""Settings sections that tune the process itself rather than the runbook: how it listens
and restarts its loops, where it stores, how it sends, logs and tells time.

Part of the one settings tree (``service.config.settings.Settings``); import them from
``service.config.settings``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.config.dsn import DsnSecret


class Section(BaseModel):
    """Base for every section: unknown keys are typos, so they are errors; an error never
    quotes the value (it may be a secret)."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class SecretSection(Section):
    """A section holding secrets (``secret_fields``). Each comes from env, or from the file
    ``<field>_file`` names (a Kubernetes Secret mount: ``AISLOT_AUTH__READ_TOKEN_FILE=/...``);
    ``load_settings`` refuses them in the config file."""

    secret_fields: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name in cls.secret_fields:
            path = data.pop(f"{name}_file", None)
            if path is None:
                continue
            if data.get(name) is not None:
                raise ValueError(f"give {name} or {name}_file, not both")
            try:
                text = Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                raise ValueError(f"{name}_file: cannot read {path}: {why}") from None
            # `echo token > file` ends it with a newline that is no part of the secret.
            data[name] = text.removesuffix("\n").removesuffix("\r")
        return data


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="webhook body limit")
    public_url: str = Field(
        default="http://127.0.0.1:8080", description="base URL used in links to incidents"
    )
    shutdown_timeout_s: float = Field(default=10.0, gt=0)
    request_head_timeout_s: float = Field(
        default=10.0, gt=0, le=3600,
        description="a connection that has not sent a whole request head (line and headers) "
                    "within this is closed; also how long an idle keep-alive connection stays")
    body_timeout_s: float = Field(
        default=30.0, gt=0, le=3600,
        description="a webhook body not received whole within this is refused (408)")
    task_restart_delay_s: float = Field(
        default=1.0, gt=0, le=60,
        description="a crashed background loop (outbox, investigations, watch) is restarted "
                    "after this; the delay doubles with each crash in a row")
    task_restart_delay_max_s: float = Field(
        default=30.0, gt=0, le=3600, description="the most a restart delay grows to")

    @model_validator(mode="after")
    def _restart_delays_ordered(self) -> ServerSettings:
        if self.task_restart_delay_s > self.task_restart_delay_max_s:
            raise ValueError("task_restart_delay_s must not exceed task_restart_delay_max_s")
        return self


class StoreSettings(SecretSection):
    secret_fields = ("postgres_dsn",)

    backend: Literal["sqlite", "postgres"] = "sqlite"
    sqlite_path: Path = Path("var/aislot-responder.db")
    postgres_dsn: DsnSecret | None = None
    batch_max: int = Field(default=256, ge=1, description="notifications per group commit")
    timeout_s: float = Field(default=5.0, gt=0, description="one store operation's deadline")
    sqlite_busy_timeout_ms: int = Field(
        default=5000, ge=0, le=600_000,
        description="sqlite: milliseconds a connection waits for a lock before it fails")
    postgres_pool_size: int = Field(default=10, ge=1, le=200,
                                    description="postgres: most connections in the pool")
    claim_lease_s: float = Field(
        default=120.0, ge=10, le=3600,
        description="a claimed delivery another worker or replica may take after this; "
                    "longer than one send (outbox.inline_deadline_s)")
    postgres_migrate_timeout_s: float = Field(
        default=60.0, gt=0, le=3600,
        description="postgres: deadline for connecting and migrating at start "
                    "(at least timeout_s)")

    @model_validator(mode="after")
    def _dsn_for_postgres(self) -> StoreSettings:
        if self.backend == "postgres" and self.postgres_dsn is None:
            raise ValueError("postgres_dsn is required when backend is postgres")
        return self


class OutboxSettings(Section):
    """How often the outbox worker looks, how hard it retries inline, how it backs off between
    (``service.notify.outbox``; per-sink attempts and timeouts are in ``sinks``)."""

    poll_interval_s: float = Field(default=5.0, gt=0, le=3600,
                                   description="the worker looks this often when not woken")
    batch: int = Field(default=50, ge=1, le=10_000, description="deliveries claimed per drain")
    inline_attempts: int = Field(default=3, ge=1, le=20,
                                 description="tries of one send before it is rescheduled")
    inline_deadline_s: float = Field(default=5.0, gt=0, le=300,
                                     description="time for one send's inline tries")
    inline_initial_s: float = Field(default=0.1, gt=0, le=60,
                                    description="first wait between inline tries")
    inline_max_wait_s: float = Field(
        default=1.0, gt=0, le=60,
        description="longest wait between inline tries; a longer Retry-After reschedules")
    backoff_initial_s: float = Field(default=10.0, gt=0, le=3600,
                                     description="first wait before a sink is retried")
    backoff_max_s: float = Field(default=900.0, gt=0, le=86_400,
                                 description="longest wait before a sink is retried")
    retry_after_max_s: float = Field(default=3600.0, gt=0, le=86_400,
                                     description="a server's Retry-After is capped at this")

    @model_validator(mode="after")
    def _waits_ordered(self) -> OutboxSettings:
        if not self.inline_initial_s <= self.inline_max_wait_s <= self.inline_deadline_s:
            raise ValueError("need inline_initial_s <= inline_max_wait_s <= inline_deadline_s")
        if self.backoff_initial_s > self.backoff_max_s:
            raise ValueError("backoff_initial_s must not exceed backoff_max_s")
        return self


class LoggingSettings(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class RuntimeSettings(Section):
    """Time: 1.0 is the wall clock; the demo and end-to-end tests compress it."""

    time_scale: float = Field(
        default=1.0, gt=0,
        description="simulated seconds per real second (the demo compresses time with it)")
    time_origin: datetime | None = Field(
        default=None, description="the time at time_anchor (default: the wall clock)")
    time_anchor: float | None = Field(
        default=None, description="wall-clock unix seconds at which time_origin held")
