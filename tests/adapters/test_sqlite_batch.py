"""The SQLite store's group commit: one failing write does not undo its batch-mates."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.domain.alerts import Notification
from service.domain.incidents import IdentityRules, TimelineEntry
from service.domain.lifecycle import IllegalTransition, State
from service.store.base import IncidentUpdate
from service.store.sqlite import SqliteStore
from tests.conftest import alert, notification

NOW = datetime(2026, 2, 26, 10, 0, tzinfo=UTC)


async def test_a_failing_job_is_isolated_within_its_batch(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db", rules=IdentityRules("codex-k8s-prod"))
    await store.open()
    try:
        bodies = [json.dumps(notification(alert(f"fp{i}", error_signature=f"s{i}"),
                                          group_key=f"g{i}")).encode() for i in range(20)]
        entry = TimelineEntry(at=NOW, kind="x", message="x")
        results = await asyncio.gather(
            *[store.ingest(Notification.model_validate_json(b), b, NOW) for b in bodies],
            store.update("inc-missing", IncidentUpdate(state=State.INVESTIGATING,
                                                       entries=[entry]), NOW),
            return_exceptions=True)
        assert isinstance(results[-1], KeyError)
        assert all(not isinstance(r, BaseException) for r in results[:-1])
        assert len(await store.list_incidents(None, 100)) == 20
        first = (await store.list_incidents(None, 100))[0]
        with pytest.raises(IllegalTransition):
            await store.update(first.id, IncidentUpdate(state=State.MONITORING,
                                                        entries=[entry]), NOW)
        assert (await store.get_incident(first.id)).state is State.OPEN  # type: ignore[union-attr]
    finally:
        await store.close()
