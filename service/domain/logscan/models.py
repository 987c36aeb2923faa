"""Result and limit models of the log scanner.

Purpose: the typed, JSON-serialisable output of a scan (stored in evidence bundles) and its bounds.
Boundary: data only; built by `service.domain.logscan.state`.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ScanLimits(BaseModel):
    """Memory and size bounds of one scan."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_line_bytes: int = Field(default=64 * 1024, ge=64)
    excerpt_chars: int = Field(default=400, ge=40)
    keep_first: int = Field(default=5, ge=0)
    keep_last: int = Field(default=5, ge=0)
    keep_context: int = Field(default=3, ge=0, description="first and last K context lines")
    max_occurrences: int = Field(default=10_000, ge=1)
    max_bytes: int | None = Field(default=None, ge=1, description="stop reading after this")
    collect_context: bool = Field(
        default=True,
        description="also count/keep context lines; off = defining patterns only (faster)",
    )


class LogMatch(BaseModel):
    """One log line that matched a signature pattern (excerpt already redacted)."""

    model_config = ConfigDict(frozen=True)

    source: str
    signature: str
    pattern: str  # the configured pattern that matched (first in config order)
    defining: bool  # False: a context pattern (kaniko, mirror, run_id...), no occurrence
    line_no: int  # 1-based, in the scanned stream
    timestamp: datetime | None = None  # slog `time`, else kubelet prefix, else `time=` in text
    level: str | None = None
    run_id: str | None = None
    job: str | None = None
    excerpt: str  # redacted; for slog, the line of `msg` that matched; <= excerpt_chars (+ …)
    line_truncated: bool = False  # the line was longer than max_line_bytes


class Occurrence(BaseModel):
    """One distinct failed build carrying a signature (identified by job name, else run id)."""

    key: str  # "job:<name>" or "run:<id>"
    job: str | None = None
    run_id: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    lines: int = 0


class SignatureStats(BaseModel):
    """What one scan found for one signature."""

    signature: str
    lines: int = 0  # lines matching a defining pattern
    context_lines: int = 0  # lines matching only context patterns
    occurrences: int = 0  # distinct builds among defining lines (len(occurrence_list))
    unattributed_lines: int = 0  # defining lines with neither job nor run id
    first_seen: datetime | None = None  # over defining lines with a timestamp
    last_seen: datetime | None = None
    run_ids: list[str] = Field(default_factory=list)
    jobs: list[str] = Field(default_factory=list)
    occurrence_list: list[Occurrence] = Field(default_factory=list)  # by first_seen, undated last
    occurrences_capped: bool = False  # more than max_occurrences distinct builds
    excerpts: list[LogMatch] = Field(default_factory=list)  # defining: first K + last K
    context: list[LogMatch] = Field(default_factory=list)  # context: first K + last K
    excerpts_dropped: int = 0  # defining lines not kept as excerpts


class ScanResult(BaseModel):
    """Summary of one log scan; `truncated` says whether anything was left out."""

    source: str
    signatures: dict[str, SignatureStats] = Field(default_factory=dict)
    lines_scanned: int = 0
    bytes_scanned: int = 0
    lines_truncated: int = 0  # over-long lines seen by the scanner (buffered or matching)
    stopped_early: bool = False  # max_bytes reached
    truncated: bool = False  # lines cut, stopped early or occurrences capped

    def stats(self, signature: str) -> SignatureStats:
        """Stats of `signature` (empty stats when it was not scanned for)."""
        return self.signatures.get(signature, SignatureStats(signature=signature))
