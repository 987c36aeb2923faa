"""SQL of the outbox and the evidence table, written once for both dialects (see ``dialect``).

Purpose: every message is stored before it is sent and its outcome after. ``claim_due`` marks
due deliveries ``sending`` with one more attempt and leases them (``next_attempt_at`` moves to
the lease's end), so another worker or replica does not send them again while they may be in
flight, and a crashed one's sends are due again once the lease ends. On PostgreSQL the rows
are taken ``FOR UPDATE SKIP LOCKED`` (two replicas never claim the same row at once). A store
that closes gives back the claims it holds (``claimed_by``), so a graceful restart resumes at
once; SQLite also gives back every claim when it opens, which only a file's single process
may do.
Boundary: functions run inside the caller's transaction on a ``Tx``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from service.domain.evidence import EvidenceBundle
from service.domain.messages import Delivery, Message
from service.store.dialect import Row, Tx

_DELIVERY_COLUMNS = ("id, incident_id, sink, key, event, status, attempts, next_attempt_at,"
                     " last_error, created_at, delivered_at, message")


def _delivery(row: Row) -> Delivery:
    return Delivery(
        id=row[0], incident_id=row[1], sink=row[2], key=row[3], event=row[4], status=row[5],
        attempts=row[6], next_attempt_at=row[7], last_error=row[8], created_at=row[9],
        delivered_at=row[10], message=Message.model_validate_json(row[11]),
    )


async def enqueue(tx: Tx, message: Message, sinks: list[str], now: datetime) -> list[int]:
    """Add one delivery per sink; a (incident, sink, key) already queued is left alone."""
    ids = []
    body = message.model_dump_json()
    for sink in sinks:
        new_id = await tx.fetchval(
            "INSERT INTO deliveries (incident_id, sink, key, event, status, next_attempt_at,"
            " created_at, message) VALUES ($1, $2, $3, $4, 'pending', $5, $5, $6)"
            " ON CONFLICT (incident_id, sink, key) DO NOTHING RETURNING id",
            message.incident_id, sink, message.key, message.event, now, body)
        if new_id is not None:
            ids.append(int(new_id))
    return ids


async def claim_due(tx: Tx, now: datetime, limit: int, lease_s: float,
                    owner: str) -> list[Delivery]:
    """Due deliveries, marked ``sending`` with one more attempt and leased until
    ``now + lease_s``, recorded before the send; each as it was when it fell due.

    A delivery left in ``sending`` by a crash is due again once its lease ends (the send may
    or may not have happened: sinks use idempotency keys or look before they post).
    """
    rows = await tx.fetch(
        f"SELECT {_DELIVERY_COLUMNS} FROM deliveries"  # noqa: S608 - constant columns
        " WHERE status IN ('pending', 'sending') AND next_attempt_at <= $1"
        " ORDER BY next_attempt_at, id LIMIT $2 {skip_locked}", now, limit)
    if not rows:
        return []
    lease = now + timedelta(seconds=lease_s)
    await tx.executemany(
        "UPDATE deliveries SET status = 'sending', attempts = attempts + 1,"
        " next_attempt_at = $1, claimed_by = $2 WHERE id = $3",
        [(lease, owner, row[0]) for row in rows])
    claimed = [_delivery(row) for row in rows]
    return [d.model_copy(update={"status": "sending", "attempts": d.attempts + 1})
            for d in claimed]


async def finish(tx: Tx, delivery_id: int, *, delivered: bool, now: datetime,
                 error: str | None, retry_at: datetime | None) -> None:
    """Record a send's outcome: delivered, to retry at ``retry_at``, or failed for good."""
    if delivered:
        status, delivered_at, next_at, error = "delivered", now, None, None
    elif retry_at is not None:
        status, delivered_at, next_at = "pending", None, retry_at
    else:
        status, delivered_at, next_at = "failed", None, None
    await tx.execute(
        "UPDATE deliveries SET status = $1, delivered_at = COALESCE($2, delivered_at),"
        " next_attempt_at = COALESCE($3, next_attempt_at), last_error = $4,"
        " claimed_by = NULL WHERE id = $5",
        status, delivered_at, next_at, error, delivery_id)


async def release_claims(tx: Tx, owner: str | None) -> int:
    """Give back the claims of ``owner`` (a store closing), or every claim (None: the only
    process using an SQLite file, starting); they are due again at once."""
    sql = ("UPDATE deliveries SET next_attempt_at = created_at, claimed_by = NULL"
           " WHERE status = 'sending'")
    if owner is None:
        return await tx.execute(sql)
    return await tx.execute(sql + " AND claimed_by = $1", owner)


async def deliveries_of(tx: Tx, incident_id: str) -> list[Delivery]:
    return [_delivery(r) for r in await tx.fetch(
        f"SELECT {_DELIVERY_COLUMNS} FROM deliveries"  # noqa: S608 - constant columns
        " WHERE incident_id = $1 ORDER BY id", incident_id)]


async def save_evidence(tx: Tx, bundle: EvidenceBundle) -> None:
    await tx.execute(
        "INSERT INTO evidence (incident_id, collected_at, bundle) VALUES ($1, $2, $3)",
        bundle.incident_id, bundle.collected_at, bundle.model_dump_json())


async def evidence_of(tx: Tx, incident_id: str) -> list[EvidenceBundle]:
    return [EvidenceBundle.model_validate_json(r[0]) for r in await tx.fetch(
        "SELECT bundle FROM evidence WHERE incident_id = $1 ORDER BY id", incident_id)]
