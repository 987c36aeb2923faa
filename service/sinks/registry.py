"""The configured sinks: built from ``settings.sinks`` and routed by event and audience.

Purpose: the one place that maps a sink type to its class and decides which sinks hear which
event (``SinkSettings.events``) and which audience (``SinkSettings.audience``: a sink for the
owner gets owner and all-hands messages, not the on-call's). Boundary: construction and
routing only; sending belongs to the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TextIO

import aiohttp

from service.domain.messages import Audience, EventName
from service.settings import SinkSettings
from service.sinks.base import Sink
from service.sinks.console import ConsoleSink
from service.sinks.github import GithubSink
from service.sinks.pagerduty import PagerDutySink
from service.sinks.slack import SlackSink
from service.sinks.telegram import TelegramSink
from service.sinks.webhook import WebhookSink


def build_sink(name: str, settings: SinkSettings, session: aiohttp.ClientSession, *,
               console: TextIO | None = None) -> Sink:
    """One sink of ``settings.type``; they all share ``session``."""
    match settings.type:
        case "webhook":
            return WebhookSink(name, settings, session)
        case "slack":
            return SlackSink(name, settings, session)
        case "telegram":
            return TelegramSink(name, settings, session)
        case "github":
            return GithubSink(name, settings, session)
        case "pagerduty":
            return PagerDutySink(name, settings, session)
        case "console":
            return ConsoleSink(name, console)
    raise ValueError(f"sink {name}: unknown type {settings.type!r}")


def hears(settings: SinkSettings, event: EventName, audience: Audience) -> bool:
    """Whether a sink so configured gets a message of ``event`` for ``audience``."""
    if event not in settings.events:
        return False
    return "all" in (settings.audience, audience) or settings.audience == audience


class SinkRegistry:
    """Sinks by name, with their settings, and the routing rule."""

    def __init__(self, sinks: Mapping[str, Sink], settings: Mapping[str, SinkSettings]) -> None:
        self._sinks = dict(sinks)
        self._settings = dict(settings)

    @classmethod
    def from_settings(cls, settings: Mapping[str, SinkSettings], session: aiohttp.ClientSession,
                      *, console: TextIO | None = None) -> SinkRegistry:
        sinks = {name: build_sink(name, s, session, console=console)
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
        """Every token and secret-bearing URL of the sinks, to scrub from error texts."""
        found = []
        for s in self._settings.values():
            if s.token is not None:
                found.append(s.token.get_secret_value())
            if s.url and s.type == "slack":
                found.append(s.url)
        return found
