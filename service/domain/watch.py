"""The recovery watch's bookkeeping: what each observation adds to the ``WatchRecord``.

Purpose: fold newly finished jobs into the watch (the streak, the first success, the last
sighting in logs) and keep since when each part of the cluster has been unreadable. Pure
functions over data; ``evaluate()`` (policy.py) judges the result.
"""

from __future__ import annotations

from datetime import datetime

from service.domain.facts import Facts
from service.domain.policy_record import WatchRecord
from service.domain.timetext import moment


def merge_builds(watch: WatchRecord, facts: Facts, signature: str,
                  kinds: frozenset[str]) -> list[str]:
    """Fold newly finished jobs of ``kinds`` into the watch; recompute the streak."""
    if watch.since is None:
        return []
    notes = []
    for build in facts.builds:
        if build.job in watch.builds or build.kind not in kinds:
            continue
        if build.created_at is not None and build.created_at < watch.since:
            continue
        watch.builds[build.job] = build
        if build.status == "Failed" and build.signature == signature:
            notes.append(f"{build.kind} job {build.job} failed with {signature}"
                         f" (watched since {moment(watch.since)})")
        elif build.status == "Complete" and watch.first_success_at is None:
            notes.append(f"{build.kind} job {build.job} completed"
                         f" (watched since {moment(watch.since)}): recovered")
    streak = 0
    for build in sorted(watch.builds.values(),
                        key=lambda b: (b.finished_at or b.created_at or watch.since, b.job)):
        if build.status == "Complete":
            streak = 0
            if watch.first_success_at is None or (
                    build.finished_at and build.finished_at < watch.first_success_at):
                watch.first_success_at = build.finished_at or facts.collected_at
        elif build.signature == signature:
            streak += 1
            watch.max_streak = max(watch.max_streak, streak)
    watch.streak = streak
    for sighting in facts.sightings:
        if sighting.signature != signature or sighting.last_seen is None:
            continue
        if sighting.last_seen >= watch.since and (
                watch.last_sighting_at is None or sighting.last_seen > watch.last_sighting_at):
            watch.last_sighting_at = sighting.last_seen
    return notes


def track_gaps(watch: WatchRecord, facts: Facts, now: datetime) -> list[str]:
    """Since when each part has been unreadable (``watch.gaps``); the timeline's notes."""
    notes = []
    current = {gap.part: gap for gap in facts.gaps}
    for part in list(watch.gaps):
        if part not in current:
            del watch.gaps[part]
            notes.append(f"{part}: readable again")
    for part, gap in current.items():
        if part not in watch.gaps:
            watch.gaps[part] = gap.since or now
            notes.append(f"cannot read {gap.describe()}")
    return notes
