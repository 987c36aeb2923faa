"""Messages for the policy's events: mitigated, approval requested, escalated, resolved.

Each carries what the runbook asks for (incident link, related issue, run ids, first and last
error, log excerpts and failed jobs from the latest evidence, what was done and when, the
rule and its numbers, the next step); pure functions over the incident, no clock, no I/O.
Configured names and values they quote (the switch's key, the namespace...) come in ``text``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from service.domain.brevity import capped
from service.domain.envelope import FACT_CHARS, compose_event
from service.domain.evidence_message import MAX_RUN_IDS, Tally, compose_evidence
from service.domain.facts import BuildOutcome, Facts
from service.domain.incidents import Incident
from service.domain.messages import Fact, Message, MessageSection
from service.domain.policy import Escalate
from service.domain.policy_record import PolicyRecord, Rule
from service.domain.runbook_text import RunbookText, escalation_step, patch_commands
from service.domain.timetext import moment, span

RULE_TITLES = {  # the page says them too
    "repeat": "the error keeps repeating after the cache kill switch",
    "recovery_deadline": "not recovered within the deadline",
    "registry": "registry unavailable while mirror jobs fail",
    "rollout_stuck": "control-plane rollout did not finish",
    "mitigation_failed": "the cluster refused the kill switch",
    "blind": "the responder cannot see what it needs",
    "no_fix": "no automatic fix for this signature",
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NOT_APPLIED = {
    "skipped": "the registry is down, so the cache is not the cause",
    "not_needed": "it does not fix what the evidence shows",
    "observing": "observe mode, a person sets it",
}


def _when(value: datetime | None) -> str:
    return moment(value, "-")


def actions_taken(policy: PolicyRecord, text: RunbookText, *,
                  besides: Rule | None = None) -> list[str]:
    """What the responder did and when, for a message; ``besides``: an escalation the message
    itself is (not repeated under what was done)."""
    mit = policy.mitigation
    lines = []
    if mit.status in {"applied", "already_off", "observed_off"}:
        who = {"applied": "set by the responder", "already_off": "already off when checked",
               "observed_off": "set by a person (observe mode)"}[mit.status]
        lines.append(f"Kill switch {text.switch_key}={mit.new_value} ({who}) at "
                     f"{_when(mit.applied_at)}; previous value {mit.previous_value or '-'}")
        lines.append(f"Control-plane rollout: {mit.rollout}"
                     + (f" at {_when(mit.rollout_finished_at)}" if mit.rollout_finished_at
                        else ""))
    elif mit.status == "dry_run":
        lines.append("Dry run: the kill switch patch was recorded, not sent "
                     f"({_when(mit.decided_at)})")
    elif mit.status == "awaiting_approval":
        lines.append("Kill switch waiting for the Owner's approval since "
                     f"{_when(mit.decided_at)}")
    elif mit.status == "failed":
        lines.append(f"Kill switch NOT set: the cluster refused it at {_when(mit.decided_at)}; "
                     f"value still {mit.previous_value or 'unknown'}")
    elif mit.status in _NOT_APPLIED:
        lines.append(f"Kill switch not applied: {_NOT_APPLIED[mit.status]}")
    if mit.approved_by:
        lines.append(f"Approved by {mit.approved_by} at {_when(mit.approved_at)}")
    watch = policy.watch
    if watch.since is not None:
        failed = sum(1 for b in watch.builds.values() if b.status == "Failed")
        done = sum(1 for b in watch.builds.values() if b.status == "Complete")
        if not failed and not done:
            lines.append(f"Watching new jobs since {_when(watch.since)}: none finished yet")
        else:
            streak = f"; the last {watch.streak} failed in a row" if watch.streak > 1 else ""
            lines.append(f"Since {_when(watch.since)}: {done} job(s) completed, {failed} "
                         f"failed{streak}")
    for esc in policy.escalations.values():
        if esc.rule == besides:
            continue
        lines.append(f"Escalated ({esc.rule}) at {_when(esc.at)}: {esc.reason}")
    return lines or ["Nothing done yet"]


def _base_sections(incident: Incident, text: RunbookText,
                   public_url: str) -> tuple[list[Fact], list[MessageSection]]:
    bundle = incident.latest_evidence
    if bundle is None:
        return [Fact(name="Signature", value=incident.signature)], []
    evidence = compose_evidence(incident, bundle, text=text, public_url=public_url, key="-")
    sections = [s for s in evidence.sections if s.title != "Next step (runbook)"]
    return evidence.facts, sections


def _investigated(incident: Incident, text: RunbookText,
                  public_url: str) -> list[MessageSection]:
    """The first investigation's logs and jobs, titled with when they were read (they are
    not what the cluster says now: the fresh facts are above them)."""
    bundle = incident.latest_evidence
    if bundle is None:
        return []
    _, sections = _base_sections(incident, text, public_url)
    at = moment(bundle.collected_at)
    return [s.model_copy(update={"title": f"{s.title} (investigation at {at})",
                                 "priority": s.priority + 2})
            for s in sections]


def _switch_now(facts: Facts | None) -> str:
    state = facts.kill_switch if facts is not None else None
    if state is None:
        return "unknown (cannot be read now)"
    value = state.value if state.value is not None else "unset (cache on)"
    rollout = {True: ", rollout complete", False: ", rollout in progress", None: ""}
    return f"{state.location} = {value}{rollout[state.rollout_complete]}"


def _failed_after(policy: PolicyRecord, signature: str) -> list[BuildOutcome]:
    watch = policy.watch
    failed = [b for b in watch.builds.values()
              if b.status == "Failed" and b.signature == signature]
    return sorted(failed, key=lambda b: (b.finished_at or b.created_at or _EPOCH, b.job))


def _last_error(incident: Incident, policy: PolicyRecord, facts: Facts | None) -> datetime | None:
    times = [b.finished_at for b in _failed_after(policy, incident.signature) if b.finished_at]
    times += [t for t in (policy.watch.last_sighting_at,
                          incident.latest_evidence.last_error_at
                          if incident.latest_evidence else None) if t is not None]
    if facts is not None:
        times += [s.last_seen for s in facts.sightings
                  if s.signature == incident.signature and s.last_seen is not None]
    return max(times, default=None)


def fresh_facts(incident: Incident, policy: PolicyRecord, facts: Facts | None) -> list[Fact]:
    """What is true at the decision: the switch now, this episode's first and last error,
    the run ids of its failures (those after the switch first)."""
    failed = _failed_after(policy, incident.signature)
    bundle = incident.latest_evidence
    runs = [b.run_id for b in reversed(failed) if b.run_id]
    runs += Tally.of(bundle).runs if bundle is not None else []
    # Unconfirmed, the episode starts when the alert does: no failure of the signature is known.
    first = "First failure" if bundle is None or bundle.confirmed else "Alert firing since"
    out = [Fact(name="Signature", value=incident.signature),
           Fact(name="Namespace", value=incident.namespace),
           Fact(name="Kill switch now", value=_switch_now(facts)),
           Fact(name=first, value=_when(policy.episode_start or incident.first_failure_at)),
           Fact(name="Last error", value=moment(_last_error(incident, policy, facts),
                                                f"none with the {incident.signature} "
                                                "signature"))]
    if runs:
        out.append(Fact(name="Run ids",
                        value=capped(list(dict.fromkeys(runs)), MAX_RUN_IDS, FACT_CHARS)))
    if incident.related_issue:
        out.append(Fact(name="Related issue", value=f"#{incident.related_issue}"))
    return out


def _failures_section(policy: PolicyRecord, signature: str) -> list[MessageSection]:
    failed = _failed_after(policy, signature)
    if not failed:
        return []
    streak = policy.watch.streak
    lines = [f"{b.job} ({b.kind}{', run ' + b.run_id if b.run_id else ''}): failed at "
             f"{_when(b.finished_at or b.created_at)}"
             + ("  <- in the streak" if i >= len(failed) - streak else "")
             for i, b in enumerate(failed)]
    title = f"Failed after the switch ({len(failed)}; the last {streak} in a row)"
    return [MessageSection(title=title, lines=lines, priority=1)]


def compose_escalation(incident: Incident, policy: PolicyRecord, action: Escalate, *,
                       facts: Facts | None, text: RunbookText, public_url: str,
                       rollback_plan: str, now: datetime) -> Message:
    """An escalation, from the facts of the decision that fires it (``facts``: the cluster
    as observed then; ``policy``: the record as that decision left it)."""
    head = [MessageSection(title="Why", lines=[action.reason], priority=0),
            MessageSection(title="Next step", lines=[escalation_step(action.rule, text,
                                                                     policy.mitigation.manual),
                                                     f"Rollback plan: {rollback_plan}"],
                           priority=0),
            MessageSection(title="What was done",
                           lines=actions_taken(policy, text, besides=action.rule), priority=1)]
    if facts is not None and facts.gaps:
        head.append(MessageSection(title="Cannot read now",
                                   lines=[g.describe() for g in facts.gaps], priority=1))
    who = {"all": "SRE on-call and the Owner", "oncall": "SRE on-call",
           "owner": "the Owner"}[action.audience]
    return compose_event(
        incident, event="escalated", key=f"escalated-{action.rule}", severity="critical",
        audience=action.audience,
        title=f"[{incident.id}] ESCALATION: {RULE_TITLES[action.rule]}",
        summary=f"Escalated to {who}: {action.reason}.",
        facts=[*fresh_facts(incident, policy, facts),
               Fact(name="Rule", value=f"{RULE_TITLES[action.rule]} ({action.rule})")],
        sections=[*head, *_failures_section(policy, incident.signature),
                  *_investigated(incident, text, public_url)],
        public_url=public_url, created_at=now,
    )


def compose_approval_request(incident: Incident, policy: PolicyRecord, *, text: RunbookText,
                             public_url: str, now: datetime) -> Message:
    facts, sections = _base_sections(incident, text, public_url)
    approve = f"{public_url.rstrip('/')}/incidents/{incident.id}/approve"
    return compose_event(
        incident, event="escalated", key="approval-request", severity="warning",
        audience="owner",
        title=f"[{incident.id}] Approval needed: set {text.switch_off}",
        summary="The evidence confirms the cache signature. Owner: approve the runbook's kill "
                "switch with the Approve button on the incident page (this message's link, "
                "where only you read it; a shared channel's link only shows the page), or by "
                f"script: POST {approve} with the Owner token.",
        facts=facts, sections=[MessageSection(title="What was done",
                                              lines=actions_taken(policy, text),
                                              priority=1),
                               *sections],
        public_url=public_url, created_at=now,
    )


def compose_mitigated(incident: Incident, policy: PolicyRecord, *, text: RunbookText,
                      public_url: str, now: datetime) -> Message:
    mit = policy.mitigation
    verb = {"applied": "Kill switch applied", "already_off": "Kill switch was already off",
            "dry_run": "Dry run: kill switch patch recorded, not sent",
            "observed_off": "Kill switch set off by a person"}.get(mit.status, "Kill switch")
    sections = [MessageSection(title="What was done", lines=actions_taken(policy, text),
                               priority=0)]
    commands = patch_commands(mit.patch, text) if mit.patch is not None else []
    if commands:
        sent = "not sent (dry run)" if mit.status == "dry_run" else "sent"
        sections.append(MessageSection(title=f"The patch {sent}, as kubectl", lines=commands,
                                       priority=1, code=True))
    return compose_event(
        incident, event="mitigated", key=f"mitigated-{mit.status}", severity="warning",
        audience="oncall", title=f"[{incident.id}] {verb}",
        summary=f"{verb}; the responder watches new builds and escalates per the runbook.",
        facts=[Fact(name="Signature", value=incident.signature)],
        sections=sections,
        public_url=public_url, created_at=now,
    )


def compose_resolved(incident: Incident, policy: PolicyRecord, *, reason: str,
                     confirmed: bool, text: RunbookText, public_url: str,
                     now: datetime) -> Message:
    """The final update (also the GitHub issue comment): root cause, timeline, MTTR. An
    incident the evidence never confirmed claims no cause and no recovery time."""
    mttr = policy.mttr_s
    mttr_text = span(mttr) if mttr is not None else ("unknown" if confirmed
                                                      else "none (not confirmed)")
    if not confirmed:
        root = (f"Not established: the evidence never confirmed the {incident.signature} "
                "signature; the alert closed after new builds succeeded and a clean window.")
    elif incident.signature == "cache":
        root = ("Stale registry cache (tag visible, manifest gone): Kaniko failed with "
                "MANIFEST_UNKNOWN while retrieving image from cache.")
    else:
        root = f"Signature {incident.signature}."
    timeline = [f"{_when(e.at)} {e.message}" for e in incident.timeline
                if e.kind not in {"notification_queued"}][-25:]
    if confirmed:
        head = "Recovered"
        title = f"{head}: {incident.signature} (MTTR {mttr_text})"
        summary = f"{head}: {reason}. MTTR {mttr_text} (SLO 30 min)."
    else:
        head = "Closed, cause not confirmed"
        title = f"{head}: {incident.signature} alert"
        summary = (f"{head}: {reason}. No MTTR sample: the evidence never confirmed the "
                   "signature.")
    return compose_event(
        incident, event="resolved", key="resolved", severity="info", audience="all",
        title=f"[{incident.id}] {title}", summary=summary,
        facts=[Fact(name="Signature", value=incident.signature),
               Fact(name="First failure" if confirmed else "Alert firing since",
                    value=_when(policy.episode_start or incident.first_failure_at)),
               Fact(name="MTTR", value=mttr_text)],
        sections=[MessageSection(title="Root cause", lines=[root], priority=0),
                  MessageSection(title="What was done", lines=actions_taken(policy, text),
                                 priority=1),
                  MessageSection(title="Timeline", lines=timeline, priority=2)],
        public_url=public_url, created_at=now,
    )
