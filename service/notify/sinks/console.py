"""The console sink: prints the rendered message to stdout (the demo's stand-in for a chat)."""

from __future__ import annotations

import sys
from typing import TextIO

from service.domain.messages import Delivery
from service.notify.sinks.render import render

TEXT_LIMIT = 4000


class ConsoleSink:
    """Writes each message as plain text, framed, to a stream (stdout by default)."""

    type = "console"

    def __init__(self, name: str, stream: TextIO | None = None) -> None:
        self.name = name
        self._stream = stream

    def framed(self, delivery: Delivery) -> str:
        """The message as printed: plain text between two rules."""
        text = render(delivery.message, limit=TEXT_LIMIT)
        rule = "=" * 72
        return f"{rule}\n[{self.name}] {delivery.event} {delivery.incident_id}\n{text}\n{rule}\n"

    async def send(self, delivery: Delivery) -> None:
        stream = self._stream or sys.stdout
        stream.write(self.framed(delivery))
        stream.flush()
