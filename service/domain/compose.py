"""Composing messages: what the responder says about an incident, as a ``Message``.

Purpose: turn an incident and its evidence bundle into the on-call's first message (what
happened, the evidence by priority, what could not be collected and why, the kill switch, the
runbook's next step, the links), and give the policy code one helper for its other events.
Boundary: pure functions, no I/O, no clock. Every text passes through ``redact`` again on its
way out, although the bundle is redacted already: a message leaves the process.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TypeVar

from service.domain.brevity import capped, head
from service.domain.evidence import Collected, CollectorStatus, EvidenceBundle
from service.domain.incidents import Incident
from service.domain.logscan.models import ScanResult
from service.domain.messages import Audience, EventName, Fact, Message, MessageSection, Severity
from service.domain.redaction import redact
from service.domain.runbook_text import RunbookText, next_steps
from service.domain.timetext import clock, moment

T = TypeVar("T")

# Section priorities: lower is more important and survives the smallest medium.
PRIORITY_NEXT_STEP = 0
PRIORITY_FAILED_JOBS = 1
PRIORITY_MISSING = 2
PRIORITY_CONTROL_PLANE = 3
PRIORITY_WORKER = 4
PRIORITY_REGISTRY = 5
PRIORITY_WORKLOADS = 6

MAX_RUN_IDS = 10
MAX_JOBS = 10
MAX_JOB_LINES = 5
MAX_EXCERPTS = 8
# Bounds of any message (``scrub``): lines per section, characters per line, and so on.
MAX_SECTIONS = 30
MAX_SECTION_LINES = 200
MAX_TOTAL_LINES = 400
MAX_LINE_CHARS = 1000
MAX_SUMMARY_CHARS = 2000
MAX_FACTS = 30
# A fact's value fits the smallest medium's line (render.LINE_CHARS) whole: lists are capped
# by whole items to this, so no renderer has to cut a run id.
FACT_CHARS = 240

def incident_link(public_url: str, incident_id: str) -> str:
    """The incident's page on the responder."""
    return f"{public_url.rstrip('/')}/incidents/{incident_id}"


def compose_evidence(incident: Incident, bundle: EvidenceBundle, *, text: RunbookText,
                     public_url: str, key: str, next_step: list[str] | None = None) -> Message:
    """The on-call's first message: what happened and the evidence, by priority; the
    runbook's step quotes the configured values in ``text``. ``next_step``: what the first
    decision made of it (the responder acts, or needs a person); the runbook's own step for
    this signature and switch value otherwise."""
    occurrences = _occurrences(bundle)
    where = f"{incident.namespace}"
    confirmed = "confirmed in logs/jobs" if bundle.confirmed else "NOT confirmed by evidence yet"
    summary = (
        f"{bundle.signature} failures in {where}: {occurrences} failed build(s), "
        f"{len(bundle.run_ids)} run(s) affected; signature {confirmed}."
    )
    missing = bundle.missing()
    if missing:
        summary += f" {len(missing)} diagnostic(s) missing (see below)."
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
        title=f"[{incident.id}] {bundle.signature} build failures in {incident.namespace}",
        summary=summary, severity="critical" if bundle.confirmed else "warning",
        audience="oncall", facts=_facts(incident, bundle, occurrences), sections=sections,
        public_url=public_url, created_at=bundle.collected_at,
    )


def compose_event(incident: Incident, *, event: EventName, key: str, title: str, summary: str,
                  severity: Severity = "warning", audience: Audience = "all",
                  facts: Sequence[Fact] = (), sections: Sequence[MessageSection] = (),
                  public_url: str, created_at: datetime | None = None) -> Message:
    """One message about ``incident`` (opened, mitigated, escalated, resolved...), redacted.

    ``created_at`` defaults to the incident's last update: this module never reads a clock.
    """
    return scrub(Message(
        incident_id=incident.id, event=event, key=key, severity=severity, audience=audience,
        title=title, summary=summary, incident_url=incident_link(public_url, incident.id),
        related_issue=incident.related_issue, facts=list(facts), sections=list(sections),
        created_at=created_at or incident.updated_at,
    ))


def bounded(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, cut at a space so no token is left half-redacted."""
    return head(text, limit)


def _clean(text: str, limit: int = MAX_LINE_CHARS) -> str:
    return redact(bounded(text, limit))


def scrub_section(section: MessageSection, max_lines: int = MAX_SECTION_LINES) -> MessageSection:
    """The section redacted, within ``max_lines`` lines of ``MAX_LINE_CHARS``.

    A message is for people; the whole evidence stays on the incident page. The bounds also
    bound the cost of redaction, whatever a caller put in.
    """
    lines = [_clean(line) for line in section.lines[:max_lines]]
    if len(section.lines) > max_lines:
        lines.append(f"… {len(section.lines) - max_lines} more line(s) on the incident page")
    return section.model_copy(update={"title": _clean(section.title), "lines": lines})


def scrub(message: Message) -> Message:
    """The whole message redacted once more (the outbox does this before every send).

    At most ``MAX_TOTAL_LINES`` lines in all, the most important sections served first.
    """
    budget = MAX_TOTAL_LINES
    sections = []
    for section in sorted(message.sections[:MAX_SECTIONS], key=lambda s: s.priority):
        scrubbed = scrub_section(section, max(0, min(MAX_SECTION_LINES, budget)))
        budget -= min(len(section.lines), MAX_SECTION_LINES)
        sections.append(scrubbed)
    return message.model_copy(update={
        "title": _clean(message.title), "summary": _clean(message.summary, MAX_SUMMARY_CHARS),
        "facts": [Fact(name=_clean(f.name), value=_clean(f.value))
                  for f in message.facts[:MAX_FACTS]],
        "sections": sections,
    })


# -- pieces ----------------------------------------------------------------------------------


def _occurrences(bundle: EvidenceBundle) -> int:
    counts = [0]
    for logs in (bundle.control_plane_logs, bundle.worker_logs):
        if logs.data is not None:
            counts.append(logs.data.stats(bundle.signature).occurrences)
    if bundle.failed_jobs.data is not None:
        counts.append(len(bundle.failed_jobs.data.jobs))
    return max(counts)


def _facts(incident: Incident, bundle: EvidenceBundle, occurrences: int) -> list[Fact]:
    facts = [
        Fact(name="Signature", value=bundle.signature),
        Fact(name="Namespace", value=incident.namespace),
        Fact(name="First error", value=moment(bundle.first_error_at)),
        Fact(name="Last error", value=moment(bundle.last_error_at)),
        Fact(name="Occurrences", value=str(occurrences)),
    ]
    if bundle.run_ids:
        facts.append(Fact(name="Run ids", value=capped(bundle.run_ids, MAX_RUN_IDS, FACT_CHARS)))
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
    data = bundle.failed_jobs.data
    if bundle.failed_jobs.status is not CollectorStatus.OK or data is None or not data.jobs:
        return []
    lines: list[str] = []
    for job in data.jobs[:MAX_JOBS]:
        reason = job.reason or "Failed"
        when = moment(job.finished_at or job.created_at)
        run = f" run {job.run_id}" if job.run_id else ""
        lines.append(f"{job.name} ({job.kind}{run}): {reason} at {when}")
        lines.extend(f"  {line}" for line in job.last_lines[-MAX_JOB_LINES:])
    if len(data.jobs) > MAX_JOBS:
        lines.append(f"... and {len(data.jobs) - MAX_JOBS} more failed jobs")
    return [MessageSection(title=f"Failed jobs ({len(data.jobs)})", lines=lines,
                           priority=PRIORITY_FAILED_JOBS, code=False)]


def _missing(bundle: EvidenceBundle) -> list[MessageSection]:
    lines = []
    for name, got in bundle.collectors().items():
        if got.status is CollectorStatus.OK:
            continue
        line = f"{name}: {got.status.value}"
        if got.hint:
            line += f"; grant: {got.hint}"
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
    lines = [_excerpt_line(m.timestamp, m.run_id, m.excerpt)
             for m in _spread(stats.excerpts, MAX_EXCERPTS)]
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
        f"mirror jobs failed: {data.mirror_jobs_failed}/{data.mirror_jobs_total}",
    ]
    if data.failed_mirror_jobs:
        lines.append(f"failed mirror jobs: {capped(data.failed_mirror_jobs, MAX_JOBS, FACT_CHARS)}")
    if data.degraded_together:
        lines.append("registry and mirror jobs degrade together: escalate (runbook rule 3)")
    return [MessageSection(title="Registry and mirrors", lines=lines, priority=PRIORITY_REGISTRY)]


def _workloads(bundle: EvidenceBundle) -> list[MessageSection]:
    data = bundle.workloads.data
    if bundle.workloads.status is not CollectorStatus.OK or data is None or not data.pods:
        return []
    lines = [f"{p.name} {p.phase} {p.ready} restarts={p.restarts}" for p in data.pods[:MAX_JOBS]]
    if len(data.pods) > MAX_JOBS:
        lines.append(f"... and {len(data.pods) - MAX_JOBS} more pods")
    return [MessageSection(title="Pods", lines=lines, priority=PRIORITY_WORKLOADS)]
