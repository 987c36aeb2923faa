"""What the live view cannot read, since when, and why: the input of the "blind" rule.

Purpose: each part of the namespace (jobs, pods, deployments, control-plane logs, job logs, the
kill switch) is either fine or has a ``Gap``: the first moment it could not be read, the class of
the last failure (forbidden with the RBAC grant, timeout, unreachable, error) and its redacted
text. A part that reads again is cleared. Boundary: bookkeeping only; no I/O.
"""

from __future__ import annotations

from datetime import datetime

from service.cluster.errors import KubeForbidden, KubeRetryable, KubeStreamBroken, KubeTimeout
from service.domain.facts import Gap, GapPart, GapStatus
from service.domain.redaction import Redactor

_REDACTOR = Redactor()
_DETAIL_CHARS = 300


def classify(exc: BaseException) -> tuple[GapStatus, str | None]:
    """The gap's status and RBAC hint for a failure, as the collectors class them."""
    if isinstance(exc, KubeForbidden):
        return "forbidden", exc.hint
    if isinstance(exc, KubeTimeout | TimeoutError) or (
            isinstance(exc, KubeStreamBroken) and isinstance(exc.__cause__, TimeoutError)):
        return "timeout", None
    if isinstance(exc, KubeRetryable) and exc.status is None:
        return "unreachable", None  # no HTTP answer at all: connection refused, reset, DNS
    return "error", None


class GapBook:
    """The open gaps, one per part at most."""

    def __init__(self) -> None:
        self._open: dict[GapPart, Gap] = {}

    def fail(self, part: GapPart, exc: BaseException, when: datetime) -> bool:
        """Record a failure; the gap keeps its first ``since``. True when the gap is new or its
        class changed (worth a change signal)."""
        status, hint = classify(exc)
        detail = _REDACTOR.redact(str(exc) or type(exc).__name__)[:_DETAIL_CHARS]
        known = self._open.get(part)
        since = known.since if known is not None else when
        self._open[part] = Gap(part=part, since=since, status=status, detail=detail, hint=hint)
        return known is None or known.status != status or known.hint != hint

    def clear(self, part: GapPart) -> bool:
        """The part reads again; True when it had a gap."""
        return self._open.pop(part, None) is not None

    def has(self, part: GapPart) -> bool:
        return part in self._open

    def gaps(self) -> list[Gap]:
        return sorted(self._open.values(), key=lambda g: (g.since, g.part))
