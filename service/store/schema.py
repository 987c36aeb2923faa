"""Schema migrations: one tree, ``migrations/NNNN_*.sql``, for both dialects.

Purpose: each script is written once; ``Dialect.sql`` spells its ``{token}`` types for the
database, and a line starting ``--@sqlite`` or ``--@postgres`` belongs to that dialect only
(where the two schemas differ: PostgreSQL's ``seq`` columns, some indexes). SQLite records the
version in ``PRAGMA user_version``; PostgreSQL in ``schema_version``, under an advisory lock so
replicas starting together migrate once.
Boundary: the scripts and their bookkeeping; the stores run these on their own connection,
under their deadline, and map the drivers' errors.
"""

from __future__ import annotations

import sqlite3
from importlib import resources
from typing import Any

from service.store.dialect import POSTGRES, SQLITE, Dialect

MIGRATION_LOCK = 0x6169736C6F74  # "aislot": the advisory lock id of schema migrations


def _script(text: str, dialect: Dialect) -> str:
    lines = []
    for line in text.splitlines():
        name, _, rest = line[3:].partition(" ") if line.startswith("--@") else ("", "", line)
        if name in ("", dialect.name):
            lines.append(rest)
    # Not through ``Dialect.sql``'s cache: scripts run once, and hold no placeholders.
    script = "\n".join(lines)
    for name, value in dialect.tokens.items():
        script = script.replace("{" + name + "}", value)
    return script


def migrations(dialect: Dialect) -> list[tuple[int, str]]:
    """The migrations, ``(number, script)`` in order, as ``dialect`` runs them."""
    folder = resources.files("service.store") / "migrations"
    found = [(int(entry.name.split("_", 1)[0]), _script(entry.read_text(encoding="utf-8"),
                                                         dialect))
             for entry in folder.iterdir() if entry.name.endswith(".sql")]
    return sorted(found)


def _statements(script: str) -> bool:
    return any(line.strip() and not line.lstrip().startswith("--")
               for line in script.splitlines())


def migrate_sqlite(conn: sqlite3.Connection) -> list[int]:
    """Apply the missing migrations, each in its own transaction; the numbers applied."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    applied = []
    for number, script in migrations(SQLITE):
        if number > version:
            conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
            applied.append(number)
    return applied


async def migrate_postgres(conn: Any, lock_timeout_s: float | None = None) -> list[int]:
    """Apply the missing migrations in one transaction; returns the numbers applied.

    The advisory lock makes replicas that start together take turns: the first migrates,
    the others wait (up to ``lock_timeout_s``) and then find nothing left to do.
    ``conn`` is an asyncpg connection (the driver ships no type hints).
    """
    applied = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK,
                           timeout=lock_timeout_s)
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER"
                           " PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        current = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        for number, script in migrations(POSTGRES):
            if number > current:
                if _statements(script):
                    await conn.execute(script)
                await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", number)
                applied.append(number)
    return applied
