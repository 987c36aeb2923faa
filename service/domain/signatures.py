"""Failure signatures: named failure classes and the log patterns that reveal them.

Purpose: describe, as configuration, what the runbook greps for (RB-CK8S-AISLOT-BUILD-0001) and
which alert names of the catalog (ALT-CK8S-AISLOT-BUILD-0001) map to which signature.
Boundary: pure data and validation. No I/O; the log scanner (`service.domain.logscan`) compiles
these patterns, collectors decide which source a log belongs to.

Patterns are Python regular expressions in the `grep -E` spirit, matched case-sensitively against
one log line (for slog JSON: the raw JSON line, so a key name such as `run_id` matches like grep
would). Each source has two lists:

- `defining`: a match means the line carries the signature and counts toward an occurrence;
- `context`: the runbook greps these too (`kaniko`, `mirror`, `build failed`, `run_id`), but on
  their own they are ordinary chatter, so they are kept as context lines only.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Source names used as keys of `SignatureConfig.patterns`. Free-form strings are accepted so a
# deployment can add its own source; these are the ones the runbook names.
SOURCE_CONTROL_PLANE = "control_plane"
SOURCE_WORKER = "worker"
SOURCE_JOBS = "jobs"  # logs of build / mirror job pods (kaniko)
SOURCE_CODEGEN = "codegen"  # logs of the codegen-check job

SIGNATURE_CACHE = "cache"
SIGNATURE_BUILD_REF = "build-ref"


class SourcePatterns(BaseModel):
    """Patterns for one log source of one signature."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    defining: list[str] = Field(default_factory=list)
    context: list[str] = Field(default_factory=list)

    @field_validator("defining", "context")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        # Fail at config load, not in the middle of an incident.
        for pattern in value:
            if not pattern:
                raise ValueError("empty pattern")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regex {pattern!r}: {exc}") from exc
        return value


class SignatureConfig(BaseModel):
    """A named failure class: its patterns per log source and the alerts that announce it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    alertnames: list[str] = Field(default_factory=list)
    patterns: dict[str, SourcePatterns] = Field(default_factory=dict)
    recovered: list[str] = Field(
        default_factory=list,
        description="control-plane log patterns of a build that ended well: where an episode "
        "ends (jobs vanish with their TTL; the control-plane's line stays)")
    cause: str | None = Field(
        default=None, description="a regex whose first group names the cause in a matching "
        "line (the bad build ref): quoted to on-call when there is no automatic fix")

    @field_validator("recovered")
    @classmethod
    def _recovered_compiles(cls, value: list[str]) -> list[str]:
        return SourcePatterns(defining=value).defining

    @field_validator("cause")
    @classmethod
    def _cause_has_a_group(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                groups = re.compile(value).groups
            except re.error as exc:
                raise ValueError(f"invalid regex {value!r}: {exc}") from exc
            if groups < 1:
                raise ValueError(f"{value!r} needs a group naming the cause")
        return value

    def recovery_marker(self) -> SignatureConfig | None:
        """The control-plane scan for this signature's successful jobs, as a signature of
        its own (``<name>:recovered``), or None when none is configured."""
        if not self.recovered:
            return None
        return SignatureConfig(name=recovery_name(self.name), patterns={
            SOURCE_CONTROL_PLANE: SourcePatterns(defining=list(self.recovered))})

    def for_source(self, source: str) -> SourcePatterns:
        """Patterns for `source`; empty when this signature does not look at that source."""
        return self.patterns.get(source, SourcePatterns())


_CACHE_DEFINING = ["MANIFEST_UNKNOWN", "retrieving image from cache"]
# A checkout error is defining; the bare command line or the variable name is context, since
# a healthy codegen-check logs `git checkout --detach <ref>` and its env too.
_BUILD_REF_DEFINING = [
    "unknown switch",
    "is not a commit",
    r"checkout --detach.*(?:fatal|error|failed)",
    r"CODEXK8S_BUILD_REF.*(?:invalid|not a commit|unknown)",
]
_BUILD_REF_CONTEXT = ["checkout --detach", "CODEXK8S_BUILD_REF"]


def recovery_name(signature: str) -> str:
    """The name under which a signature's success lines are counted in a scan."""
    return f"{signature}:recovered"


def default_signatures() -> list[SignatureConfig]:
    """The runbook's signatures (cache, build-ref) with its grep patterns, as config objects."""
    return [
        SignatureConfig(
            name=SIGNATURE_CACHE,
            description="kaniko cache retrieval fails with MANIFEST_UNKNOWN (stale registry cache)",
            alertnames=[
                "AI_SLOT_BUILD_FAILURE_BURST",
                "AI_SLOT_BUILD_MANIFEST_UNKNOWN_PERSISTENT",
            ],
            recovered=["kaniko build job completed"],
            patterns={
                SOURCE_CONTROL_PLANE: SourcePatterns(
                    defining=list(_CACHE_DEFINING), context=["kaniko", "mirror"]
                ),
                SOURCE_WORKER: SourcePatterns(
                    defining=list(_CACHE_DEFINING), context=["build failed", "run_id"]
                ),
                SOURCE_JOBS: SourcePatterns(
                    defining=list(_CACHE_DEFINING), context=["error building image"]
                ),
            },
        ),
        SignatureConfig(
            name=SIGNATURE_BUILD_REF,
            description="codegen-check cannot check out CODEXK8S_BUILD_REF",
            alertnames=["AI_SLOT_CODEGEN_CHECK_BUILD_REF_INVALID"],
            recovered=["codegen-check job completed"],
            cause=r"CODEXK8S_BUILD_REF=(\S+)",
            patterns={
                SOURCE_CODEGEN: SourcePatterns(
                    defining=list(_BUILD_REF_DEFINING), context=list(_BUILD_REF_CONTEXT)
                ),
                SOURCE_CONTROL_PLANE: SourcePatterns(
                    defining=list(_BUILD_REF_DEFINING), context=list(_BUILD_REF_CONTEXT)
                ),
            },
        ),
    ]

