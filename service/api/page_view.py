"""What the incident page shows, worked out from the incident, the settings and the time.

Purpose: the numbers a person needs at a glance (what the responder is doing now, the rules'
live numbers: streak against threshold, time left to the recovery deadline, clean-window
progress), one time format (``2026-12-05 07:16:31 UTC``) with relative times, and log
excerpts split into plain and matching parts for highlighting. Boundary: pure functions over
the stored incident and an injected ``now``; the templates (``service/api/templates``)
escape and lay out what these return.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from service.domain.decision_message import RULE_TITLES
from service.domain.incidents import Incident
from service.domain.lifecycle import State
from service.domain.logscan.models import LogMatch
from service.domain.policy import PolicyConfig
from service.domain.timetext import moment, rough, span


def when(value: datetime | None) -> str:
    """The page's one time format: the messages' (``service.domain.timetext``)."""
    return moment(value, missing="-")


_ISO = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")


def plain_times(text: str) -> str:
    """``text`` with its ISO-8601 instants in the page's one format (stored reasons and
    timeline lines quote ``isoformat()``); log excerpts are shown as logged, not through this."""

    def one(match: re.Match[str]) -> str:
        try:
            value = datetime.fromisoformat(match.group(0).replace("Z", "+00:00"))
        except ValueError:
            return match.group(0)
        return when(value.astimezone(UTC))

    return _ISO.sub(one, text)


def relative(value: datetime | None, now: datetime) -> str:
    """``3 min ago``, ``in 12 min``, ``just now``."""
    if value is None:
        return ""
    delta = (value - now).total_seconds()
    if abs(delta) < 1:
        return "just now"
    return f"in {rough(delta)}" if delta > 0 else f"{rough(delta)} ago"


@dataclass(frozen=True)
class Rule:
    """One escalation rule of the runbook with its live numbers."""

    name: str
    title: str
    status: str  # "fired", "watching", "met", "ended", "n/a"
    numbers: str
    progress: float | None = None  # 0..1, for a bar


_SWITCH_OFF = {"applied", "already_off", "observed_off"}  # rule 1 counts only after these


def _pct(part: float, whole: float) -> float:
    return max(0.0, min(1.0, part / whole)) if whole > 0 else 0.0


def first_failure(incident: Incident) -> datetime:
    """The first failure the runbook counts from: the alert's start or the first error in
    the evidence, whichever is earlier (as the policy counts the 30 minutes)."""
    evidence = incident.latest_evidence
    if evidence is not None and evidence.first_error_at is not None:
        return min(incident.first_failure_at, evidence.first_error_at)
    return incident.first_failure_at



AUDIENCE_WORDS = {"all": "on-call and the Owner", "oncall": "on-call", "owner": "the Owner"}


def doing_now(incident: Incident, now: datetime, config: PolicyConfig) -> str:
    """What the responder is doing for this incident right now; an escalation first."""
    activity = _activity(incident, now, config)
    if incident.state is State.RESOLVED or not incident.policy.escalations:
        return activity
    latest = max(incident.policy.escalations.values(), key=lambda e: e.at)
    who = AUDIENCE_WORDS[latest.audience]
    return (f"Escalated to {who} at {when(latest.at)} ({RULE_TITLES[latest.rule]}). "
            f"Meanwhile: {activity[0].lower()}{activity[1:]}")


def _activity(incident: Incident, now: datetime, config: PolicyConfig) -> str:
    mit, watch = incident.policy.mitigation, incident.policy.watch
    if incident.state is State.RESOLVED:
        mttr = incident.policy.mttr_s
        return (f"Nothing: resolved at {when(incident.resolved_at)}"
                + (f" (MTTR {span(mttr)})." if mttr is not None else "."))
    if incident.state in {State.OPEN, State.INVESTIGATING} and mit.status == "none":
        return "Collecting the runbook's evidence (logs, failed jobs, registry, kill switch)."
    if mit.status == "awaiting_approval":
        return "Waiting for the Owner to approve the kill switch (approval mode)."
    if mit.status in {"approved", "applying"}:
        return "Setting the cache kill switch off."
    if mit.status == "observing":
        return "Observe mode: waiting for a person to set the kill switch off."
    if mit.rollout == "waiting":
        return (f"Waiting for the control-plane rollout (deadline "
                f"{when(mit.rollout_deadline_at)}, {relative(mit.rollout_deadline_at, now)}).")
    if watch.first_success_at is not None:
        quiet = max(watch.since or watch.first_success_at,
                    watch.last_sighting_at or watch.first_success_at)
        left = config.clean_window - (now - quiet)
        return (f"A build completed at {when(watch.first_success_at)}; resolving after a clean "
                f"window of {rough(config.clean_window.total_seconds())} "
                f"({rough(max(left, timedelta()).total_seconds())} to go).")
    if mit.status in {"skipped", "not_needed", "dry_run"}:
        evidence = incident.latest_evidence
        not_needed = (f"the kill switch does not fix {incident.signature}"
                      if evidence is not None and evidence.confirmed
                      else "the evidence does not confirm a signature it fixes")
        why = {"skipped": "the registry is down, so the cache is not the cause",
               "not_needed": not_needed, "dry_run": "dry run"}[mit.status]
        return (f"Watching new builds for a recovery; no kill switch ({why}); "
                f"{watch.streak} {incident.signature} failure(s) in a row so far.")
    done = "escalated" if "repeat" in incident.policy.escalations else "escalates"
    return (f"Watching new builds: {watch.streak} {incident.signature} failure(s) in a row "
            f"({done} above {config.repeat_threshold}).")


def rules(incident: Incident, now: datetime, config: PolicyConfig) -> list[Rule]:
    """The runbook's four escalation rules and the numbers that drive each one now."""
    policy = incident.policy
    mit, watch, fired = policy.mitigation, policy.watch, policy.escalations
    evidence = incident.latest_evidence
    out = []
    threshold = config.repeat_threshold
    out.append(Rule(
        "repeat", "Error repeats after the kill switch",
        "fired" if "repeat" in fired else
        ("watching" if watch.since and mit.status in _SWITCH_OFF else "n/a"),
        f"{watch.streak} in a row now (most {watch.max_streak}); escalates at more than "
        f"{threshold}", _pct(watch.streak, threshold + 1)))
    started = first_failure(incident)
    deadline = started + config.recovery_deadline
    limit = rough(config.recovery_deadline.total_seconds())
    progress: float | None = None
    if watch.first_success_at is not None:
        status = "met"
        numbers = (f"recovered at {when(watch.first_success_at)}, "
                   f"{rough((watch.first_success_at - started).total_seconds())} after the "
                   f"first failure at {when(started)} (limit {limit})")
    else:
        status = "fired" if "recovery_deadline" in fired else "watching"
        left = (deadline - now).total_seconds()
        numbers = (f"first failure {when(started)}; deadline {when(deadline)}: "
                   + (f"{rough(left)} left" if left > 0 else f"passed {rough(left)} ago"))
        progress = _pct((now - started).total_seconds(),
                        config.recovery_deadline.total_seconds())
    out.append(Rule("recovery_deadline", f"Recovered within {limit}", status, numbers,
                    progress))
    registry = evidence.registry.data if evidence is not None else None
    out.append(Rule(
        "registry", "Registry down while mirror jobs fail",
        "fired" if "registry" in fired else ("n/a" if registry is None else "watching"),
        "registry not checked" if registry is None else
        (f"registry {'available' if registry.registry_available else 'UNAVAILABLE'} "
         f"({registry.registry_ready_replicas}/{registry.registry_replicas} ready); "
         f"mirror jobs failed {registry.mirror_jobs_failed} of {registry.mirror_jobs_total}"
         + ("" if registry.mirror_jobs_total else " (no mirror job seen)"))))
    if mit.rollout == "complete":
        rollout_numbers = f"rollout complete at {when(mit.rollout_finished_at)}"
    elif mit.rollout_deadline_at is not None:
        rollout_numbers = (f"rollout {mit.rollout}; deadline {when(mit.rollout_deadline_at)}"
                           f" ({relative(mit.rollout_deadline_at, now)})")
    else:
        rollout_numbers = "no rollout started"
    out.append(Rule("rollout_stuck", "Control-plane rollout finishes",
                    "fired" if "rollout_stuck" in fired else
                    ("met" if mit.rollout == "complete" else
                     "watching" if mit.rollout == "waiting" else "n/a"), rollout_numbers))
    out += _later_rules(incident, now, config)
    if watch.first_success_at is not None and incident.state is not State.RESOLVED:
        quiet = max(watch.since or watch.first_success_at,
                    watch.last_sighting_at or watch.first_success_at)
        clean = (now - quiet).total_seconds()
        window = config.clean_window.total_seconds()
        out.append(Rule("clean_window", "Clean window before resolving", "watching",
                        f"{rough(clean)} of {rough(window)} without a new failure",
                        _pct(clean, window)))
    if incident.state is State.RESOLVED:  # nothing is watched any more
        out = [r if r.status != "watching" else
               Rule(r.name, r.title, "ended", r.numbers) for r in out]
    return out


def _later_rules(incident: Incident, now: datetime, config: PolicyConfig) -> list[Rule]:
    """The rules issue 10 added (the switch refused, blind, no fix), each shown when it
    fired or has something to say: an n/a row of them would be noise at 3 a.m."""
    mit, watch = incident.policy.mitigation, incident.policy.watch
    fired, out = incident.policy.escalations, []
    if "mitigation_failed" in fired or mit.status in {"failed", "applied"}:
        out.append(Rule(
            "mitigation_failed", "The cluster accepts the kill switch",
            "fired" if "mitigation_failed" in fired else "met",
            f"refused: {mit.failure or 'no reason given'}" if mit.status == "failed"
            else f"set at {when(mit.applied_at)}"))
    after = rough(config.blind_after.total_seconds())
    if "blind" in fired:
        numbers = f"could not read what the rules need for more than {after}"
    elif watch.gaps:
        oldest = min(watch.gaps.values())
        numbers = (f"not read: {', '.join(sorted(watch.gaps))}, since {when(oldest)}; "
                   f"escalates after {after}")
    else:
        numbers = f"every part of the cluster view read; escalates after {after} unread"
    out.append(Rule("blind", "The responder sees what the rules need",
                    "fired" if "blind" in fired else
                    ("ended" if incident.state is State.RESOLVED else "watching"), numbers,
                    _pct((now - min(watch.gaps.values())).total_seconds(),
                         config.blind_after.total_seconds())
                    if watch.gaps and "blind" not in fired else None))
    if "no_fix" in fired:
        out.append(Rule("no_fix", "An automatic fix exists for the signature", "fired",
                        f"the kill switch fixes {', '.join(sorted(config.switch_signatures))}"
                        f", not {incident.signature}"))
    return out


@dataclass(frozen=True)
class Piece:
    text: str
    match: bool


def highlighted(match: LogMatch) -> list[Piece]:
    """The excerpt cut around what its pattern matched (the page marks those parts)."""
    text = match.excerpt
    try:
        found = list(re.finditer(match.pattern, text))
    except re.error:  # a pattern from an older config: show the line plain
        found = []
    pieces, at = [], 0
    for hit in found:
        if hit.end() == hit.start():
            continue
        if hit.start() > at:
            pieces.append(Piece(text[at:hit.start()], False))
        pieces.append(Piece(hit.group(0), True))
        at = hit.end()
    if at < len(text):
        pieces.append(Piece(text[at:], False))
    return pieces
