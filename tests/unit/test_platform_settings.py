"""The platform's run-id label and the job-name words of the failed-jobs step are settings,
with the runbook's values as defaults."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from service.config.settings import load_settings
from service.runbook.diagnostics.failed_jobs import failed_in_window

SINCE = datetime(2026, 2, 26, 9, 0, tzinfo=UTC)


def _failed_job(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels,
                         "creationTimestamp": "2026-02-26T09:30:00Z"},
            "status": {"conditions": [{"type": "Failed", "status": "True",
                                       "reason": "BackoffLimitExceeded"}]}}


LISTING = {"items": [
    _failed_job("kaniko-build-1", {"codex-k8s.dev/run-id": "r1", "example.org/run": "x1"}),
    _failed_job("pipeline-step-2", {"codex-k8s.dev/run-id": "r2", "example.org/run": "x2"}),
    _failed_job("unrelated-3", {}),
]}


def test_defaults_are_the_runbooks_words_and_label() -> None:
    platform = load_settings(overrides={}).platform
    assert platform.run_id_label == "codex-k8s.dev/run-id"
    assert platform.job_name_words == ["kaniko", "mirror", "build"]
    found = failed_in_window(LISTING, load_settings(overrides={}).platform, SINCE)
    assert [(info.name, info.run_id) for _, info in found] == [("kaniko-build-1", "r1")]


def test_configured_words_and_label_are_used() -> None:
    settings = load_settings(overrides={"platform": {"run_id_label": "example.org/run",
                                                     "job_name_words": ["pipeline"]}})
    found = failed_in_window(LISTING, settings.platform, SINCE)
    assert [(info.name, info.run_id) for _, info in found] == [("pipeline-step-2", "x2")]
