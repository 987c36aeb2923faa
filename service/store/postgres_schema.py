"""PostgreSQL schema migrations: ``migrations_pg/NNNN_*.sql``, applied once by any replica.

Purpose: apply the missing migrations in one transaction under an advisory lock and record them
in ``schema_version``, so replicas starting together migrate once.
Boundary: the SQL scripts and their bookkeeping only; ``PostgresStore.open`` runs ``migrate``
on a connection of its pool, under its deadline, and maps the driver's errors.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

MIGRATION_LOCK = 0x6169736C6F74  # "aislot": the advisory lock id of schema migrations
Conn = Any  # asyncpg.Connection (the driver ships no type hints)


def migrations() -> list[tuple[int, str]]:
    """The PostgreSQL migrations, ``(number, script)`` in order."""
    folder = resources.files("service.store") / "migrations_pg"
    found = [(int(entry.name.split("_", 1)[0]), entry.read_text(encoding="utf-8"))
             for entry in folder.iterdir() if entry.name.endswith(".sql")]
    return sorted(found)


async def migrate(conn: Conn, lock_timeout_s: float | None = None) -> list[int]:
    """Apply the missing migrations in one transaction; returns the numbers applied.

    The advisory lock makes replicas that start together take turns: the first migrates,
    the others wait (up to ``lock_timeout_s``) and then find nothing left to do.
    """
    applied = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK,
                           timeout=lock_timeout_s)
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER"
                           " PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        current = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        for number, script in migrations():
            if number > current:
                await conn.execute(script)
                await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", number)
                applied.append(number)
    return applied
