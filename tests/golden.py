"""Golden files of the responder's messages: each message as each sink type shows it.

Purpose: a reviewer reads every message as on-call will see it (Slack blocks and text,
Telegram HTML, a GitHub comment, a PagerDuty event, the webhook's text, the console) in
``tests/golden/<scenario>/``, and a change to any message shows up as a diff of these files.
``UPDATE_GOLDEN=1`` rewrites them instead of comparing.
Boundary: rendering goes through each sink's own payload function (what it sends), nothing
re-implemented here; only the incident id's random suffix is normalised.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from service.domain.messages import Delivery, Message
from service.notify.sinks import github, pagerduty, slack, telegram, webhook
from service.notify.sinks.console import ConsoleSink

GOLDEN = Path(__file__).parent / "golden"
SINK_TYPES = ("slack", "telegram", "github", "pagerduty", "webhook", "console")
_INCIDENT = re.compile(r"\binc-(\d{8}-\d{6})-[0-9a-f]{6}\b")
_ELAPSED = re.compile(r"collected in \d+\.\ds")
# A link's query (a signed read grant, say) differs per key and run: shown as a placeholder.
_LINK_QUERY = re.compile(r"(/incidents/inc-\d{8}-\d{6}-0{6}(?:/[a-z]+)?)\?[^\s\"'<>)|]+")


def normalise(text: str) -> str:
    """The random part of incident ids made stable, a link's query (a grant) replaced, and
    the investigation's real (wall-clock) duration; the rest is the simulator's, on its manual
    clock and seeded."""
    text = _INCIDENT.sub(r"inc-\1-000000", text)
    return _ELAPSED.sub("collected in 0.0s", _LINK_QUERY.sub(r"\1?<query>", text))


def _delivery(message: Message, sink: str) -> Delivery:
    return Delivery(id=1, incident_id=message.incident_id, sink=sink, key=message.key,
                    event=message.event, status="sending", attempts=1,
                    next_attempt_at=message.created_at, created_at=message.created_at,
                    message=message)


def _block_text(block: dict[str, Any]) -> str:
    kind = block["type"]
    if kind == "header":
        return f"[header] {block['text']['text']}"
    if kind == "context":
        return "[context] " + " | ".join(e["text"] for e in block["elements"])
    if "fields" in block:
        return "[fields]\n" + "\n".join(f["text"] for f in block["fields"])
    return str(block["text"]["text"])


def as_slack(message: Message) -> str:
    body = slack.payload_of(message)
    blocks = "\n\n".join(_block_text(b) for b in body["blocks"])
    return (f"--- blocks ({len(body['blocks'])}): what Slack shows ---\n{blocks}\n\n"
            f"--- text: the notification, and the post in Mattermost ---\n{body['text']}")


def as_telegram(message: Message) -> str:
    body = telegram.payload_of(message, "-100000")
    return f"--- sendMessage text (parse_mode {body.get('parse_mode')}) ---\n{body['text']}"


def as_github(message: Message) -> str:
    return github.body_of(message)


def as_pagerduty(message: Message) -> str:
    body = pagerduty.payload_of(message, "routing-key")
    payload = body.get("payload", {})
    details = dict(payload.get("custom_details", {}))
    evidence = details.pop("evidence", None)
    shown = {**body, "payload": {**payload, "custom_details": details}} if payload else body
    text = json.dumps(shown, indent=2, ensure_ascii=False)
    if evidence is not None:
        text += f"\n--- custom_details.evidence ---\n{evidence}"
    return text


def as_webhook(message: Message) -> str:
    return webhook.text_of(message)


def as_console(message: Message) -> str:
    return ConsoleSink("console").framed(_delivery(message, "console"))


RENDERERS: dict[str, Callable[[Message], str]] = {
    "slack": as_slack, "telegram": as_telegram, "github": as_github,
    "pagerduty": as_pagerduty, "webhook": as_webhook, "console": as_console,
}


def files_of(messages: list[Message]) -> dict[str, str]:
    """``NN-<key>.<sink>.txt`` -> the rendered message, for every message and sink type."""
    out = {}
    for number, message in enumerate(messages, 1):
        for sink in SINK_TYPES:
            name = f"{number:02d}-{message.key}.{sink}.txt"
            out[name] = normalise(RENDERERS[sink](message)).rstrip("\n") + "\n"
    return out


def check(scenario: str, messages: list[Message]) -> None:
    """Compare with (or, with ``UPDATE_GOLDEN=1``, write) ``tests/golden/<scenario>/``."""
    directory = GOLDEN / scenario
    files = files_of(messages)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.txt"):
            if stale.name not in files:
                stale.unlink()
        for name, text in files.items():
            (directory / name).write_text(text, encoding="utf-8")
        return
    have = sorted(p.name for p in directory.glob("*.txt")) if directory.is_dir() else []
    assert have == sorted(files), (
        f"{directory}: files differ from the messages produced (UPDATE_GOLDEN=1 to rewrite): "
        f"missing {sorted(set(files) - set(have))}, extra {sorted(set(have) - set(files))}")
    for name, text in files.items():
        want = (directory / name).read_text(encoding="utf-8")
        if want != text:
            diff = "".join(difflib.unified_diff(want.splitlines(True), text.splitlines(True),
                                                f"golden/{scenario}/{name}", "produced"))
            raise AssertionError(f"message differs (UPDATE_GOLDEN=1 to rewrite):\n{diff}")
