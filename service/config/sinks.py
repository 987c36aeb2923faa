"""Settings of the notification sinks: one model per sink type, told apart by ``type``.

Part of the one settings tree (``service.config.settings.Settings.sinks``, a mapping of name to one
of these; ``SinkSettings`` and ``SINK_MODELS`` are re-exported there). Each model holds
exactly the fields its sink uses, the required ones required, so a sink is validated once, at
load, and its class (``service.notify.routing``) takes its own model as it is. Secrets
(tokens) come by env ``AISLOT_SINKS__<NAME>__TOKEN`` or from the file ``..._TOKEN_FILE``
names, never from the config file.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, AnyHttpUrl, Discriminator, Field, SecretStr, TypeAdapter

from service.config.process import SecretSection
from service.domain.messages import Audience, EventName

ALL_EVENTS: tuple[EventName, ...] = get_args(EventName)
_HTTP_URL = TypeAdapter(AnyHttpUrl)


def _http_url(value: str) -> str:
    _HTTP_URL.validate_python(value)  # its error says what is wrong, never quoting the URL
    return value


def _secret_http_url(value: SecretStr) -> SecretStr:
    _http_url(value.get_secret_value())
    return value


# The URL as written (no normalising: a Slack URL is compared and redacted as given).
HttpUrl = Annotated[str, AfterValidator(_http_url)]
SecretHttpUrl = Annotated[SecretStr, AfterValidator(_secret_http_url)]


class SinkSection(SecretSection):
    """What every sink has: which events and audience it hears, how long a send may take and
    how often a delivery is tried before it fails for good."""

    type: str  # each sink's model narrows it to its Literal: the union's tag, first in order
    events: list[EventName] = Field(default_factory=lambda: list(ALL_EVENTS))
    audience: Audience = Field(
        default="all", description="oncall or owner: that reader's messages and all-hands ones")
    timeout_s: float = Field(default=10.0, gt=0, description="one request's deadline")
    max_attempts: int = Field(default=12, ge=1, description="tries of a delivery in all")


class WebhookSinkSettings(SinkSection):
    """A generic JSON webhook (``service.notify.sinks.webhook``)."""

    secret_fields = ("token",)

    type: Literal["webhook"]
    url: HttpUrl
    token: SecretStr | None = Field(default=None, description="sent as Authorization: Bearer")


class SlackSinkSettings(SinkSection):
    """A Slack (or Mattermost) incoming webhook; its URL is the secret, so it is kept as one
    (never shown) and may come by env ``AISLOT_SINKS__<NAME>__URL``."""

    type: Literal["slack"]
    url: SecretHttpUrl


class TelegramSinkSettings(SinkSection):
    """A Telegram bot posting to one chat through the Bot API."""

    secret_fields = ("token",)

    type: Literal["telegram"]
    token: SecretStr = Field(description="the bot token")
    chat_id: str = Field(min_length=1, description="the chat (or @channel) to post to")
    url: HttpUrl = Field(default="https://api.telegram.org", description="the Bot API server")


class GithubSinkSettings(SinkSection):
    """Comments on a GitHub issue."""

    secret_fields = ("token",)

    type: Literal["github"]
    token: SecretStr = Field(description="a token that may comment on the repository's issues")
    repo: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", description="owner/name")
    issue: str | None = Field(default=None, pattern=r"^#?[0-9]+$",
                              description="the issue to comment on; default the incident's "
                                          "related issue (incidents.related_issue)")
    url: HttpUrl = Field(default="https://api.github.com", description="the REST API")


class PagerDutySinkSettings(SinkSection):
    """PagerDuty Events API v2: one alert per incident."""

    secret_fields = ("token",)

    type: Literal["pagerduty"]
    token: SecretStr = Field(description="the integration's routing key")
    url: HttpUrl = Field(default="https://events.pagerduty.com",
                         description="the Events API server")


class ConsoleSinkSettings(SinkSection):
    """Prints to stdout (the demo's stand-in for a chat)."""

    type: Literal["console"]


SinkSettings = Annotated[
    WebhookSinkSettings | SlackSinkSettings | TelegramSinkSettings | GithubSinkSettings
    | PagerDutySinkSettings | ConsoleSinkSettings,
    Discriminator("type"),
]
SINK_MODELS: dict[str, type[SinkSection]] = {
    get_args(model.model_fields["type"].annotation)[0]: model
    for model in get_args(get_args(SinkSettings)[0])
}
