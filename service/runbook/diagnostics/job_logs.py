"""The tail of a job pod's log: its last lines (redacted) and the signature they carry.

Purpose: what an SRE reads first about a failed build/mirror/codegen job: ``kubectl logs
job/<name> --tail=200``, bounded in bytes, each line cut to the excerpt size and redacted
(clone URLs carry tokens), and the signature found in it by the same patterns the scanner uses
(source ``jobs`` for kaniko and mirror pods, ``codegen`` for codegen-check).
Boundary: reads through ``KubeClient``; pure helpers for everything else.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.cluster import objects
from service.cluster.client import KubeClient
from service.config.settings import DiagnosticsSettings
from service.domain.evidence import JobKind
from service.domain.logscan import LogScanner
from service.domain.redaction import Redactor
from service.domain.signatures import SOURCE_CODEGEN, SOURCE_JOBS, SignatureConfig

_REDACTOR = Redactor()


@dataclass
class JobTail:
    """What a job's log tail says."""

    lines: list[str] = field(default_factory=list)
    signature: str | None = None


def source_for(kind: JobKind) -> str:
    return SOURCE_CODEGEN if kind == "codegen" else SOURCE_JOBS


class SignatureDetector:
    """Tells a tail's signature; compiles each source's patterns once, not once per job."""

    def __init__(self, signatures: Sequence[SignatureConfig]) -> None:
        self._signatures = list(signatures)
        self._scanners: dict[str, LogScanner] = {}

    def __call__(self, lines: Sequence[str], source: str) -> str | None:
        """The signature with the most defining lines (None when none matches)."""
        scanner = self._scanners.get(source)
        if scanner is None:
            scanner = self._scanners[source] = LogScanner(self._signatures, source)
        result = scanner.scan_lines(lines)
        best = max(result.signatures.values(), key=lambda s: s.lines, default=None)
        return best.signature if best is not None and best.lines > 0 else None


def detect_signature(lines: Sequence[str], signatures: Sequence[SignatureConfig],
                     source: str) -> str | None:
    """One-off form of ``SignatureDetector``."""
    return SignatureDetector(signatures)(lines, source)


def pods_by_job(pods: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each job's newest pod (a job with backoffLimit 0 has one)."""
    out: dict[str, dict[str, Any]] = {}
    for pod in sorted(pods, key=objects.creation_order):
        job = objects.owner_name(pod, "Job")
        if job is not None:
            out[job] = dict(pod)
    return out


async def read_tail(kube: KubeClient, pod: Mapping[str, Any], *, kind: JobKind,
                    diag: DiagnosticsSettings, detect: SignatureDetector) -> JobTail:
    """Stream the last ``job_log_tail_lines`` lines of the pod and read them."""
    cap = diag.max_line_bytes
    window: deque[bytes] = deque(maxlen=diag.job_log_tail_lines)
    carry = b""
    stream = kube.stream_pod_log(
        objects.name_of(pod), objects.default_container(pod),
        tail_lines=diag.job_log_tail_lines, limit_bytes=diag.job_log_tail_lines * cap)
    async with contextlib.aclosing(stream) as chunks:
        async for chunk in chunks:
            carry += chunk
            *done, carry = carry.split(b"\n")
            window.extend(line[:cap] for line in done)
            carry = carry[:cap]  # an over-long line keeps its head only
    if carry:
        window.append(carry)
    texts = [raw.decode("utf-8", "replace").rstrip("\r") for raw in window]
    signature = detect(texts, source_for(kind))
    keep = diag.excerpt_chars
    return JobTail(lines=[clip(_REDACTOR.redact(t), keep) for t in texts], signature=signature)


def clip(text: str, size: int) -> str:
    """At most ``size`` characters, keeping head and end: kaniko puts the error code last."""
    if len(text) <= size:
        return text
    half = (size - 5) // 2
    return f"{text[:half]} ... {text[len(text) - half:]}"
