"""What the responder tells people: one ``Message`` per incident event, rendered by every sink.

A message is composed once (from the incident and its evidence), stored in the outbox, and
rendered by each sink within its own limits: sections carry a priority so a small medium
(Telegram's 4096 characters, a phone screen) drops the least important parts first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

EventName = Literal["opened", "evidence", "mitigated", "escalated", "resolved"]
Audience = Literal["oncall", "owner", "all"]
Severity = Literal["info", "warning", "critical"]


class Fact(BaseModel):
    name: str
    value: str


class MessageSection(BaseModel):
    """A titled block; lower ``priority`` is more important and kept longer."""

    title: str
    lines: list[str] = Field(default_factory=list)
    priority: int = 5
    code: bool = Field(default=False, description="log excerpts: render monospaced")


class Message(BaseModel):
    """One notification about one incident event."""

    incident_id: str
    event: EventName
    key: str = Field(description="unique per incident: enqueuing the same key twice is a no-op")
    severity: Severity = "warning"
    audience: Audience = "all"
    title: str
    summary: str
    incident_url: str
    related_issue: str | None = None
    facts: list[Fact] = Field(default_factory=list)
    sections: list[MessageSection] = Field(default_factory=list)
    created_at: datetime


DeliveryStatus = Literal["pending", "sending", "delivered", "failed"]


class Delivery(BaseModel):
    """One message to one sink, as the outbox holds it."""

    id: int
    incident_id: str
    sink: str
    key: str
    event: EventName
    status: DeliveryStatus
    attempts: int = 0
    next_attempt_at: datetime
    last_error: str | None = None
    created_at: datetime
    delivered_at: datetime | None = None
    message: Message
