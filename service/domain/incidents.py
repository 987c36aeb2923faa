"""Incidents: identity, lifecycle and timeline, as pure data and pure functions.

An incident is one problem: one open incident per ``namespace + error_signature`` (the alert
catalog's dedup rule). ``transition()`` is the only way a state changes, and it rejects illegal
moves. ``plan_alert()`` decides what one alert of a notification does to the incidents; the
store carries the decision out inside its transaction. Nothing here does I/O.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.domain.alerts import Alert
from service.domain.evidence import EvidenceBundle
from service.domain.lifecycle import State
from service.domain.messages import Delivery
from service.domain.policy_record import PolicyRecord


class TimelineEntry(BaseModel):
    """One thing that happened to an incident, in the order it happened."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    kind: str
    message: str
    data: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, at: datetime, kind: str, message: str, **data: object) -> TimelineEntry:
        """A line with its data as keyword arguments."""
        return cls(at=at, kind=kind, message=message, data=dict(data))


class AlertRecord(BaseModel):
    """An alert as received, attached to an incident (or to none, for a stray resolve)."""

    model_config = ConfigDict(frozen=True)

    fingerprint: str
    status: Literal["firing", "resolved"]
    alertname: str
    starts_at: datetime
    ends_at: datetime | None
    received_at: datetime
    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str
    group_key: str


class Counters(BaseModel):
    alerts_firing: int = 0
    alerts_resolved: int = 0


class Incident(BaseModel):
    """The whole story of one incident, as the read API shows it."""

    id: str
    namespace: str
    signature: str
    job_kinds: list[str] = Field(default_factory=list)
    state: State
    escalated: bool = False
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    first_failure_at: datetime
    related_issue: str | None = None
    counters: Counters = Field(default_factory=Counters)
    alerts: list[AlertRecord] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    policy: PolicyRecord = Field(default_factory=PolicyRecord)
    evidence: list[EvidenceBundle] = Field(default_factory=list)
    deliveries: list[Delivery] = Field(default_factory=list)

    @property
    def latest_evidence(self) -> EvidenceBundle | None:
        return self.evidence[-1] if self.evidence else None


class IncidentSummary(BaseModel):
    """One row of ``GET /incidents``."""

    id: str
    namespace: str
    signature: str
    state: State
    escalated: bool
    opened_at: datetime
    updated_at: datetime
    first_failure_at: datetime


@dataclass(frozen=True)
class IdentityRules:
    """Which labels make an incident's identity; from config."""

    default_namespace: str
    namespace_label: str = "namespace"
    signature_label: str = "error_signature"
    job_kind_label: str = "job_kind"
    alert_signatures: Mapping[str, str] = field(default_factory=dict)  # alertname -> signature


@dataclass(frozen=True)
class IncidentKey:
    namespace: str
    signature: str


def key_of(labels: Mapping[str, str], rules: IdentityRules) -> IncidentKey:
    """The catalog's identity: namespace + error signature.

    The signature is the ``error_signature`` label, else the signature configured for the
    alert name (both catalog alerts of the cache problem are one incident), else the name.
    """
    namespace = labels.get(rules.namespace_label) or rules.default_namespace
    alertname = labels.get("alertname", "")
    signature = (labels.get(rules.signature_label) or rules.alert_signatures.get(alertname)
                 or alertname or "unknown")
    return IncidentKey(namespace=namespace, signature=signature)


def new_incident_id(now: datetime) -> str:
    """Sortable by time, readable on a phone, unique without coordination."""
    return f"inc-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def record_of(alert: Alert, group_key: str, received_at: datetime) -> AlertRecord:
    return AlertRecord(
        fingerprint=alert.fingerprint,
        status=alert.status,
        alertname=alert.labels.get("alertname", ""),
        starts_at=alert.startsAt,
        ends_at=alert.ends,
        received_at=received_at,
        labels=dict(alert.labels),
        annotations=dict(alert.annotations),
        generator_url=alert.generatorURL,
        group_key=group_key,
    )


@dataclass(frozen=True)
class OpenIncidentView:
    """What ``plan_alert`` needs to know of the open incident for a key."""

    id: str
    first_failure_at: datetime
    job_kinds: tuple[str, ...]


@dataclass(frozen=True)
class AlertPlan:
    """What one alert does: open an incident, attach to one, note a resolve, or nothing."""

    action: Literal["duplicate", "open", "attach", "resolve", "orphan"]
    incident_id: str | None
    key: IncidentKey
    entry: TimelineEntry | None = None
    first_failure_at: datetime | None = None
    job_kind: str | None = None


def plan_alert(
    alert: Alert,
    *,
    rules: IdentityRules,
    seen_before: bool,
    open_incident: OpenIncidentView | None,
    incident_of_fingerprint: str | None,
    now: datetime,
    new_id: Callable[[datetime], str],
) -> AlertPlan:
    """Decide what one alert does to the incidents (pure: the store applies the plan).

    ``seen_before``: this exact delivery (group key, fingerprint, startsAt, status) is stored.
    ``open_incident``: the open incident for the alert's key, if any.
    ``incident_of_fingerprint``: the latest incident that holds this alert's fingerprint.
    ``new_id``: names a new incident (``new_incident_id``; injected, as the clock is).
    """
    key = key_of(alert.labels, rules)
    job_kind = alert.labels.get(rules.job_kind_label)
    name = alert.labels.get("alertname", "alert")
    if seen_before:
        return AlertPlan("duplicate", None, key)
    if alert.status == "resolved":
        target = incident_of_fingerprint or (open_incident.id if open_incident else None)
        if target is None:
            return AlertPlan("orphan", None, key)
        entry = TimelineEntry(
            at=now,
            kind="alert_resolved",
            message=f"Alertmanager reports {name} resolved (the incident stays until recovery)",
            data={"fingerprint": alert.fingerprint, "ends_at": _iso(alert.ends)},
        )
        return AlertPlan("resolve", target, key, entry)
    if open_incident is None:
        entry = TimelineEntry(
            at=now,
            kind="opened",
            message=f"{name} firing in {key.namespace}: incident opened for {key.signature}",
            data={"fingerprint": alert.fingerprint, "starts_at": alert.startsAt.isoformat(),
                  "job_kind": job_kind},
        )
        return AlertPlan("open", new_id(now), key, entry, alert.startsAt, job_kind)
    entry = TimelineEntry(
        at=now,
        kind="alert_attached",
        message=f"{name} firing again (fingerprint {alert.fingerprint[:12]}), attached",
        data={"fingerprint": alert.fingerprint, "starts_at": alert.startsAt.isoformat(),
              "job_kind": job_kind},
    )
    first = min(open_incident.first_failure_at, alert.startsAt)
    return AlertPlan("attach", open_incident.id, key, entry, first, job_kind)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
