"""SQL of alert intake and incidents, written once for both dialects (see ``dialect``).

Purpose: store notifications and carry out the pure decisions (``plan_alert``,
``transition``) on the stored incidents, so both backends give the same results for the same
calls. Boundary: every function takes a ``Tx`` and runs inside the caller's transaction; the
store decides when to commit, retries and maps driver errors.

Several PostgreSQL replicas may write at once. Intake takes a transaction-level lock per
incident key (``Tx.lock_keys``) before it looks for the open incident, so the look-up and the
insert of a new incident are one step for every replica; the partial unique index
``incidents_one_open`` backs it up (a violation makes the store retry the whole plan). State
changes lock the incident row (``{lock}``), as intake does when it attaches. SQLite has one
writer, the group commit, and needs neither.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from service.domain.alerts import Notification
from service.domain.incidents import (
    AlertPlan,
    AlertRecord,
    Counters,
    IdentityRules,
    Incident,
    IncidentSummary,
    OpenIncidentView,
    TimelineEntry,
    key_of,
    new_incident_id,
    plan_alert,
    record_of,
)
from service.domain.lifecycle import State, transition
from service.domain.messages import Message
from service.domain.policy_record import PolicyRecord
from service.store import outbox
from service.store.base import IncidentUpdate, IngestResult, StaleUpdate
from service.store.dialect import Tx, as_time


def storable(text: str) -> bool:
    """PostgreSQL text cannot hold NUL: a key with one names nothing stored (not an error)."""
    return "\x00" not in text


async def append(tx: Tx, incident_id: str, entry: TimelineEntry) -> None:
    await tx.execute("INSERT INTO timeline (incident_id, at, kind, entry) VALUES ($1, $2, $3, $4)",
                     incident_id, entry.at, entry.kind, entry.model_dump_json())


async def ingest(tx: Tx, notification: Notification, raw: bytes, now: datetime,
                 rules: IdentityRules, related_issue: str | None) -> IngestResult:
    """Store a notification and apply ``plan_alert`` to each of its alerts."""
    digest = hashlib.sha256(raw).hexdigest()
    row = await tx.fetchrow(
        "INSERT INTO notifications (digest, received_at, group_key, status, receiver,"
        " truncated_alerts, body) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (digest) DO UPDATE SET deliveries = notifications.deliveries + 1"
        " RETURNING id, deliveries",
        digest, now, notification.groupKey, notification.status, notification.receiver,
        notification.truncatedAlerts, raw.decode("utf-8"))
    assert row is not None
    notification_id, deliveries = int(row[0]), int(row[1])
    if deliveries > 1:
        return IngestResult(notification_id, redelivery=True)
    if tx.shared:
        await tx.lock_keys([f"incident-key\x1f{k.namespace}\x1f{k.signature}"
                            for k in (key_of(a.labels, rules) for a in notification.alerts)])
    plans = [await _ingest_alert(tx, notification, i, notification_id, now, rules,
                                 related_issue)
             for i in range(len(notification.alerts))]
    result = IngestResult(notification_id, redelivery=False, plans=plans)
    if tx.shared:
        await tx.announce(result.incidents)
    return result


async def _ingest_alert(tx: Tx, notification: Notification, index: int,
                        notification_id: int, now: datetime, rules: IdentityRules,
                        related_issue: str | None) -> AlertPlan:
    alert = notification.alerts[index]
    delivery = alert.delivery_key(notification.groupKey)
    seen = await tx.fetchval("SELECT 1 FROM alerts WHERE delivery_key = $1", delivery)
    key = key_of(alert.labels, rules)
    open_row = await tx.fetchrow(
        "SELECT id, first_failure_at, job_kinds FROM incidents WHERE namespace = $1"
        " AND signature = $2 AND state <> 'resolved' {lock}", key.namespace, key.signature)
    open_view = (OpenIncidentView(open_row[0], as_time(open_row[1]),
                                  tuple(json.loads(open_row[2]))) if open_row else None)
    by_fp = None
    if alert.status == "resolved" and not seen:
        by_fp = await tx.fetchval(
            "SELECT incident_id FROM alerts WHERE fingerprint = $1 AND incident_id IS NOT NULL"
            " ORDER BY received_at DESC, {seq} DESC LIMIT 1", alert.fingerprint)
    plan = plan_alert(alert, rules=rules, seen_before=seen is not None, open_incident=open_view,
                      incident_of_fingerprint=by_fp, now=now, new_id=new_incident_id)
    if plan.action == "duplicate":
        return plan
    if plan.action == "open":
        assert plan.first_failure_at is not None
        await tx.execute(
            "INSERT INTO incidents (id, namespace, signature, state, opened_at, updated_at,"
            " first_failure_at, related_issue, job_kinds, alerts_firing)"
            " VALUES ($1, $2, $3, 'open', $4, $4, $5, $6, $7, 1)",
            plan.incident_id, key.namespace, key.signature, now, plan.first_failure_at,
            related_issue, json.dumps([plan.job_kind] if plan.job_kind else []))
    elif plan.action == "attach":
        assert open_view is not None and plan.first_failure_at is not None
        kinds = list(open_view.job_kinds)
        if plan.job_kind and plan.job_kind not in kinds:
            kinds.append(plan.job_kind)
        await tx.execute(
            "UPDATE incidents SET alerts_firing = alerts_firing + 1, updated_at = $1,"
            " first_failure_at = $2, job_kinds = $3 WHERE id = $4",
            now, plan.first_failure_at, json.dumps(kinds), plan.incident_id)
    elif plan.action == "resolve":
        await tx.execute("UPDATE incidents SET alerts_resolved = alerts_resolved + 1,"
                         " updated_at = $1 WHERE id = $2", now, plan.incident_id)
    await tx.execute(
        "INSERT INTO alerts (delivery_key, incident_id, notification_id, fingerprint, status,"
        " received_at, record) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        delivery, plan.incident_id, notification_id, alert.fingerprint, alert.status, now,
        record_of(alert, notification.groupKey, now).model_dump_json())
    if plan.entry is not None and plan.incident_id is not None:
        await append(tx, plan.incident_id, plan.entry)
    return plan


async def update(tx: Tx, incident_id: str, change: IncidentUpdate, now: datetime) -> None:
    """Apply one ``IncidentUpdate`` (inside the caller's transaction)."""
    row = await tx.fetchrow("SELECT state, {policy_version} FROM incidents WHERE id = $1 {lock}",
                            incident_id) if storable(incident_id) else None
    if row is None:
        raise KeyError(incident_id)
    stored = int(row[1])
    if change.policy is not None and change.policy.version != stored + 1:
        raise StaleUpdate(f"incident {incident_id}: policy version {stored} stored, "
                          f"{change.policy.version} written")
    current = State(row[0])
    state = current if change.state in (None, current) else transition(current, change.state)
    args: list[Any] = [state.value, now]
    sets = ["state = $1", "updated_at = $2"]

    def put(column: str, value: Any) -> None:
        args.append(value)
        sets.append(f"{column} = ${len(args)}")

    if state is State.RESOLVED and current is not State.RESOLVED:
        put("resolved_at", now)
    if change.policy is not None:
        put("policy", change.policy.model_dump_json())
        put("mttr_s", change.policy.mttr_s)
    if change.escalated:
        sets.append("escalated = TRUE")
    args.append(incident_id)
    await tx.execute(
        f"UPDATE incidents SET {', '.join(sets)} WHERE id = ${len(args)}",  # noqa: S608 - fixed
        *args)
    if change.evidence is not None:
        await outbox.save_evidence(tx, change.evidence)
    for entry in change.entries:
        await append(tx, incident_id, entry)
    for message, sinks in change.messages:
        await enqueue(tx, message, sinks, now)


async def enqueue(tx: Tx, message: Message, sinks: list[str], now: datetime) -> list[int]:
    """Queue ``message`` for ``sinks`` and, when anything was new, say so on the timeline."""
    ids = await outbox.enqueue(tx, message, sinks, now) if sinks else []
    if ids:
        await append(tx, message.incident_id, TimelineEntry(
            at=now, kind="notification_queued",
            message=f"{message.event} message queued for {', '.join(sinks)}",
            data={"key": message.key, "sinks": sinks}))
    return ids


async def active_incidents(tx: Tx) -> list[str]:
    rows = await tx.fetch(
        "SELECT id FROM incidents WHERE state <> 'resolved' ORDER BY opened_at, {seq}")
    return [r[0] for r in rows]


_INCIDENT = ("SELECT id, namespace, signature, job_kinds, state, escalated, opened_at,"
             " updated_at, resolved_at, first_failure_at, related_issue, alerts_firing,"
             " alerts_resolved, policy FROM incidents WHERE id = $1")


async def get_incident(tx: Tx, incident_id: str) -> Incident | None:
    row = await tx.fetchrow(_INCIDENT, incident_id) if storable(incident_id) else None
    if row is None:
        return None
    alerts = [AlertRecord.model_validate_json(r[0]) for r in await tx.fetch(
        "SELECT record FROM alerts WHERE incident_id = $1 ORDER BY received_at, {seq}",
        incident_id)]
    timeline = [TimelineEntry.model_validate_json(r[0]) for r in await tx.fetch(
        "SELECT entry FROM timeline WHERE incident_id = $1 ORDER BY id", incident_id)]
    return Incident(
        id=row[0], namespace=row[1], signature=row[2], job_kinds=json.loads(row[3]),
        state=State(row[4]), escalated=bool(row[5]), opened_at=row[6], updated_at=row[7],
        resolved_at=row[8], first_failure_at=row[9], related_issue=row[10],
        counters=Counters(alerts_firing=row[11], alerts_resolved=row[12]),
        policy=PolicyRecord.model_validate_json(row[13]),
        alerts=alerts, timeline=timeline,
        evidence=await outbox.evidence_of(tx, incident_id),
        deliveries=await outbox.deliveries_of(tx, incident_id),
    )


async def list_incidents(tx: Tx, state: State | None, limit: int,
                         before: str | None = None) -> list[IncidentSummary]:
    """Newest first; ``before`` (an incident id) starts after that incident (keyset
    pagination: stable while new incidents arrive). An unknown ``before`` is a KeyError."""
    sql = ("SELECT id, namespace, signature, state, escalated, opened_at, updated_at,"
           " first_failure_at FROM incidents")
    where: list[str] = []
    args: list[Any] = []
    if state is not None:
        args.append(state.value)
        where.append(f"state = ${len(args)}")
    if before is not None:
        if not storable(before) or await tx.fetchval(
                "SELECT 1 FROM incidents WHERE id = $1", before) is None:
            raise KeyError(before)
        args.append(before)
        # S608 below: the SQL holds placeholders only; the values go in ``args``.
        where.append(f"(opened_at, {{seq}}) < (SELECT opened_at, {{seq}} FROM incidents"  # noqa: S608
                     f" WHERE id = ${len(args)})")
    if where:
        sql += " WHERE " + " AND ".join(where)
    args.append(limit)
    sql += f" ORDER BY opened_at DESC, {{seq}} DESC LIMIT ${len(args)}"
    return [
        IncidentSummary(id=r[0], namespace=r[1], signature=r[2], state=State(r[3]),
                        escalated=bool(r[4]), opened_at=r[5], updated_at=r[6],
                        first_failure_at=r[7])
        for r in await tx.fetch(sql, *args)
    ]


async def count_by_state(tx: Tx) -> dict[str, int]:
    rows = await tx.fetch("SELECT state, COUNT(*) FROM incidents GROUP BY state")
    return {str(r[0]): int(r[1]) for r in rows}
