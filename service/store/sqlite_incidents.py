"""SQL of alert intake and incidents, for ``SqliteStore`` (SQLite dialect, synchronous).

Every function takes a ``sqlite3.Connection`` and runs inside the caller's transaction, on the
store's connection thread; the store decides when to commit.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
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
from service.domain.policy_record import PolicyRecord
from service.store import sqlite_outbox
from service.store.base import IncidentUpdate, IngestResult, StaleUpdate


def iso(value: datetime) -> str:
    return value.isoformat()


def one(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...] = ()) -> Any:
    return conn.execute(sql, args).fetchone()


def append(conn: sqlite3.Connection, incident_id: str, entry: TimelineEntry,
           stamp: str | None = None) -> None:
    """Add a timeline line; ``stamp`` is ``iso(entry.at)`` when the caller has it already."""
    conn.execute(
        "INSERT INTO timeline (incident_id, at, kind, entry) VALUES (?, ?, ?, ?)",
        (incident_id, stamp or iso(entry.at), entry.kind, entry.model_dump_json()),
    )


def ingest(conn: sqlite3.Connection, notification: Notification, raw: bytes, now: datetime,
           rules: IdentityRules, related_issue: str | None) -> IngestResult:
    """Store a notification and apply ``plan_alert`` to each of its alerts."""
    digest = hashlib.sha256(raw).hexdigest()
    stamp = iso(now)  # once: an aware datetime's isoformat costs microseconds each call
    row = one(
        conn,
        "INSERT INTO notifications (digest, received_at, group_key, status, receiver,"
        " truncated_alerts, body) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (digest) DO UPDATE SET deliveries = deliveries + 1"
        " RETURNING id, deliveries",
        (digest, stamp, notification.groupKey, notification.status, notification.receiver,
         notification.truncatedAlerts, raw.decode("utf-8")),
    )
    notification_id, deliveries = int(row[0]), int(row[1])
    if deliveries > 1:
        return IngestResult(notification_id, redelivery=True)
    plans = [_ingest_alert(conn, notification, i, notification_id, now, stamp, rules,
                           related_issue) for i in range(len(notification.alerts))]
    return IngestResult(notification_id, redelivery=False, plans=plans)


def _ingest_alert(conn: sqlite3.Connection, notification: Notification, index: int,
                  notification_id: int, now: datetime, stamp: str, rules: IdentityRules,
                  related_issue: str | None) -> AlertPlan:
    alert = notification.alerts[index]
    delivery = alert.delivery_key(notification.groupKey)
    seen = one(conn, "SELECT 1 FROM alerts WHERE delivery_key = ?", (delivery,))
    key = key_of(alert.labels, rules)
    open_row = one(conn, "SELECT id, first_failure_at, job_kinds FROM incidents"
                         " WHERE namespace = ? AND signature = ? AND state <> 'resolved'",
                   (key.namespace, key.signature))
    open_view = (OpenIncidentView(open_row[0], datetime.fromisoformat(open_row[1]),
                                  tuple(json.loads(open_row[2]))) if open_row else None)
    by_fp = None
    if alert.status == "resolved" and not seen:
        fp_row = one(conn, "SELECT incident_id FROM alerts WHERE fingerprint = ?"
                           " AND incident_id IS NOT NULL ORDER BY received_at DESC LIMIT 1",
                     (alert.fingerprint,))
        by_fp = fp_row[0] if fp_row else None
    plan = plan_alert(alert, rules=rules, seen_before=seen is not None, open_incident=open_view,
                      incident_of_fingerprint=by_fp, now=now, new_id=new_incident_id)
    if plan.action == "duplicate":
        return plan
    if plan.action == "open":
        assert plan.first_failure_at is not None
        conn.execute(
            "INSERT INTO incidents (id, namespace, signature, state, opened_at, updated_at,"
            " first_failure_at, related_issue, job_kinds, alerts_firing)"
            " VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?, 1)",
            (plan.incident_id, key.namespace, key.signature, stamp, stamp,
             iso(plan.first_failure_at), related_issue,
             json.dumps([plan.job_kind] if plan.job_kind else [])),
        )
    elif plan.action == "attach":
        assert open_view is not None and plan.first_failure_at is not None
        kinds = list(open_view.job_kinds)
        if plan.job_kind and plan.job_kind not in kinds:
            kinds.append(plan.job_kind)
        conn.execute(
            "UPDATE incidents SET alerts_firing = alerts_firing + 1, updated_at = ?,"
            " first_failure_at = ?, job_kinds = ? WHERE id = ?",
            (stamp, iso(plan.first_failure_at), json.dumps(kinds), plan.incident_id),
        )
    elif plan.action == "resolve":
        conn.execute("UPDATE incidents SET alerts_resolved = alerts_resolved + 1,"
                     " updated_at = ? WHERE id = ?", (stamp, plan.incident_id))
    conn.execute(
        "INSERT INTO alerts (delivery_key, incident_id, notification_id, fingerprint, status,"
        " received_at, record) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (delivery, plan.incident_id, notification_id, alert.fingerprint, alert.status,
         stamp, record_of(alert, notification.groupKey, now).model_dump_json()),
    )
    if plan.entry is not None and plan.incident_id is not None:
        append(conn, plan.incident_id, plan.entry, stamp)
    return plan


def move(conn: sqlite3.Connection, incident_id: str, target: State,
         entry: TimelineEntry) -> None:
    """Change the state through ``transition()`` (raises on an illegal move)."""
    row = one(conn, "SELECT state FROM incidents WHERE id = ?", (incident_id,))
    if row is None:
        raise KeyError(incident_id)
    state = transition(State(row[0]), target)
    resolved_at = iso(entry.at) if state is State.RESOLVED else None
    conn.execute(
        "UPDATE incidents SET state = ?, updated_at = ?, resolved_at = COALESCE(?, resolved_at)"
        " WHERE id = ?", (state.value, iso(entry.at), resolved_at, incident_id))
    append(conn, incident_id, entry)


def update(conn: sqlite3.Connection, incident_id: str, change: IncidentUpdate,
           now: datetime) -> None:
    """Apply one ``IncidentUpdate`` (inside the caller's transaction)."""
    row = one(conn, "SELECT state, json_extract(policy, '$.version') FROM incidents"
                    " WHERE id = ?", (incident_id,))
    if row is None:
        raise KeyError(incident_id)
    if change.policy is not None and change.policy.version != (row[1] or 0) + 1:
        raise StaleUpdate(f"incident {incident_id}: policy version {row[1] or 0} stored, "
                          f"{change.policy.version} written")
    current = State(row[0])
    state = current if change.state in (None, current) else transition(current, change.state)
    sets = ["state = ?", "updated_at = ?"]
    args: list[Any] = [state.value, iso(now)]
    if state is State.RESOLVED and current is not State.RESOLVED:
        sets.append("resolved_at = ?")
        args.append(iso(now))
    if change.policy is not None:
        sets += ["policy = ?", "mttr_s = ?"]
        args += [change.policy.model_dump_json(), change.policy.mttr_s]
    if change.escalated:
        sets.append("escalated = 1")
    conn.execute(f"UPDATE incidents SET {', '.join(sets)} WHERE id = ?",  # noqa: S608 - fixed
                 (*args, incident_id))
    if change.evidence is not None:
        sqlite_outbox.save_evidence(conn, change.evidence)
    for entry in change.entries:
        append(conn, incident_id, entry)
    for message, sinks in change.messages:
        if sinks and sqlite_outbox.enqueue(conn, message, sinks, now):
            append(conn, incident_id, TimelineEntry(
                at=now, kind="notification_queued",
                message=f"{message.event} message queued for {', '.join(sinks)}",
                data={"key": message.key, "sinks": sinks}))


def active_incidents(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT id FROM incidents WHERE state <> 'resolved' ORDER BY opened_at, rowid")]


_INCIDENT_COLUMNS = ("id, namespace, signature, job_kinds, state, escalated, opened_at,"
                     " updated_at, resolved_at, first_failure_at, related_issue, alerts_firing,"
                     " alerts_resolved, policy")


def get_incident(conn: sqlite3.Connection, incident_id: str) -> Incident | None:
    sql = f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = ?"  # noqa: S608 - constant
    row = one(conn, sql, (incident_id,))
    if row is None:
        return None
    alerts = [AlertRecord.model_validate_json(r[0]) for r in conn.execute(
        "SELECT record FROM alerts WHERE incident_id = ? ORDER BY received_at, rowid",
        (incident_id,))]
    timeline = [TimelineEntry.model_validate_json(r[0]) for r in conn.execute(
        "SELECT entry FROM timeline WHERE incident_id = ? ORDER BY id", (incident_id,))]
    return Incident(
        id=row[0], namespace=row[1], signature=row[2], job_kinds=json.loads(row[3]),
        state=State(row[4]), escalated=bool(row[5]), opened_at=row[6], updated_at=row[7],
        resolved_at=row[8], first_failure_at=row[9], related_issue=row[10],
        counters=Counters(alerts_firing=row[11], alerts_resolved=row[12]),
        policy=PolicyRecord.model_validate_json(row[13]),
        alerts=alerts, timeline=timeline,
        evidence=sqlite_outbox.evidence_of(conn, incident_id),
        deliveries=sqlite_outbox.deliveries_of(conn, incident_id),
    )


def list_incidents(conn: sqlite3.Connection, state: State | None, limit: int,
                   before: str | None = None) -> list[IncidentSummary]:
    """Newest first; ``before`` (an incident id) starts after that incident (keyset
    pagination: stable while new incidents arrive). An unknown ``before`` is a KeyError."""
    sql = ("SELECT id, namespace, signature, state, escalated, opened_at, updated_at,"
           " first_failure_at FROM incidents")
    where: list[str] = []
    args: list[Any] = []
    if state is not None:
        where.append("state = ?")
        args.append(state.value)
    if before is not None:
        if conn.execute("SELECT 1 FROM incidents WHERE id = ?", (before,)).fetchone() is None:
            raise KeyError(before)
        where.append("(opened_at, rowid) < (SELECT opened_at, rowid FROM incidents WHERE id = ?)")
        args.append(before)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY opened_at DESC, rowid DESC LIMIT ?"
    return [
        IncidentSummary(id=r[0], namespace=r[1], signature=r[2], state=State(r[3]),
                        escalated=bool(r[4]), opened_at=r[5], updated_at=r[6],
                        first_failure_at=r[7])
        for r in conn.execute(sql, (*args, limit))
    ]


def count_by_state(conn: sqlite3.Connection) -> dict[str, int]:
    return {str(r[0]): int(r[1]) for r in conn.execute(
        "SELECT state, COUNT(*) FROM incidents GROUP BY state")}
