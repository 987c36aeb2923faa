"""Signed, expiring, per-incident grants: what a message's incident link carries.

Purpose: on-call opens an incident's page from Slack or Telegram without a token. The link
holds ``?grant=<scope>.<time>.<signature>``: an HMAC-SHA256 (itsdangerous' ``TimestampSigner``,
compared in constant time) over the scope and the signing time, keyed with the link key and
salted with the incident id, so a grant opens that one incident and nothing else, and only
until ``link_ttl_s`` after it was minted. Scopes: ``read`` (the page and its JSON) and
``owner`` (also approve, from the page). Boundary: pure signing over an injected clock; no
HTTP (``service.api.access`` reads grants off requests), no logging of keys or grants.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from pydantic import SecretStr

from service.domain.messages import Audience, Message
from service.runtime.clock import Clock

Scope = Literal["read", "owner"]
SCOPES: tuple[Scope, ...] = ("read", "owner")
GRANT_PARAM = "grant"
_SALT = "aislot-incident-grant:"


@dataclass(frozen=True)
class Verdict:
    """A grant checked: its scope when valid, else why not (``expired`` or ``invalid``)."""

    scope: Scope | None
    problem: Literal["expired", "invalid"] | None = None


class _ClockSigner(TimestampSigner):
    """``TimestampSigner`` reading the injected clock instead of ``time.time()``."""

    def __init__(self, key: bytes, salt: str, clock: Clock) -> None:
        super().__init__(key, salt=salt, digest_method=hashlib.sha256)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock.now().timestamp())


class GrantSigner:
    """Mints and checks incident grants with one key and one lifetime."""

    def __init__(self, key: SecretStr, *, ttl_s: float, clock: Clock) -> None:
        self._key = key
        self._ttl_s = int(ttl_s)
        self._clock = clock

    @property
    def ttl_s(self) -> int:
        return self._ttl_s

    def _signer(self, incident_id: str) -> _ClockSigner:
        # The incident id is the salt: a grant for one incident is no grant for another.
        return _ClockSigner(self._key.get_secret_value().encode(), _SALT + incident_id,
                            self._clock)

    def mint(self, incident_id: str, scope: Scope) -> str:
        """A grant of ``scope`` on ``incident_id``, valid for the configured lifetime."""
        return self._signer(incident_id).sign(scope).decode("ascii")

    def verify(self, grant: str, incident_id: str) -> Verdict:
        """The grant's scope on ``incident_id``; a wrong, altered or expired one has none."""
        try:
            raw = self._signer(incident_id).unsign(grant, max_age=self._ttl_s)
        except SignatureExpired:
            return Verdict(None, "expired")
        except (BadSignature, ValueError, UnicodeError):
            return Verdict(None, "invalid")
        scope = raw.decode("ascii", "replace")
        if scope not in SCOPES:
            return Verdict(None, "invalid")
        return Verdict(scope)

    def link(self, url: str, incident_id: str, scope: Scope) -> str:
        """``url`` with a fresh grant for ``incident_id`` as its query."""
        sep = "&" if "?" in url else "?"
        return f"{url}{sep}{urlencode({GRANT_PARAM: self.mint(incident_id, scope)})}"

    def for_message(self, message: Message, sink_audience: Audience) -> Message:
        """``message`` whose incident link carries a grant: ``owner`` for a message to the
        Owner (the approval request: approve from the page) sent to a sink only the Owner
        reads, ``read`` for the others (a shared channel or issue never gets an owner grant)."""
        owner = message.audience == "owner" and sink_audience == "owner"
        scope: Scope = "owner" if owner else "read"
        url = self.link(message.incident_url, message.incident_id, scope)
        return message.model_copy(update={"incident_url": url})
