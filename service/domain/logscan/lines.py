"""Field extraction from one log line: slog JSON or plain text, optional kubelet timestamp.

Purpose: timestamp, level, run id, job name and message body of a line that matched.
Boundary: pure parsing of one str; called only for matching lines (JSON is parsed nowhere else).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

_KUBELET_TS = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)) ")
_TEXT_TIME = re.compile(r"\btime\\?\"?[=:]\\?\"?(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d[^\"\\\s]*)")
_TEXT_LEVEL = re.compile(r"\blevel\\?\"?[=:]\\?\"?([A-Za-z]+)")
_TEXT_RUN = re.compile(r"\brun[_-]?id\\?\"?\s*[=:]\s*\\?\"?([A-Za-z0-9][A-Za-z0-9._:-]*)", re.I)
# Kubernetes job names; a hyphen is required so prose such as "job: failed" is not a name.
_TEXT_JOB = re.compile(
    r"\bjob(?:[_-]?name)?\\?\"?\s*[=:]\s*\\?\"?([a-z0-9][a-z0-9.]*-[a-z0-9.-]*)"
    r"|\bjob(?:s|s\.batch)?/([a-z0-9][a-z0-9.-]*)"
)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        return None
    # Naive times (logrus without zone) are taken as UTC so they compare with aware ones.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(slots=True)
class LineFields:
    timestamp: datetime | None
    level: str | None
    run_id: str | None
    job: str | None
    body: str


def _str_field(obj: dict[str, object], *names: str) -> str | None:
    for name in names:
        value = obj.get(name)
        if isinstance(value, str | int) and str(value):
            return str(value)
    return None


def parse_line(text: str) -> LineFields:
    """Timestamp, level, run id, job and message body of a slog JSON or plain text line."""
    timestamp, rest = None, text
    if prefix := _KUBELET_TS.match(text):  # `timestamps=true` prefix added by the kubelet
        timestamp, rest = _parse_time(prefix.group(1)), text[prefix.end() :]
    fields = LineFields(timestamp, None, None, None, rest)
    if rest.startswith("{"):
        try:
            obj = json.loads(rest)
        except ValueError:  # cut at max_line_bytes, or not JSON after all
            obj = None
        if isinstance(obj, dict):
            fields.timestamp = _parse_time(obj.get("time")) or timestamp
            fields.level = _str_field(obj, "level")
            fields.run_id = _str_field(obj, "run_id", "runId", "run")
            fields.job = _str_field(obj, "job", "job_name", "jobName")
            msg = obj.get("msg")
            fields.body = msg if isinstance(msg, str) else rest
    # Plain text, or JSON whose msg relays job output: take the rest from the text itself.
    if fields.timestamp is None and (m := _TEXT_TIME.search(rest)):
        fields.timestamp = _parse_time(m.group(1))
    if fields.level is None and (m := _TEXT_LEVEL.search(rest)):
        fields.level = m.group(1)
    if fields.run_id is None and (m := _TEXT_RUN.search(fields.body)):
        fields.run_id = m.group(1)
    if fields.job is None and (m := _TEXT_JOB.search(fields.body)):
        fields.job = m.group(1) or m.group(2)
    return fields
