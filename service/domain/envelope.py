"""What every outgoing message is: built around an incident, bounded and redacted.

Purpose: ``compose_event`` gives every composer (the evidence message, the decision messages)
one way to make a ``Message`` with its incident link; ``scrub`` bounds and redacts a message
once more (the outbox runs it before every send). Boundary: pure functions, no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from service.domain.brevity import head
from service.domain.incidents import Incident
from service.domain.messages import Audience, EventName, Fact, Message, MessageSection, Severity
from service.domain.redaction import redact

# Bounds of any message (``scrub``): lines per section, characters per line, and so on.
MAX_SECTIONS = 30
MAX_SECTION_LINES = 200
MAX_TOTAL_LINES = 400
MAX_LINE_CHARS = 1000
MAX_SUMMARY_CHARS = 2000
MAX_FACTS = 30
# A fact's value fits the smallest medium's line (render.LINE_CHARS) whole: lists are capped
# by whole items to this, so no renderer has to cut a run id.
FACT_CHARS = 240


def incident_link(public_url: str, incident_id: str) -> str:
    """The incident's page on the responder."""
    return f"{public_url.rstrip('/')}/incidents/{incident_id}"


def compose_event(incident: Incident, *, event: EventName, key: str, title: str, summary: str,
                  severity: Severity = "warning", audience: Audience = "all",
                  facts: Sequence[Fact] = (), sections: Sequence[MessageSection] = (),
                  public_url: str, created_at: datetime | None = None) -> Message:
    """One message about ``incident`` (opened, mitigated, escalated, resolved...), redacted.

    ``created_at`` defaults to the incident's last update: this module never reads a clock.
    """
    return scrub(Message(
        incident_id=incident.id, event=event, key=key, severity=severity, audience=audience,
        title=title, summary=summary, incident_url=incident_link(public_url, incident.id),
        related_issue=incident.related_issue, facts=list(facts), sections=list(sections),
        created_at=created_at or incident.updated_at,
    ))


def bounded(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, cut at a space so no token is left half-redacted."""
    return head(text, limit)


def _clean(text: str, limit: int = MAX_LINE_CHARS) -> str:
    return redact(bounded(text, limit))


def scrub_section(section: MessageSection, max_lines: int = MAX_SECTION_LINES) -> MessageSection:
    """The section redacted, within ``max_lines`` lines of ``MAX_LINE_CHARS``.

    A message is for people; the whole evidence stays on the incident page. The bounds also
    bound the cost of redaction, whatever a caller put in.
    """
    lines = [_clean(line) for line in section.lines[:max_lines]]
    if len(section.lines) > max_lines:
        lines.append(f"… {len(section.lines) - max_lines} more line(s) on the incident page")
    return section.model_copy(update={"title": _clean(section.title), "lines": lines})


def scrub(message: Message) -> Message:
    """The whole message redacted once more (the outbox does this before every send).

    At most ``MAX_TOTAL_LINES`` lines in all, the most important sections served first.
    """
    budget = MAX_TOTAL_LINES
    sections = []
    for section in sorted(message.sections[:MAX_SECTIONS], key=lambda s: s.priority):
        scrubbed = scrub_section(section, max(0, min(MAX_SECTION_LINES, budget)))
        budget -= min(len(section.lines), MAX_SECTION_LINES)
        sections.append(scrubbed)
    return message.model_copy(update={
        "title": _clean(message.title), "summary": _clean(message.summary, MAX_SUMMARY_CHARS),
        "facts": [Fact(name=_clean(f.name), value=_clean(f.value))
                  for f in message.facts[:MAX_FACTS]],
        "sections": sections,
    })
