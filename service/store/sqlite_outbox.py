"""SQL of the outbox and the evidence table, for ``SqliteStore`` (SQLite dialect, synchronous).

Functions run inside the caller's transaction on the store's connection thread.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from typing import Any

from service.domain.evidence import EvidenceBundle
from service.domain.messages import Delivery, Message

CLAIM_LEASE_S = 120.0
_DELIVERY_COLUMNS = ("id, incident_id, sink, key, event, status, attempts, next_attempt_at,"
                     " last_error, created_at, delivered_at, message")


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row[0], incident_id=row[1], sink=row[2], key=row[3], event=row[4], status=row[5],
        attempts=row[6], next_attempt_at=row[7], last_error=row[8], created_at=row[9],
        delivered_at=row[10], message=Message.model_validate_json(row[11]),
    )


def enqueue(conn: sqlite3.Connection, message: Message, sinks: list[str],
            now: datetime) -> list[int]:
    """Add one delivery per sink; a (incident, sink, key) already queued is left alone."""
    ids = []
    body = message.model_dump_json()
    for sink in sinks:
        row = conn.execute(
            "INSERT INTO deliveries (incident_id, sink, key, event, status, next_attempt_at,"
            " created_at, message) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)"
            " ON CONFLICT (incident_id, sink, key) DO NOTHING RETURNING id",
            (message.incident_id, sink, message.key, message.event, now.isoformat(),
             now.isoformat(), body),
        ).fetchone()
        if row is not None:
            ids.append(int(row[0]))
    return ids


def claim_due(conn: sqlite3.Connection, now: datetime, limit: int) -> list[Delivery]:
    """Deliveries due now, marked ``sending`` with one more attempt, recorded before the send.

    A delivery left in ``sending`` by a crash is due again (the send may or may not have
    happened: sinks use idempotency keys or look before they post).
    """
    rows = conn.execute(
        f"SELECT {_DELIVERY_COLUMNS} FROM deliveries"  # noqa: S608 - constant columns
        " WHERE status IN ('pending', 'sending')"
        " AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
        (now.isoformat(), limit),
    ).fetchall()
    claimed = []
    lease = (now + timedelta(seconds=CLAIM_LEASE_S)).isoformat()
    for row in rows:
        # Leased: another claimer (a second worker) does not take it while it is in flight.
        conn.execute(
            "UPDATE deliveries SET status = 'sending', attempts = attempts + 1,"
            " next_attempt_at = ? WHERE id = ?", (lease, row[0]),
        )
        delivery = _delivery(row)
        claimed.append(delivery.model_copy(update={"status": "sending",
                                                   "attempts": delivery.attempts + 1}))
    return claimed


def release_claims(conn: sqlite3.Connection) -> int:
    """After a restart of the only process using the file: claims in flight are due now."""
    return conn.execute("UPDATE deliveries SET next_attempt_at = created_at"
                        " WHERE status = 'sending'").rowcount


def finish(conn: sqlite3.Connection, delivery_id: int, *, delivered: bool, now: datetime,
           error: str | None, retry_at: datetime | None) -> None:
    """Record a send's outcome: delivered, to retry at ``retry_at``, or failed for good."""
    if delivered:
        conn.execute("UPDATE deliveries SET status = 'delivered', delivered_at = ?,"
                     " last_error = NULL WHERE id = ?", (now.isoformat(), delivery_id))
    elif retry_at is not None:
        conn.execute("UPDATE deliveries SET status = 'pending', next_attempt_at = ?,"
                     " last_error = ? WHERE id = ?", (retry_at.isoformat(), error, delivery_id))
    else:
        conn.execute("UPDATE deliveries SET status = 'failed', last_error = ? WHERE id = ?",
                     (error, delivery_id))


def deliveries_of(conn: sqlite3.Connection, incident_id: str) -> list[Delivery]:
    return [_delivery(r) for r in conn.execute(
        f"SELECT {_DELIVERY_COLUMNS} FROM deliveries"  # noqa: S608 - constant columns
        " WHERE incident_id = ? ORDER BY id",
        (incident_id,))]


def count_deliveries(conn: sqlite3.Connection) -> dict[str, int]:
    return {str(r[0]): int(r[1]) for r in conn.execute(
        "SELECT status, COUNT(*) FROM deliveries GROUP BY status")}


def save_evidence(conn: sqlite3.Connection, bundle: EvidenceBundle) -> int:
    row = conn.execute(
        "INSERT INTO evidence (incident_id, collected_at, bundle) VALUES (?, ?, ?) RETURNING id",
        (bundle.incident_id, bundle.collected_at.isoformat(), bundle.model_dump_json()),
    ).fetchone()
    return int(row[0])


def evidence_of(conn: sqlite3.Connection, incident_id: str) -> list[EvidenceBundle]:
    return [EvidenceBundle.model_validate_json(r[0]) for r in conn.execute(
        "SELECT bundle FROM evidence WHERE incident_id = ? ORDER BY id", (incident_id,))]
