"""compose_evidence / compose_event: the on-call's first message, built from a bundle."""

from __future__ import annotations

from service.config.settings import Settings
from service.config.wording import runbook_text
from service.domain.envelope import (
    FACT_CHARS,
    MAX_LINE_CHARS,
    MAX_SECTION_LINES,
    bounded,
    compose_event,
    incident_link,
)
from service.domain.evidence import Collected, CollectorStatus, KillSwitchState
from service.domain.evidence_message import MAX_RUN_IDS, compose_evidence
from service.domain.messages import Fact, MessageSection
from tests.adapters.fakes import bundles

URL = "https://responder.example/"
TEXT = runbook_text(Settings())


def _facts(message: object) -> dict[str, str]:
    return {f.name: f.value for f in message.facts}  # type: ignore[attr-defined]


def test_the_first_message_says_what_happened_and_links_the_incident() -> None:
    incident = bundles.incident()
    message = compose_evidence(incident, bundles.bundle(incident.id), text=TEXT,
                               public_url=URL, key="evidence-1")
    assert (message.event, message.key, message.audience) == ("evidence", "evidence-1", "oncall")
    assert message.severity == "critical"  # confirmed by the evidence
    assert message.incident_url == f"https://responder.example/incidents/{incident.id}"
    assert message.related_issue == "205"
    facts = _facts(message)
    assert facts["Signature"] == "cache" and facts["Namespace"] == "codex-k8s-prod"
    assert facts["First error"] == "2026-02-26 10:00:00 UTC"
    assert facts["Last error"] == "2026-02-26 10:14:00 UTC"
    assert facts["Run ids"] == "run-0000, run-0001, run-0002"
    assert facts["Failed builds (logs)"] == "3" and facts["Failed jobs"] == "3"
    assert facts["Kill switch"].endswith("= true, rollout complete")
    assert facts["Related issue"] == "#205"
    assert message.summary.startswith("Confirmed: 3 failed builds in the logs carry the cache")
    assert "3 failed jobs in the cluster; 3 runs affected" in message.summary
    assert next(s.title for s in message.sections if s.title.startswith("Failed jobs")) \
        == "Failed jobs (3)"


def test_sections_come_in_priority_order_with_the_runbook_step_first() -> None:
    incident = bundles.incident()
    message = compose_evidence(incident, bundles.bundle(incident.id), text=TEXT,
                               public_url=URL, key="k")
    titles = [s.title.split(":")[0].split(" (")[0] for s in message.sections]
    # The signature's log lines before the jobs; the registry and the pods last.
    assert titles == ["Next step", "Control-plane log", "Worker log", "Failed jobs",
                      "Registry and mirrors", "Pods"]
    priorities = [s.priority for s in message.sections]
    assert priorities == sorted(priorities)
    assert "CODEXK8S_KANIKO_CACHE_ENABLED=false" in message.sections[0].lines[0]
    jobs = message.sections[3].lines
    assert jobs[0].startswith("codex-k8s-kaniko-api-000 (build run run-0000): BackoffLimitExceeded")
    assert message.sections[1].code and "MANIFEST_UNKNOWN" in message.sections[1].lines[0]


def test_a_forbidden_collector_is_named_with_what_to_grant() -> None:
    incident = bundles.incident()
    message = compose_evidence(incident, bundles.bundle(incident.id, worker_forbidden=True),
                               text=TEXT, public_url=URL, key="k")
    (missing,) = [s for s in message.sections if s.title == "Diagnostics missing"]
    assert missing.lines == ["worker logs: forbidden; to fix: get pods/log in codex-k8s-prod "
                             "(Role rule: pods/log get)"]
    assert not any(s.title.startswith("Worker log") for s in message.sections)
    assert "Could not read: worker logs." in message.summary
    assert "see below" not in message.summary


def test_with_the_cache_already_off_the_next_step_is_to_escalate() -> None:
    incident = bundles.incident()
    bundle = bundles.bundle(incident.id).model_copy(update={"kill_switch": Collected(
        status=CollectorStatus.OK, data=KillSwitchState(location="env", value="false"))})
    message = compose_evidence(incident, bundle, text=TEXT, public_url=URL, key="k")
    assert "escalate" in message.sections[0].lines[0]
    assert _facts(message)["Kill switch"] == "env = false"


def test_many_run_ids_are_capped() -> None:
    incident = bundles.incident()
    message = compose_evidence(incident, bundles.bundle(incident.id, scale=10), text=TEXT,
                               public_url=URL, key="k")
    bundle = bundles.bundle(incident.id, scale=10)
    value = _facts(message)["Run ids"]
    shown, _, more = value.rpartition(" and ")
    ids = shown.split(", ")
    assert more == f"{len(bundle.run_ids) - len(ids)} more" and len(ids) <= MAX_RUN_IDS
    assert all(run in bundle.run_ids for run in ids)  # whole ids, none cut
    assert len(value) <= FACT_CHARS


def test_tokens_in_the_evidence_are_redacted_again() -> None:
    incident = bundles.incident()
    message = compose_evidence(incident, bundles.bundle(incident.id, secrets=True),
                               text=TEXT, public_url=URL, key="k")
    dumped = message.model_dump_json()
    for token in bundles.TOKENS:
        assert token not in dumped
    assert "x-access-token:[REDACTED]@github.com" in dumped


def test_compose_event_redacts_and_bounds_whatever_it_is_given() -> None:
    incident = bundles.incident()
    message = compose_event(
        incident, event="escalated", key="esc", title=f"leak {bundles.GHP}",
        summary="s", severity="critical", facts=[Fact(name="token", value=bundles.GHP)],
        sections=[MessageSection(title="huge", lines=["x" * 5000] * 1000)],
        public_url="http://r", audience="owner")
    assert bundles.GHP not in message.model_dump_json()
    assert message.created_at == incident.updated_at
    assert message.audience == "owner" and message.incident_url == incident_link("http://r",
                                                                                 incident.id)
    (section,) = message.sections
    assert len(section.lines) == MAX_SECTION_LINES + 1
    assert all(len(line) <= MAX_LINE_CHARS + 2 for line in section.lines)


def test_bounding_never_leaves_half_a_token() -> None:
    text = "word " * 198 + bundles.GHP + " tail"
    cut = bounded(text, 1000)
    assert len(cut) <= 1002 and "ghp_" not in cut
    assert bounded("short", 1000) == "short"
