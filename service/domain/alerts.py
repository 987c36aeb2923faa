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

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, field_validator

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


Text = Annotated[str, AfterValidator(_no_surrogates)]
Labels = dict[Text, Text]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, str_strip_whitespace=False)


class Alert(_Payload):
    """One alert of a notification group, with its own status."""

    status: Literal["firing", "resolved"]
    labels: Labels
    annotations: Labels = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
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
    # Strict: JSON ``false`` or ``1.0`` is not a count.
    truncatedAlerts: StrictInt = Field(default=0, ge=0, le=MAX_COUNT)
    status: Literal["firing", "resolved"]
    receiver: Text
    groupLabels: Labels = Field(default_factory=dict)
    commonLabels: Labels = Field(default_factory=dict)
    commonAnnotations: Labels = Field(default_factory=dict)
    externalURL: Text = ""
    alerts: list[Alert] = Field(min_length=1, max_length=10000)
