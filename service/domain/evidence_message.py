"""Composing messages: what the responder says about an incident, as a ``Message``.

Purpose: turn an incident and its evidence bundle into the on-call's first message (what
happened, the evidence by priority, what could not be collected and why, the kill switch, the
runbook's next step, the links), and give the policy code one helper for its other events.
Boundary: pure functions, no I/O, no clock. Every text passes through ``redact`` again on its
way out, although the bundle is redacted already: a message leaves the process.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from service.domain.brevity import capped
from service.domain.envelope import (
    FACT_CHARS,
    compose_event,
)
from service.domain.evidence import Collected, CollectorStatus, EvidenceBundle, FailedJob
from service.domain.incidents import Incident
from service.domain.logscan.models import ScanResult
from service.domain.messages import Fact, Message, MessageSection
from service.domain.runbook_text import RunbookText, next_steps
from service.domain.timetext import clock, moment

T = TypeVar("T")

# Section priorities: lower is more important and survives the smallest medium (Telegram, the
# console). What to do first, then what the responder cannot see (short, and it changes what
# the rest means), then the signature's own evidence: the log lines that match it, then the
# failed jobs; the registry and the pods last, unless the registry is the signature's evidence
# (registry down while mirror jobs fail: rule 3), which then comes right after what to do.
PRIORITY_NEXT_STEP = 0
PRIORITY_MISSING = 1
PRIORITY_CONTROL_PLANE = 2
PRIORITY_WORKER = 3
PRIORITY_FAILED_JOBS = 4
PRIORITY_REGISTRY = 5
PRIORITY_WORKLOADS = 6

MAX_RUN_IDS = 10
MAX_JOBS = 10
MAX_JOB_LINES = 2  # a job's last lines: its error (the page has the whole tail)
MAX_EXCERPTS = 8
def compose_evidence(incident: Incident, bundle: EvidenceBundle, *, text: RunbookText,
                     public_url: str, key: str, next_step: list[str] | None = None) -> Message:
    """The on-call's first message: what happened and the evidence, by priority; the
    runbook's step quotes the configured values in ``text``. ``next_step``: what the first
    decision made of it (the responder acts, or needs a person); the runbook's own step for
    this signature and switch value otherwise."""
    tally = Tally.of(bundle)
    sections = [
        MessageSection(title="Next step (runbook)",
                       lines=next_step if next_step is not None else _next_step(bundle, text),
                       priority=PRIORITY_NEXT_STEP),
        *_failed_jobs(bundle),
        *_missing(bundle),
        *_log_section("Control-plane log", bundle.control_plane_logs, bundle.signature,
                      PRIORITY_CONTROL_PLANE),
        *_log_section("Worker log", bundle.worker_logs, bundle.signature, PRIORITY_WORKER),
        *_registry(bundle),
        *_workloads(bundle),
    ]
    return compose_event(
        incident, event="evidence", key=key,
        title=f"[{incident.id}] {_headline(incident, bundle)}",
        summary=_summary(bundle, tally),
        severity="critical" if bundle.confirmed else "warning",
        audience="oncall", facts=_facts(incident, bundle, tally), sections=sections,
        public_url=public_url, created_at=bundle.collected_at,
    )


# -- pieces ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """The numbers the evidence message states, each from the data its lists show: the
    summary, the facts and the section titles agree because they all read these."""

    builds: int  # distinct failed builds whose log lines carry the signature
    runs: list[str]  # the runs those builds and the failed jobs belong to (the Run ids fact)
    jobs: int  # failed jobs still in the cluster (the "Failed jobs (N)" section)

    @classmethod
    def of(cls, bundle: EvidenceBundle) -> Tally:
        builds = max([logs.data.stats(bundle.signature).occurrences
                      for logs in (bundle.control_plane_logs, bundle.worker_logs)
                      if logs.status is CollectorStatus.OK and logs.data is not None],
                     default=0)
        jobs = _listed_jobs(bundle)
        runs = list(dict.fromkeys([*bundle.run_ids, *(j.run_id for j in jobs if j.run_id)]))
        return cls(builds=builds, runs=runs, jobs=len(jobs))


def _listed_jobs(bundle: EvidenceBundle) -> list[FailedJob]:
    data = bundle.failed_jobs.data
    if bundle.failed_jobs.status is not CollectorStatus.OK or data is None:
        return []
    return data.jobs


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _headline(incident: Incident, bundle: EvidenceBundle) -> str:
    registry = bundle.registry.data
    if registry is not None and registry.degraded_together:
        return (f"registry unavailable while builds fail in {incident.namespace} "
                f"({bundle.signature} alert)")
    if not bundle.confirmed:
        return f"{bundle.signature} alert in {incident.namespace}, not confirmed by the evidence"
    return f"{bundle.signature} build failures in {incident.namespace}"


def _summary(bundle: EvidenceBundle, tally: Tally) -> str:
    """What happened, in counts that match the lists below them; what is missing named here,
    not "see below" (a small medium may not show the section)."""
    if bundle.confirmed:
        head = (f"Confirmed: {_plural(tally.builds, 'failed build')} in the logs carry the "
                f"{bundle.signature} signature")
    else:
        head = (f"Not confirmed: no log line or failed job carries the {bundle.signature} "
                "signature")
    summary = (f"{head}; {_plural(tally.jobs, 'failed job')} in the cluster; "
               f"{_plural(len(tally.runs), 'run')} affected.")
    missing = [name for name, got in bundle.collectors().items()
               if got.status is not CollectorStatus.OK]
    if missing:
        summary += f" Could not read: {', '.join(name.replace('_', ' ') for name in missing)}."
    return summary


def _facts(incident: Incident, bundle: EvidenceBundle, tally: Tally) -> list[Fact]:
    none = "unknown" if bundle.confirmed else f"none with the {bundle.signature} signature"
    facts = [
        Fact(name="Signature", value=bundle.signature),
        Fact(name="Namespace", value=incident.namespace),
        Fact(name="First error", value=moment(bundle.first_error_at, none)),
        Fact(name="Last error", value=moment(bundle.last_error_at, none)),
        Fact(name="Failed builds (logs)", value=str(tally.builds)),
        Fact(name="Failed jobs", value=str(tally.jobs)),
    ]
    if tally.runs:
        facts.append(Fact(name="Run ids", value=capped(tally.runs, MAX_RUN_IDS, FACT_CHARS)))
    facts.append(Fact(name="Kill switch", value=_kill_switch(bundle)))
    if incident.related_issue:
        facts.append(Fact(name="Related issue", value=f"#{incident.related_issue}"))
    return facts


def _kill_switch(bundle: EvidenceBundle) -> str:
    got = bundle.kill_switch
    if got.status is not CollectorStatus.OK or got.data is None:
        return f"unknown ({got.status.value})"
    state = got.data
    value = state.value if state.value is not None else "unset (cache on)"
    rollout = {True: ", rollout complete", False: ", rollout in progress", None: ""}
    return f"{state.location} = {value}{rollout[state.rollout_complete]}"


def _next_step(bundle: EvidenceBundle, text: RunbookText) -> list[str]:
    switch = bundle.kill_switch.data
    return next_steps(bundle.signature, switch.value if switch is not None else None, text)


def _failed_jobs(bundle: EvidenceBundle) -> list[MessageSection]:
    jobs = _listed_jobs(bundle)
    if not jobs:
        return []
    lines: list[str] = []
    for job in jobs[:MAX_JOBS]:
        reason = job.reason or "Failed"
        when = moment(job.finished_at or job.created_at)
        run = f" run {job.run_id}" if job.run_id else ""
        lines.append(f"{job.name} ({job.kind}{run}): {reason} at {when}")
        lines.extend(f"  {line}" for line in job.last_lines[-MAX_JOB_LINES:])
    if len(jobs) > MAX_JOBS:
        lines.append(f"… and {len(jobs) - MAX_JOBS} more failed jobs")
    return [MessageSection(title=f"Failed jobs ({len(jobs)})", lines=lines,
                           priority=PRIORITY_FAILED_JOBS, code=False)]


def _missing(bundle: EvidenceBundle) -> list[MessageSection]:
    lines = []
    for name, got in bundle.collectors().items():
        if got.status is CollectorStatus.OK:
            continue
        line = f"{name.replace('_', ' ')}: {got.status.value}"
        if got.hint:  # what to grant, said by the collector ("grant get on pods/log in ...")
            line += f"; to fix: {got.hint}"
        elif got.error:
            line += f" ({got.error})"
        lines.append(line)
    if not lines:
        return []
    return [MessageSection(title="Diagnostics missing", lines=lines, priority=PRIORITY_MISSING)]


def _log_section(title: str, got: Collected[ScanResult], signature: str,
                 priority: int) -> list[MessageSection]:
    if got.status is not CollectorStatus.OK or got.data is None:
        return []
    stats = got.data.stats(signature)
    if not stats.excerpts:
        return []
    shown = list(_spread(stats.excerpts, MAX_EXCERPTS))
    lines = [_excerpt_line(m.timestamp, m.run_id, m.excerpt) for m in shown]
    if (hidden := stats.lines - len(shown)) > 0:  # first and last kept: the gap is inside
        lines.insert(len(shown) // 2, f"… {hidden} more matching line(s) in between")
    head = (f"{title}: {stats.lines} matching line(s), first {moment(stats.first_seen)}, "
            f"last {moment(stats.last_seen)}")
    return [MessageSection(title=head, lines=lines, priority=priority, code=True)]


def _excerpt_line(at: datetime | None, run_id: str | None, excerpt: str) -> str:
    run = f" [{run_id}]" if run_id else ""
    return f"{clock(at)}{run} {excerpt}"


def _spread(items: Sequence[T], limit: int) -> Iterable[T]:
    """The first and the last items when there are too many (the story's ends)."""
    if len(items) <= limit:
        return items
    half = limit // 2
    return [*items[:half], *items[len(items) - (limit - half):]]


def _registry(bundle: EvidenceBundle) -> list[MessageSection]:
    data = bundle.registry.data
    if bundle.registry.status is not CollectorStatus.OK or data is None:
        return []
    lines = [
        f"registry available: {'yes' if data.registry_available else 'NO'} "
        f"({data.registry_ready_replicas}/{data.registry_replicas} ready"
        f"{'; ' + data.registry_reason if data.registry_reason else ''})",
        f"mirror jobs failed: {data.mirror_jobs_failed}/{data.mirror_jobs_total}"
        + ("" if data.mirror_jobs_total else " (no mirror job seen)"),
    ]
    if data.failed_mirror_jobs:
        lines.append(f"failed mirror jobs: {capped(data.failed_mirror_jobs, MAX_JOBS, FACT_CHARS)}")
    if data.degraded_together:
        lines.append("registry and mirror jobs degrade together: escalate (runbook rule 3)")
    priority = PRIORITY_MISSING if data.degraded_together else PRIORITY_REGISTRY
    return [MessageSection(title="Registry and mirrors", lines=lines, priority=priority)]


def _workloads(bundle: EvidenceBundle) -> list[MessageSection]:
    data = bundle.workloads.data
    if bundle.workloads.status is not CollectorStatus.OK or data is None or not data.pods:
        return []
    lines = [f"{p.name} {p.phase} {p.ready} restarts={p.restarts}" for p in data.pods[:MAX_JOBS]]
    if len(data.pods) > MAX_JOBS:
        lines.append(f"... and {len(data.pods) - MAX_JOBS} more pods")
    return [MessageSection(title="Pods", lines=lines, priority=PRIORITY_WORKLOADS)]
