"""Alertmanager's webhook payload, version 4, as typed data.

Field names and meaning follow Alertmanager's ``notify/webhook`` package; every field of the
payload is kept, so nothing Alertmanager told us is lost. Parsing is strict about types and
lenient about extra keys (a newer Alertmanager may add some).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    WithJsonSchema,
    field_validator,
)

# Alertmanager marks "no end time" with Go's zero time.
GO_ZERO_TIME_YEAR = 1
# The stores keep counts in a 32-bit INTEGER column (PostgreSQL's INTEGER): a larger number is
# the client's mistake (400), not an overflow in the store (500, retried by Alertmanager forever).
MAX_COUNT = 2**31 - 1


_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


def _no_surrogates(value: str) -> str:
    # JSON may escape NUL or lone surrogates ("\\u0000", "\\ud800"): not label text, and
    # neither PostgreSQL text nor every log sink can hold them, so they are a client error.
    if _NOT_TEXT.search(value):
        raise ValueError("string contains NUL or a lone UTF-16 surrogate")
    return value


def _json_integer(value: object) -> object:
    # JSON Schema's integer: a number without a fraction (3 and 3.0 alike); never a boolean
    # or a string, which pydantic's lax mode would turn into one.
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**63:
        return int(value)
    return value


Count = Annotated[StrictInt, BeforeValidator(_json_integer)]
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)")


def _rfc3339(value: object) -> object:
    # The schema's date-time: RFC 3339 text with its offset. pydantic alone would also take
    # a number or a numeric string as Unix time, which no Alertmanager sends.
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time with a time zone, "
                         "e.g. 2026-02-26T10:00:00Z")
    return value


Timestamp = Annotated[datetime, BeforeValidator(_rfc3339)]
# What the schema says of text, so a client (and a schema-driven fuzzer) knows NUL is refused.
# Lone surrogates are refused too; a JSON Schema pattern cannot name them portably.
NO_NUL = "^[^\\x00]*$"
Text = Annotated[str, AfterValidator(_no_surrogates),
                 Field(json_schema_extra={"pattern": NO_NUL})]
Labels = Annotated[dict[Text, Text], WithJsonSchema({
    "type": "object", "propertyNames": {"pattern": NO_NUL},
    "additionalProperties": {"type": "string", "pattern": NO_NUL}})]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, str_strip_whitespace=False)


class Alert(_Payload):
    """One alert of a notification group, with its own status."""

    status: Literal["firing", "resolved"]
    labels: Labels
    annotations: Labels = Field(default_factory=dict)
    startsAt: Timestamp
    endsAt: Timestamp | None = None
    generatorURL: Text = ""
    fingerprint: Text = Field(min_length=1, max_length=128)

    @field_validator("startsAt", "endsAt")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamp must carry a time zone (RFC 3339)")
        return value

    @property
    def ends(self) -> datetime | None:
        """``endsAt`` with Go's zero time read as 'not ended'."""
        if self.endsAt is None or self.endsAt.year <= GO_ZERO_TIME_YEAR:
            return None
        return self.endsAt

    def delivery_key(self, group_key: str) -> str:
        """What makes a redelivery a duplicate: group key, fingerprint, startsAt, status."""
        raw = "\x1f".join((group_key, self.fingerprint, self.startsAt.isoformat(), self.status))
        return hashlib.sha256(raw.encode()).hexdigest()


class Notification(_Payload):
    """The body Alertmanager POSTs to a webhook receiver."""

    version: Literal["4"]
    groupKey: Text = Field(min_length=1, max_length=4096)
    truncatedAlerts: Count = Field(default=0, ge=0, le=MAX_COUNT)
    status: Literal["firing", "resolved"]
    receiver: Text
    groupLabels: Labels = Field(default_factory=dict)
    commonLabels: Labels = Field(default_factory=dict)
    commonAnnotations: Labels = Field(default_factory=dict)
    externalURL: Text = ""
    alerts: list[Alert] = Field(min_length=1, max_length=10000)
