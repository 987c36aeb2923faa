"""SQL of the outbox and the evidence table, for ``PostgresStore`` (PostgreSQL, asyncpg).

Purpose: the same statements as ``sqlite_outbox`` for several replicas working one outbox.
``claim_due`` takes rows ``FOR UPDATE SKIP LOCKED`` (two replicas never claim the same row at
once) and leases each claim as SQLite does (``next_attempt_at`` moves to the lease's end): a
replica's in-flight send is not repeated by another, a crashed replica's sends are due again
once the lease ends. A store that closes gives back the claims it holds (``claimed_by``), so
a graceful restart resumes at once; SQLite gives back every claim when it opens, which only
a single process may do.
Boundary: functions run inside the caller's transaction on an asyncpg connection.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from service.domain.evidence import EvidenceBundle
from service.domain.incidents import TimelineEntry
from service.domain.messages import Delivery, Message

Conn = Any  # asyncpg.Connection (the driver ships no type hints)

_DELIVERY_COLUMNS = ("id, incident_id, sink, key, event, status, attempts, next_attempt_at,"
                     " last_error, created_at, delivered_at, message")
_CLAIM = (
    "WITH due AS (SELECT id, next_attempt_at FROM deliveries"
    " WHERE status IN ('pending', 'sending') AND next_attempt_at <= $1"
    " ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)"
    " UPDATE deliveries AS d SET status = 'sending', attempts = d.attempts + 1,"
    " next_attempt_at = $3, claimed_by = $4 FROM due WHERE d.id = due.id"
    " RETURNING d.id, d.incident_id, d.sink, d.key, d.event, d.status, d.attempts,"
    " due.next_attempt_at, d.last_error, d.created_at, d.delivered_at, d.message"
)


def storable(text: str) -> bool:
    """PostgreSQL text cannot hold NUL: a key with one names nothing stored (not an error)."""
    return "\x00" not in text


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row["id"], incident_id=row["incident_id"], sink=row["sink"], key=row["key"],
        event=row["event"], status=row["status"], attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"], last_error=row["last_error"],
        created_at=row["created_at"], delivered_at=row["delivered_at"],
        message=Message.model_validate_json(row["message"]),
    )


def queued_entry(message: Message, sinks: list[str], now: datetime) -> TimelineEntry:
    """The timeline line for a message queued for ``sinks`` (as the SQLite store writes it)."""
    return TimelineEntry(at=now, kind="notification_queued",
                         message=f"{message.event} message queued for {', '.join(sinks)}",
                         data={"key": message.key, "sinks": sinks})


async def enqueue(conn: Conn, message: Message, sinks: list[str], now: datetime) -> list[int]:
    """Add one delivery per sink; a (incident, sink, key) already queued is left alone."""
    ids = []
    body = message.model_dump_json()
    for sink in sinks:
        new_id = await conn.fetchval(
            "INSERT INTO deliveries (incident_id, sink, key, event, status, next_attempt_at,"
            " created_at, message) VALUES ($1, $2, $3, $4, 'pending', $5, $5, $6)"
            " ON CONFLICT (incident_id, sink, key) DO NOTHING RETURNING id",
            message.incident_id, sink, message.key, message.event, now, body)
        if new_id is not None:
            ids.append(int(new_id))
    return ids


async def claim_due(conn: Conn, now: datetime, limit: int, lease_s: float,
                    owner: str) -> list[Delivery]:
    """Due deliveries, marked ``sending`` with one more attempt and leased until
    ``now + lease_s``, recorded before the send; each as it was when it fell due."""
    rows = await conn.fetch(_CLAIM, now, limit, now + timedelta(seconds=lease_s), owner)
    claimed = [_delivery(r) for r in rows]
    return sorted(claimed, key=lambda d: (d.next_attempt_at, d.id))


async def finish(conn: Conn, delivery_id: int, *, delivered: bool, now: datetime,
                 error: str | None, retry_at: datetime | None) -> None:
    """Record a send's outcome: delivered, to retry at ``retry_at``, or failed for good."""
    if delivered:
        status, delivered_at, next_at, error = "delivered", now, None, None
    elif retry_at is not None:
        status, delivered_at, next_at = "pending", None, retry_at
    else:
        status, delivered_at, next_at = "failed", None, None
    await conn.execute(
        "UPDATE deliveries SET status = $1, delivered_at = COALESCE($2, delivered_at),"
        " next_attempt_at = COALESCE($3, next_attempt_at), last_error = $4,"
        " claimed_by = NULL WHERE id = $5",
        status, delivered_at, next_at, error, delivery_id)


async def release_claims(conn: Conn, owner: str) -> int:
    """Give back the claims of ``owner`` (a store closing): due again at once elsewhere."""
    status = await conn.execute(
        "UPDATE deliveries SET next_attempt_at = created_at, claimed_by = NULL"
        " WHERE claimed_by = $1 AND status = 'sending'", owner)
    return int(status.split()[-1])


async def deliveries_of(conn: Conn, incident_id: str) -> list[Delivery]:
    if not storable(incident_id):
        return []
    rows = await conn.fetch(
        f"SELECT {_DELIVERY_COLUMNS} FROM deliveries"  # noqa: S608 - constant columns
        " WHERE incident_id = $1 ORDER BY id", incident_id)
    return [_delivery(r) for r in rows]


async def count_deliveries(conn: Conn) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")
    return {str(r["status"]): int(r["n"]) for r in rows}


async def save_evidence(conn: Conn, bundle: EvidenceBundle) -> int:
    new_id = await conn.fetchval(
        "INSERT INTO evidence (incident_id, collected_at, bundle) VALUES ($1, $2, $3)"
        " RETURNING id", bundle.incident_id, bundle.collected_at, bundle.model_dump_json())
    return int(new_id)


async def evidence_of(conn: Conn, incident_id: str) -> list[EvidenceBundle]:
    if not storable(incident_id):
        return []
    rows = await conn.fetch(
        "SELECT bundle FROM evidence WHERE incident_id = $1 ORDER BY id", incident_id)
    return [EvidenceBundle.model_validate_json(r["bundle"]) for r in rows]
