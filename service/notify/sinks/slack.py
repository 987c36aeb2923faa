"""The Slack sink: an incoming webhook with Block Kit blocks and a ``text`` fallback.

Slack's limits are kept: at most 50 blocks, a header of 150 characters, 3000 per section text,
10 fields of 2000. Sections go by priority and the least important are dropped first, within
a total budget that keeps the message readable. ``text`` carries the whole message as mrkdwn:
Slack shows it in notifications, Mattermost (which ignores blocks) shows it as the post.
Slack answers ``ok`` or an error word (``invalid_payload``, ``no_text``...) with a 4xx.
"""

from __future__ import annotations

from typing import Any

from service.config.sinks import SlackSinkSettings
from service.domain.messages import Delivery, Message
from service.notify.sinks import transport
from service.notify.sinks.render import by_priority, escape, link, render, render_section, shorten

MAX_BLOCKS = 50
HEADER_CHARS = 150
SECTION_CHARS = 3000
FIELD_CHARS = 2000
MAX_FIELDS = 10
BLOCKS_BUDGET = 12000
TEXT_LIMIT = 4000

Block = dict[str, Any]


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def blocks_of(message: Message) -> list[Block]:
    """Block Kit blocks for ``message`` within Slack's limits."""
    blocks: list[Block] = [
        {"type": "header",
         "text": {"type": "plain_text", "text": shorten(message.title, HEADER_CHARS),
                  "emoji": False}},
        {"type": "section",
         "text": _mrkdwn(escape(shorten(message.summary, SECTION_CHARS - 10), "slack"))},
    ]
    fields = [_mrkdwn(shorten(f"*{escape(f.name, 'slack')}*\n{escape(f.value, 'slack')}",
                              FIELD_CHARS))
              for f in message.facts[:MAX_FIELDS]]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    footer: Block = {"type": "context", "elements": [
        _mrkdwn(link(message.incident_url, "Open the incident", "slack"))]}
    if message.related_issue:
        footer["elements"].append(_mrkdwn(escape(f"Related issue #{message.related_issue}",
                                                 "slack")))
    budget = BLOCKS_BUDGET - sum(len(str(b)) for b in blocks) - len(str(footer))
    left_out = 0
    for section in by_priority(message.sections):
        if len(blocks) >= MAX_BLOCKS - 2:  # room for the note and the footer
            left_out += 1
            continue
        text = render_section(section, "slack", limit=min(SECTION_CHARS, budget))
        if text is None:
            left_out += 1
            continue
        blocks.append({"type": "section", "text": _mrkdwn(text)})
        budget -= len(text) + 40
    if left_out:
        note = f"{left_out} section(s) left out: the full evidence is on the incident page"
        blocks.append({"type": "context", "elements": [_mrkdwn(escape(note, "slack"))]})
    blocks.append(footer)
    return blocks


def payload_of(message: Message) -> dict[str, Any]:
    """The incoming-webhook body: ``text`` (fallback, Mattermost) and ``blocks``."""
    return {"text": render(message, limit=TEXT_LIMIT, style="slack"),
            "blocks": blocks_of(message)}


class SlackSink:
    """POSTs to a Slack (or Mattermost) incoming webhook URL; the URL is the secret."""

    type = "slack"

    def __init__(self, name: str, settings: SlackSinkSettings, http: transport.Http) -> None:
        self.name = name
        self._url = settings.url
        self._timeout = settings.timeout_s
        self._http = http

    async def send(self, delivery: Delivery) -> None:
        what = f"slack sink {self.name}"
        reply = await transport.request(self._http, "POST", self._url.get_secret_value(),
                                        what=what,
                                        timeout_s=self._timeout,
                                        json_body=payload_of(delivery.message))
        if not reply.ok:
            raise transport.failure(reply, what)
