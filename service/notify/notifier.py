"""What the runbook tells people: each message composed from the facts of its decision.

Purpose: the one place the runbook (and the mitigator) turn a decision into messages routed to
sinks: the evidence message with the first decision's next step, escalations, the approval
request and the final update, each from the policy record and the cluster facts *as of the
decision that sends it*; and the one wake-up call of the outbox. Messages are returned, to be
stored with the decision in one transaction; nothing is sent from here.
Boundary: composition is in ``service.domain``; sending is the outbox's.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from service.domain.decision_message import (
    compose_approval_request,
    compose_escalation,
    compose_mitigated,
    compose_resolved,
)
from service.domain.evidence import EvidenceBundle
from service.domain.evidence_message import compose_evidence
from service.domain.facts import Facts
from service.domain.incidents import Incident, TimelineEntry
from service.domain.messages import Message
from service.domain.policy import Decision, Escalate, RequestApproval, Resolve
from service.domain.policy_record import PolicyRecord
from service.domain.runbook_text import RunbookText, decided_steps

Router = Callable[[Message], list[str]]
Queued = tuple[Message, list[str]]


class Notifier:
    """Composes and routes the runbook's messages; wakes the outbox once they are stored."""

    def __init__(self, *, route: Router, wake_outbox: Callable[[], None], text: RunbookText,
                 public_url: str, rollback_plan: str) -> None:
        self._route, self._wake = route, wake_outbox
        self.text, self.public_url, self._rollback_plan = text, public_url, rollback_plan

    def queue(self, message: Message) -> Queued:
        return message, self._route(message)

    def wake(self) -> None:
        """The messages are stored: the outbox may send them now."""
        self._wake()

    def evidence(self, incident: Incident, bundle: EvidenceBundle, decision: Decision,
                 number: int) -> Queued:
        """The first (or a later) evidence message, written after the decision on it, so its
        next step is what the responder does, or what it needs a person to do."""
        switch = bundle.kill_switch.data
        steps = decided_steps(bundle.signature, decision.record.mitigation.status,
                              confirmed=bundle.confirmed,
                              switch_value=switch.value if switch is not None else None,
                              text=self.text)
        return self.queue(compose_evidence(incident, bundle, text=self.text,
                                           public_url=self.public_url, key=f"evidence-{number}",
                                           next_step=steps))

    def mitigated(self, incident: Incident, record: PolicyRecord, now: datetime) -> Queued:
        return self.queue(compose_mitigated(incident, record, text=self.text,
                                            public_url=self.public_url, now=now))

    def for_decision(self, incident: Incident, decision: Decision, facts: Facts | None,
                     entries: list[TimelineEntry], now: datetime) -> list[Queued]:
        """The escalations, approval request and final update of ``decision``, from
        ``facts`` (the cluster as that decision saw it), the record it leaves and the
        timeline with its ``entries``."""
        view = incident.model_copy(update={"state": decision.state,
                                           "timeline": [*incident.timeline, *entries]})
        out: list[Queued] = []
        for action in decision.actions:
            if isinstance(action, Escalate):
                out.append(self.queue(compose_escalation(
                    view, decision.record, action, facts=facts, text=self.text,
                    public_url=self.public_url, rollback_plan=self._rollback_plan, now=now)))
            elif isinstance(action, RequestApproval):
                out.append(self.queue(compose_approval_request(
                    view, decision.record, text=self.text, public_url=self.public_url,
                    now=now)))
            elif isinstance(action, Resolve):
                out.append(self.queue(compose_resolved(
                    view, decision.record, reason=action.reason, confirmed=action.confirmed,
                    text=self.text, public_url=self.public_url, now=now)))
        return out
