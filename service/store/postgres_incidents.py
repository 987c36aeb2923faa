"""SQL of alert intake and incidents, for ``PostgresStore`` (PostgreSQL dialect, asyncpg).

Purpose: the same statements as ``sqlite_incidents``, carrying out the same pure decisions
(``plan_alert``, ``transition``) so both backends give the same results for the same calls.
Boundary: every function takes an asyncpg connection and runs inside the caller's transaction;
the store decides when to commit, retries and maps driver errors.

Several replicas may write at once. Intake takes a transaction-level advisory lock per incident
key (sorted, so two notifications never deadlock) before it looks for the open incident, so the
look-up and the insert of a new incident are one step for every replica; the partial unique
index ``incidents_one_open`` backs it up (a violation makes the store retry the whole plan).
State changes lock the incident row (``FOR UPDATE``), as intake does when it attaches.
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
from service.domain.policy_record import PolicyRecord
from service.store import postgres_outbox
from service.store.base import IncidentUpdate, IngestResult, StaleUpdate

Conn = Any  # asyncpg.Connection (the driver ships no type hints)


async def append(conn: Conn, incident_id: str, entry: TimelineEntry) -> None:
    await conn.execute(
        "INSERT INTO timeline (incident_id, at, kind, entry) VALUES ($1, $2, $3, $4)",
        incident_id, entry.at, entry.kind, entry.model_dump_json())


async def ingest(conn: Conn, notification: Notification, raw: bytes, now: datetime,
                 rules: IdentityRules, related_issue: str | None) -> IngestResult:
    """Store a notification and apply ``plan_alert`` to each of its alerts."""
    digest = hashlib.sha256(raw).hexdigest()
    row = await conn.fetchrow(
        "INSERT INTO notifications (digest, received_at, group_key, status, receiver,"
        " truncated_alerts, body) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (digest) DO UPDATE SET deliveries = notifications.deliveries + 1"
        " RETURNING id, deliveries",
        digest, now, notification.groupKey, notification.status, notification.receiver,
        notification.truncatedAlerts, raw.decode("utf-8"))
    notification_id, deliveries = int(row["id"]), int(row["deliveries"])
    if deliveries > 1:
        return IngestResult(notification_id, redelivery=True)
    keys = sorted({(k.namespace, k.signature) for k in
                   (key_of(a.labels, rules) for a in notification.alerts)})
    for namespace, signature in keys:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                           f"incident-key\x1f{namespace}\x1f{signature}")
    plans = [await _ingest_alert(conn, notification, i, notification_id, now, rules,
                                 related_issue)
             for i in range(len(notification.alerts))]
    result = IngestResult(notification_id, redelivery=False, plans=plans)
    await announce(conn, result.incidents)
    return result


# Incidents changed by a replica's webhook are announced on this channel; PostgreSQL delivers
# the notice at commit, so the leader never hears of an incident it cannot read yet.
CHANGES_CHANNEL = "aislot_incidents_changed"
_NOTICE_BYTES = 7900  # a NOTIFY payload must stay under 8000 bytes


async def announce(conn: Conn, incident_ids: list[str]) -> None:
    """``pg_notify`` the ids, comma-separated, in as few notices as the payload limit allows."""
    notices: list[str] = []
    for incident_id in incident_ids:
        if notices and len(notices[-1]) + 1 + len(incident_id) <= _NOTICE_BYTES:
            notices[-1] += "," + incident_id
        else:
            notices.append(incident_id)
    for payload in notices:
        await conn.execute("SELECT pg_notify($1, $2)", CHANGES_CHANNEL, payload)


async def _ingest_alert(conn: Conn, notification: Notification, index: int,
                        notification_id: int, now: datetime, rules: IdentityRules,
                        related_issue: str | None) -> AlertPlan:
    alert = notification.alerts[index]
    delivery = alert.delivery_key(notification.groupKey)
    seen = await conn.fetchval("SELECT 1 FROM alerts WHERE delivery_key = $1", delivery)
    key = key_of(alert.labels, rules)
    open_row = await conn.fetchrow(
        "SELECT id, first_failure_at, job_kinds FROM incidents WHERE namespace = $1"
        " AND signature = $2 AND state <> 'resolved' FOR UPDATE", key.namespace, key.signature)
    open_view = (OpenIncidentView(open_row["id"], open_row["first_failure_at"],
                                  tuple(json.loads(open_row["job_kinds"])))
                 if open_row else None)
    by_fp = None
    if alert.status == "resolved" and not seen:
        by_fp = await conn.fetchval(
            "SELECT incident_id FROM alerts WHERE fingerprint = $1 AND incident_id IS NOT NULL"
            " ORDER BY received_at DESC, seq DESC LIMIT 1", alert.fingerprint)
    plan = plan_alert(alert, rules=rules, seen_before=seen is not None, open_incident=open_view,
                      incident_of_fingerprint=by_fp, now=now, new_id=new_incident_id)
    if plan.action == "duplicate":
        return plan
    if plan.action == "open":
        assert plan.first_failure_at is not None
        await conn.execute(
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
        await conn.execute(
            "UPDATE incidents SET alerts_firing = alerts_firing + 1, updated_at = $1,"
            " first_failure_at = $2, job_kinds = $3 WHERE id = $4",
            now, plan.first_failure_at, json.dumps(kinds), plan.incident_id)
    elif plan.action == "resolve":
        await conn.execute("UPDATE incidents SET alerts_resolved = alerts_resolved + 1,"
                           " updated_at = $1 WHERE id = $2", now, plan.incident_id)
    await conn.execute(
        "INSERT INTO alerts (delivery_key, incident_id, notification_id, fingerprint, status,"
        " received_at, record) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        delivery, plan.incident_id, notification_id, alert.fingerprint, alert.status, now,
        record_of(alert, notification.groupKey, now).model_dump_json())
    if plan.entry is not None and plan.incident_id is not None:
        await append(conn, plan.incident_id, plan.entry)
    return plan


async def _locked_state(conn: Conn, incident_id: str) -> State:
    if not postgres_outbox.storable(incident_id):
        raise KeyError(incident_id)
    state = await conn.fetchval("SELECT state FROM incidents WHERE id = $1 FOR UPDATE",
                                incident_id)
    if state is None:
        raise KeyError(incident_id)
    return State(state)


async def move(conn: Conn, incident_id: str, target: State, entry: TimelineEntry) -> None:
    """Change the state through ``transition()`` (raises on an illegal move)."""
    state = transition(await _locked_state(conn, incident_id), target)
    resolved_at = entry.at if state is State.RESOLVED else None
    await conn.execute(
        "UPDATE incidents SET state = $1, updated_at = $2,"
        " resolved_at = COALESCE($3, resolved_at) WHERE id = $4",
        state.value, entry.at, resolved_at, incident_id)
    await append(conn, incident_id, entry)


async def update(conn: Conn, incident_id: str, change: IncidentUpdate, now: datetime) -> None:
    """Apply one ``IncidentUpdate`` (inside the caller's transaction)."""
    current = await _locked_state(conn, incident_id)
    if change.policy is not None:
        stored = await conn.fetchval(
            "SELECT COALESCE((policy::json ->> 'version')::int, 0) FROM incidents WHERE id = $1",
            incident_id)
        if change.policy.version != stored + 1:
            raise StaleUpdate(f"incident {incident_id}: policy version {stored} stored, "
                              f"{change.policy.version} written")
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
    await conn.execute(
        f"UPDATE incidents SET {', '.join(sets)} WHERE id = ${len(args)}",  # noqa: S608 - fixed
        *args)
    if change.evidence is not None:
        await postgres_outbox.save_evidence(conn, change.evidence)
    for entry in change.entries:
        await append(conn, incident_id, entry)
    for message, sinks in change.messages:
        if sinks and await postgres_outbox.enqueue(conn, message, sinks, now):
            await append(conn, incident_id, postgres_outbox.queued_entry(message, sinks, now))


async def active_incidents(conn: Conn) -> list[str]:
    rows = await conn.fetch(
        "SELECT id FROM incidents WHERE state <> 'resolved' ORDER BY opened_at, seq")
    return [r["id"] for r in rows]


_INCIDENT_COLUMNS = ("id, namespace, signature, job_kinds, state, escalated, opened_at,"
                     " updated_at, resolved_at, first_failure_at, related_issue, alerts_firing,"
                     " alerts_resolved, policy")


async def get_incident(conn: Conn, incident_id: str) -> Incident | None:
    if not postgres_outbox.storable(incident_id):
        return None
    sql = f"SELECT {_INCIDENT_COLUMNS} FROM incidents WHERE id = $1"  # noqa: S608 - constant
    row = await conn.fetchrow(sql, incident_id)
    if row is None:
        return None
    alerts = [AlertRecord.model_validate_json(r["record"]) for r in await conn.fetch(
        "SELECT record FROM alerts WHERE incident_id = $1 ORDER BY received_at, seq",
        incident_id)]
    timeline = [TimelineEntry.model_validate_json(r["entry"]) for r in await conn.fetch(
        "SELECT entry FROM timeline WHERE incident_id = $1 ORDER BY id", incident_id)]
    return Incident(
        id=row["id"], namespace=row["namespace"], signature=row["signature"],
        job_kinds=json.loads(row["job_kinds"]), state=State(row["state"]),
        escalated=row["escalated"], opened_at=row["opened_at"], updated_at=row["updated_at"],
        resolved_at=row["resolved_at"], first_failure_at=row["first_failure_at"],
        related_issue=row["related_issue"],
        counters=Counters(alerts_firing=row["alerts_firing"],
                          alerts_resolved=row["alerts_resolved"]),
        policy=PolicyRecord.model_validate_json(row["policy"]),
        alerts=alerts, timeline=timeline,
        evidence=await postgres_outbox.evidence_of(conn, incident_id),
        deliveries=await postgres_outbox.deliveries_of(conn, incident_id),
    )


async def list_incidents(conn: Conn, state: State | None, limit: int,
                         before: str | None = None) -> list[IncidentSummary]:
    """Newest first, after ``before`` when given (see sqlite_incidents.list_incidents)."""
    sql = ("SELECT id, namespace, signature, state, escalated, opened_at, updated_at,"
           " first_failure_at FROM incidents")
    where: list[str] = []
    args: list[Any] = []
    if state is not None:
        args.append(state.value)
        where.append(f"state = ${len(args)}")
    if before is not None:
        if not postgres_outbox.storable(before) or await conn.fetchval(
                "SELECT 1 FROM incidents WHERE id = $1", before) is None:
            raise KeyError(before)
        args.append(before)
        where.append(f"(opened_at, seq) < (SELECT opened_at, seq FROM incidents"  # noqa: S608
                     f" WHERE id = ${len(args)})")  # placeholders only, values are args
    if where:
        sql += " WHERE " + " AND ".join(where)
    args.append(limit)
    sql += f" ORDER BY opened_at DESC, seq DESC LIMIT ${len(args)}"
    return [
        IncidentSummary(id=r["id"], namespace=r["namespace"], signature=r["signature"],
                        state=State(r["state"]), escalated=r["escalated"],
                        opened_at=r["opened_at"], updated_at=r["updated_at"],
                        first_failure_at=r["first_failure_at"])
        for r in await conn.fetch(sql, *args)
    ]


async def count_by_state(conn: Conn) -> dict[str, int]:
    rows = await conn.fetch("SELECT state, COUNT(*) AS n FROM incidents GROUP BY state")
    return {str(r["state"]): int(r["n"]) for r in rows}
