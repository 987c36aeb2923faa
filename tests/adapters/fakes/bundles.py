"""Test data for the sinks: incidents and evidence bundles, small, huge, or laced with tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.domain.evidence import (
    Collected,
    CollectorStatus,
    EvidenceBundle,
    FailedJob,
    FailedJobs,
    KillSwitchState,
    PodInfo,
    RegistryHealth,
    Workloads,
)
from service.domain.incidents import Incident
from service.domain.lifecycle import State
from service.domain.logscan.models import LogMatch, ScanResult, SignatureStats

T0 = datetime(2026, 2, 26, 10, 0, tzinfo=UTC)

# Secrets as they appear in build logs; none may reach a sink.
GHP = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
GHS = "ghs_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"
BEARER = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2lnbmF0dXJlc2VjcmV0"
OPAQUE_BEARER = "s3cr3tOpaqueBearerValue42"
TOKENS = [GHP, GHS, BEARER, OPAQUE_BEARER]
SECRET_LINES = [
    f"Cloning https://x-access-token:{GHS}@github.com/codex-k8s/platform.git",
    f"curl -H 'Authorization: Bearer {OPAQUE_BEARER}' https://api.internal/v1",
    f"GITHUB_TOKEN={GHP} kaniko --destination registry:5000/codex/api",
    f"jwt auth header: Bearer {BEARER}",
]


def incident(incident_id: str = "inc-20260226-100000-abcdef", *,
             related_issue: str | None = "205") -> Incident:
    return Incident(id=incident_id, namespace="codex-k8s-prod", signature="cache",
                    state=State.INVESTIGATING, opened_at=T0, updated_at=T0,
                    first_failure_at=T0, related_issue=related_issue)


def _match(i: int, source: str, text: str, run_id: str) -> LogMatch:
    return LogMatch(source=source, signature="cache", pattern="MANIFEST_UNKNOWN", defining=True,
                    line_no=i, timestamp=T0 + timedelta(seconds=i), level="ERROR",
                    run_id=run_id, excerpt=text)


def _scan(source: str, lines: list[str], run_ids: list[str]) -> ScanResult:
    excerpts = [_match(i, source, line, run_ids[i % len(run_ids)])
                for i, line in enumerate(lines)]
    stats = SignatureStats(signature="cache", lines=len(lines), occurrences=len(run_ids),
                           first_seen=T0, last_seen=T0 + timedelta(minutes=14),
                           run_ids=run_ids, excerpts=excerpts)
    return ScanResult(source=source, signatures={"cache": stats}, lines_scanned=10 * len(lines))


def bundle(incident_id: str = "inc-20260226-100000-abcdef", *, scale: int = 1,
           secrets: bool = False, worker_forbidden: bool = False) -> EvidenceBundle:
    """An evidence bundle; ``scale`` multiplies everything, ``secrets`` mixes tokens in.

    Real bundles are redacted before they are stored; ``secrets`` builds one that is not, to
    prove the sinks' defensive pass.
    """
    run_ids = [f"run-{i:04d}" for i in range(3 * scale)]
    error = ("error building image: error while retrieving image from cache: "
             "registry:5000/codex/api@sha256:" + "ab" * 32 + " MANIFEST_UNKNOWN: manifest unknown")
    cp_lines = [f"{error} (step {i}) " + "x" * (40 * scale) for i in range(4 * scale)]
    if secrets:
        cp_lines += SECRET_LINES
    jobs = [FailedJob(name=f"codex-k8s-kaniko-api-{i:03d}", kind="build", status="Failed",
                      reason="BackoffLimitExceeded", finished_at=T0 + timedelta(minutes=i),
                      run_id=run_ids[i % len(run_ids)],
                      last_lines=[error, *(SECRET_LINES if secrets else [])])
            for i in range(3 * scale)]
    worker: Collected[ScanResult]
    if worker_forbidden:
        worker = Collected(status=CollectorStatus.FORBIDDEN,
                           hint="get pods/log in codex-k8s-prod (Role rule: pods/log get)")
    else:
        worker = Collected(status=CollectorStatus.OK,
                           data=_scan("worker", [f"build failed run_id={r}" for r in run_ids],
                                      run_ids))
    return EvidenceBundle(
        incident_id=incident_id, collected_at=T0 + timedelta(minutes=5),
        since=T0 - timedelta(hours=6), signature="cache", confirmed=True,
        first_error_at=T0, last_error_at=T0 + timedelta(minutes=14), run_ids=run_ids,
        workloads=Collected(status=CollectorStatus.OK, data=Workloads(pods=[
            PodInfo(name=f"codex-k8s-control-plane-{i}", phase="Running", ready="1/1")
            for i in range(2 * scale)])),
        control_plane_logs=Collected(status=CollectorStatus.OK,
                                     data=_scan("control-plane", cp_lines, run_ids)),
        worker_logs=worker,
        failed_jobs=Collected(status=CollectorStatus.OK, data=FailedJobs(jobs=jobs)),
        registry=Collected(status=CollectorStatus.OK, data=RegistryHealth(
            registry_available=True, registry_replicas=1, registry_ready_replicas=1,
            mirror_jobs_total=4, mirror_jobs_failed=1, failed_mirror_jobs=["mirror-1"])),
        kill_switch=Collected(status=CollectorStatus.OK, data=KillSwitchState(
            location="deployment/codex-k8s-control-plane env", value="true",
            rollout_complete=True)),
    )
