"""Streaming log scanner: finds signature lines in a log without holding the log in memory.

Purpose: the runbook's `kubectl logs ... | grep -E <patterns>` as a typed, bounded computation.
A log arrives as a stream of byte chunks; the scanner keeps one chunk plus at most one partial
line (capped at `max_line_bytes`; the rest of a longer line is skipped) and a bounded summary per
signature: counts, first/last seen, distinct occurrences, run ids, and the first and last few
redacted excerpts. Both Go slog JSON lines and plain text (kaniko) lines are understood, with or
without the kubelet's RFC 3339 prefix (`timestamps=true`).
Boundary: pure computation over bytes/str; no aiohttp, no Kubernetes client. Collectors own the
HTTP stream; signatures come from config (`service.domain.signatures`); excerpts go through
`service.domain.redaction`.

Hot path: candidate lines are found on the raw bytes of a whole chunk (`bytes.find` for literal
patterns, one combined regex for the others), so a line that matches nothing costs no Python
code. Literal context patterns dense in a chunk (`kaniko` can be on every line) are tallied in
bulk (`tally`: one `findall` counts their lines, the few kept ones are found by `bytes.find`);
only the other candidate lines are decoded and classified one by one, only defining lines are parsed
(JSON, fields), and excerpts are redacted once, when the result is built, for the few that are
kept. Emitting scans (`LogScanner.matches`) classify every candidate line one by one.
"""

from service.domain.logscan.lines import LineFields, parse_line
from service.domain.logscan.models import (
    LogMatch,
    Occurrence,
    ScanLimits,
    ScanResult,
    SignatureStats,
)
from service.domain.logscan.scanner import LogScanner, scan_stream
from service.domain.logscan.state import ScanState

__all__ = [
    "LineFields",
    "LogMatch",
    "LogScanner",
    "Occurrence",
    "ScanLimits",
    "ScanResult",
    "ScanState",
    "SignatureStats",
    "parse_line",
    "scan_stream",
]
