"""SQL of the outbox and the evidence table, for ``SqliteStore`` (SQLite dialect).

Functions take a connection and run inside the caller's transaction; the store decides when
to commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import aiosqlite

from service.domain.evidence import EvidenceBundle
from service.domain.messages import Delivery, Message

_DELIVERY_COLUMNS = ("id, incident_id, sink, key, event, status, attempts, next_attempt_at,"
                     " last_error, created_at, delivered_at, message")


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row[0], incident_id=row[1], sink=row[2], key=row[3], event=row[4], status=row[5],
        attempts=row[6], next_attempt_at=row[7], last_error=row[8], created_at=row[9],
        delivered_at=row[10], message=Message.model_validate_json(row[11]),
    )


async def enqueue(conn: aiosqlite.Connection, message: Message, sinks: list[str],
                  now: datetime) -> list[int]:
    """Add one delivery per sink; a (incident, sink, key) already queued is left alone."""
    ids = []
    body = message.model_dump_json()
    for sink in sinks:
        cur = await conn.execute(
            "INSERT INTO deliveries (incident_id, sink, key, event, status, next_attempt_at,"
            " created_at, message) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)"
            " ON CONFLICT (incident_id, sink, key) DO NOTHING RETURNING id",
            (message.incident_id, sink, message.key, message.event, now.isoformat(),
             now.isoformat(), body),
        )
        row = await cur.fetchone()
        await cur.close()
        if row is not None:
            ids.append(int(row[0]))
    return ids


async def claim_due(conn: aiosqlite.Connection, now: datetime, limit: int) -> list[Delivery]:
    """Deliveries due now, marked ``sending`` with one more attempt, recorded before the send.

    A delivery left in ``sending`` by a crash is due again (the send may or may not have
    happened: sinks use idempotency keys or look before they post).
    """
    cur = await conn.execute(
        f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE status IN ('pending', 'sending')"
        " AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
        (now.isoformat(), limit),
    )
    rows = await cur.fetchall()
    await cur.close()
    claimed = []
    for row in rows:
        await conn.execute(
            "UPDATE deliveries SET status = 'sending', attempts = attempts + 1 WHERE id = ?",
            (row[0],),
        )
        delivery = _delivery(row)
        claimed.append(delivery.model_copy(update={"status": "sending",
                                                   "attempts": delivery.attempts + 1}))
    return claimed


async def finish(conn: aiosqlite.Connection, delivery_id: int, *, delivered: bool,
                 now: datetime, error: str | None, retry_at: datetime | None) -> None:
    """Record a send's outcome: delivered, to retry at ``retry_at``, or failed for good."""
    if delivered:
        await conn.execute(
            "UPDATE deliveries SET status = 'delivered', delivered_at = ?, last_error = NULL"
            " WHERE id = ?", (now.isoformat(), delivery_id))
    elif retry_at is not None:
        await conn.execute(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, last_error = ?"
            " WHERE id = ?", (retry_at.isoformat(), error, delivery_id))
    else:
        await conn.execute(
            "UPDATE deliveries SET status = 'failed', last_error = ? WHERE id = ?",
            (error, delivery_id))


async def deliveries_of(conn: aiosqlite.Connection, incident_id: str) -> list[Delivery]:
    cur = await conn.execute(
        f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE incident_id = ? ORDER BY id",
        (incident_id,),
    )
    rows = await cur.fetchall()
    await cur.close()
    return [_delivery(r) for r in rows]


async def count_deliveries(conn: aiosqlite.Connection) -> dict[str, int]:
    cur = await conn.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status")
    rows = await cur.fetchall()
    await cur.close()
    return {str(r[0]): int(r[1]) for r in rows}


async def save_evidence(conn: aiosqlite.Connection, bundle: EvidenceBundle) -> int:
    cur = await conn.execute(
        "INSERT INTO evidence (incident_id, collected_at, bundle) VALUES (?, ?, ?) RETURNING id",
        (bundle.incident_id, bundle.collected_at.isoformat(), bundle.model_dump_json()),
    )
    row = await cur.fetchone()
    await cur.close()
    assert row is not None
    return int(row[0])


async def evidence_of(conn: aiosqlite.Connection, incident_id: str) -> list[EvidenceBundle]:
    cur = await conn.execute(
        "SELECT bundle FROM evidence WHERE incident_id = ? ORDER BY id", (incident_id,))
    rows = await cur.fetchall()
    await cur.close()
    return [EvidenceBundle.model_validate_json(r[0]) for r in rows]
