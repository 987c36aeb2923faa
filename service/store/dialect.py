"""The two SQL dialects the store speaks, behind one transaction interface.

Purpose: the store's logic (``incidents``, ``outbox``) is written once, as async functions over
``Tx``, with PostgreSQL's ``$n`` placeholders and a few ``{token}``s for what the dialects spell
differently (``{seq}``: insertion order; ``{lock}``: a row lock; ...). ``Dialect.sql`` turns such
a text into the dialect's statement, once per text (cached).

- ``PostgresTx`` wraps an asyncpg connection inside a transaction; it also takes the per-key
  advisory locks and announces changed incidents (NOTIFY), which only PostgreSQL has.
- ``SqliteTx`` wraps a ``sqlite3.Connection`` inside the group commit's transaction. Its
  methods never suspend, so ``drive`` runs a job written as a coroutine to its end
  synchronously, on the writer's batch, with no event-loop round trip per statement. Times
  are bound as ISO text by a sqlite3 adapter (``_IsoText``), in the driver's C loop.

Boundary: statements, arguments and rows only; transactions, retries and error mapping belong
to the stores (``sqlite``, ``postgres``).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
Row = Sequence[Any]  # a sqlite3 tuple or an asyncpg Record, read by position

# Incidents changed by a replica's webhook are announced on this channel; PostgreSQL delivers
# the notice at commit, so the leader never hears of an incident it cannot read yet.
CHANGES_CHANNEL = "aislot_incidents_changed"
_NOTICE_BYTES = 7900  # a NOTIFY payload must stay under 8000 bytes
_PLACEHOLDER = re.compile(r"\$(\d+)")


@dataclass(frozen=True)
class Dialect:
    """How one database spells the store's statements and schema."""

    name: str
    tokens: dict[str, str]
    numbered_params: str = "$"  # SQLite: "?" (``?1`` is its numbered placeholder)
    _cache: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def sql(self, text: str) -> str:
        """``text`` in this dialect: tokens replaced, placeholders renamed (cached)."""
        found = self._cache.get(text)
        if found is None:
            found = text
            for name, value in self.tokens.items():
                found = found.replace("{" + name + "}", value)
            if self.numbered_params != "$":
                found = _PLACEHOLDER.sub(self.numbered_params + r"\1", found)
            self._cache[text] = found
        return found


SQLITE = Dialect("sqlite", numbered_params="?", tokens={
    "seq": "rowid", "lock": "", "skip_locked": "",
    "policy_version": "COALESCE(json_extract(policy, '$.version'), 0)",
    # schema (migrations)
    "id": "INTEGER PRIMARY KEY AUTOINCREMENT", "bigint": "INTEGER", "time": "TEXT",
    "json": "TEXT", "bool": "INTEGER", "false": "0", "real": "REAL",
})
POSTGRES = Dialect("postgres", tokens={
    "seq": "seq", "lock": "FOR UPDATE", "skip_locked": "FOR UPDATE SKIP LOCKED",
    "policy_version": "COALESCE((policy::json ->> 'version')::int, 0)",
    "id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "bigint": "BIGINT",
    "time": "TIMESTAMPTZ", "json": "JSON", "bool": "BOOLEAN", "false": "FALSE",
    "real": "DOUBLE PRECISION",
})


class _IsoText:
    """How SQLite stores a time: ISO text, as given (offset kept). An aware datetime's
    isoformat costs microseconds and intake writes the same ``now`` into several rows (between
    them, an alert's own start), so the last two are remembered (by identity: an equal instant
    at another offset is other text)."""

    def __init__(self) -> None:
        self._recent: tuple[tuple[datetime | None, str], ...] = ((None, ""), (None, ""))

    def __call__(self, value: datetime) -> str:
        recent = self._recent  # one read: the writer's and reader's threads may both bind
        for known, text in recent:
            if known is value:
                return text
        text = value.isoformat()
        self._recent = ((value, text), recent[0])
        return text


# Bound by the sqlite3 module itself, in C, for every datetime argument. The adapter registry
# is process-wide: the store is the process's only sqlite3 user (this replaces the default
# adapter, deprecated since Python 3.12, which writes a space for the "T").
sqlite3.register_adapter(datetime, _IsoText())


def as_time(value: datetime | str) -> datetime:
    """A time column as read: PostgreSQL gives a datetime, SQLite the ISO text stored."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


class Tx(Protocol):
    """One open transaction of either dialect; statements are written as ``Dialect.sql``
    reads them."""

    dialect: Dialect
    shared: bool
    """Other processes write the same database (take ``lock_keys``, ``announce``)."""

    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; the number of rows it changed."""
        ...

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None: ...

    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...

    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...

    async def fetchval(self, sql: str, *args: Any) -> Any: ...

    async def lock_keys(self, keys: list[str]) -> None:
        """Serialise writers of the same keys until commit (replicas; sorted: no deadlock)."""
        ...

    async def announce(self, incident_ids: list[str]) -> None:
        """Tell the other replicas, at commit, which incidents changed."""
        ...


class SqliteTx:
    """``Tx`` over a ``sqlite3.Connection``; see the module docstring."""

    dialect = SQLITE
    shared = False

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        return self._conn.execute(SQLITE.sql(sql), args).rowcount

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self._conn.executemany(SQLITE.sql(sql), rows)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return self._conn.execute(SQLITE.sql(sql), args).fetchall()

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = self._conn.execute(SQLITE.sql(sql), args).fetchone()
        return row

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = self._conn.execute(SQLITE.sql(sql), args).fetchone()
        return None if row is None else row[0]

    async def lock_keys(self, keys: list[str]) -> None:
        """Nothing to do: the group commit is the file's only writer."""

    async def announce(self, incident_ids: list[str]) -> None:
        """Nothing to do: no other process reads this file."""


class PostgresTx:
    """``Tx`` over an asyncpg connection inside a transaction."""

    dialect = POSTGRES
    shared = True

    def __init__(self, conn: Any) -> None:  # asyncpg.Connection: the driver ships no hints
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        status: str = await self._conn.execute(POSTGRES.sql(sql), *args)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        await self._conn.executemany(POSTGRES.sql(sql), rows)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        rows: list[Row] = await self._conn.fetch(POSTGRES.sql(sql), *args)
        return rows

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = await self._conn.fetchrow(POSTGRES.sql(sql), *args)
        return row

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._conn.fetchval(POSTGRES.sql(sql), *args)

    async def lock_keys(self, keys: list[str]) -> None:
        for key in sorted(set(keys)):
            await self._conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                                     key)

    async def announce(self, incident_ids: list[str]) -> None:
        """``pg_notify`` the ids, comma-separated, in as few notices as the limit allows."""
        notices: list[str] = []
        for incident_id in incident_ids:
            if notices and len(notices[-1]) + 1 + len(incident_id) <= _NOTICE_BYTES:
                notices[-1] += "," + incident_id
            else:
                notices.append(incident_id)
        for payload in notices:
            await self._conn.execute("SELECT pg_notify($1, $2)", CHANGES_CHANNEL, payload)


def drive(job: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine over a ``SqliteTx`` to its end, synchronously (it never suspends)."""
    try:
        job.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    job.close()
    raise RuntimeError("a SQLite store job awaited something other than its connection")
