"""The configured sinks: built from ``settings.sinks`` and routed by event and audience.

Purpose: the one place that maps a sink's settings model (one member of the ``SinkSettings``
union, validated at load) to its class, and decides which sinks hear which event
(``events``) and which audience (``audience``: a sink for the owner gets owner and all-hands
messages, not the on-call's). Boundary: construction and routing only; sending belongs to
the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TextIO, assert_never

from pydantic import SecretStr

from service.config.sinks import (
    ConsoleSinkSettings,
    GithubSinkSettings,
    PagerDutySinkSettings,
    SinkSection,
    SinkSettings,
    SlackSinkSettings,
    TelegramSinkSettings,
    WebhookSinkSettings,
)
from service.domain.messages import Audience, EventName
from service.notify.sinks.base import Sink
from service.notify.sinks.console import ConsoleSink
from service.notify.sinks.github import GithubSink
from service.notify.sinks.pagerduty import PagerDutySink
from service.notify.sinks.slack import SlackSink
from service.notify.sinks.telegram import TelegramSink
from service.notify.sinks.transport import Http
from service.notify.sinks.webhook import WebhookSink


def build_sink(name: str, settings: SinkSettings, http: Http, *,
               console: TextIO | None = None) -> Sink:
    """The sink its settings' type names, given those settings as they are; all share ``http``."""
    match settings:
        case WebhookSinkSettings():
            return WebhookSink(name, settings, http)
        case SlackSinkSettings():
            return SlackSink(name, settings, http)
        case TelegramSinkSettings():
            return TelegramSink(name, settings, http)
        case GithubSinkSettings():
            return GithubSink(name, settings, http)
        case PagerDutySinkSettings():
            return PagerDutySink(name, settings, http)
        case ConsoleSinkSettings():
            return ConsoleSink(name, console)
        case _:
            assert_never(settings)


def hears(settings: SinkSection, event: EventName, audience: Audience) -> bool:
    """Whether a sink so configured gets a message of ``event`` for ``audience``."""
    if event not in settings.events:
        return False
    return "all" in (settings.audience, audience) or settings.audience == audience


class SinkRegistry:
    """Sinks by name, with their settings, and the routing rule."""

    def __init__(self, sinks: Mapping[str, Sink], settings: Mapping[str, SinkSection]) -> None:
        self._sinks = dict(sinks)
        self._settings = dict(settings)

    @classmethod
    def from_settings(cls, settings: Mapping[str, SinkSettings], http: Http, *,
                      console: TextIO | None = None) -> SinkRegistry:
        sinks = {name: build_sink(name, s, http, console=console)
                 for name, s in settings.items()}
        return cls(sinks, settings)

    @property
    def names(self) -> list[str]:
        return list(self._sinks)

    def sinks_for(self, event: EventName, audience: Audience = "all") -> list[str]:
        """Names of the sinks that get ``event`` (in configuration order)."""
        return [name for name, s in self._settings.items()
                if name in self._sinks and hears(s, event, audience)]

    def get(self, name: str) -> Sink | None:
        return self._sinks.get(name)

    def audience(self, name: str) -> Audience:
        """Who reads sink ``name`` ("all" when unknown: the widest, so the least trusted)."""
        settings = self._settings.get(name)
        return settings.audience if settings else "all"

    def max_attempts(self, name: str, default: int = 12) -> int:
        settings = self._settings.get(name)
        return settings.max_attempts if settings else default

    def secrets(self) -> list[str]:
        """Every secret of the sinks (tokens, a Slack URL), to scrub from error texts."""
        return [value.get_secret_value() for s in self._settings.values()
                for value in dict(s).values() if isinstance(value, SecretStr)]
