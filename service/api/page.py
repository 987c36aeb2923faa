"""The incident page and the incidents list, server-rendered HTML for people who open a link.

Purpose: what an engineer at 3 a.m. needs at a glance (state, what the responder does now,
the kill switch, the rules' live numbers, the evidence, escalations, messages, timeline),
from Jinja2 templates with autoescape on, so every stored text (alert labels, annotations,
log lines) is shown as text. No script: the page works without JavaScript; the Owner's
approve button is a plain form. Boundary: rendering only; the handlers in
``service.api.incidents`` authorize and load, ``service.api.page_view`` works out numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined

from service.api.access import Access
from service.api.page_view import (
    AUDIENCE_WORDS,
    Piece,
    doing_now,
    first_failure,
    highlighted,
    plain_times,
    relative,
    rules,
    when,
)
from service.domain.decision_message import RULE_TITLES
from service.domain.evidence import CollectorStatus, FailedJob
from service.domain.incidents import Incident, IncidentSummary
from service.domain.lifecycle import State
from service.domain.logscan.models import LogMatch, ScanResult, SignatureStats
from service.domain.policy import PolicyConfig
from service.domain.runbook_text import RunbookText

STATIC_URL = "/static/page.css"
_SAFE_SCHEMES = ("http://", "https://")


def _safe_link(url: str) -> bool:
    """Only plain web links become ``href``s (no ``javascript:``, ``data:``...)."""
    return url.lower().startswith(_SAFE_SCHEMES)


_ENV = Environment(loader=PackageLoader("service.api", "templates"), autoescape=True,
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_ENV.globals.update(when=when, relative=relative, static_url=STATIC_URL,
                    rule_titles=RULE_TITLES, audience_words=AUDIENCE_WORDS)
_ENV.tests["safe_link"] = _safe_link
_ENV.filters["times"] = plain_times


def stylesheet() -> str:
    """The page's one stylesheet (served by the service; no build step)."""
    return resources.files("service.api").joinpath("static/page.css").read_text("utf-8")


@dataclass(frozen=True)
class Excerpt:
    match: LogMatch
    pieces: list[Piece]

    @property
    def marked(self) -> bool:
        """Whether the excerpt shows what matched (a slog line's ``msg`` may not)."""
        return any(p.match for p in self.pieces)


@dataclass(frozen=True)
class LogBlock:
    key: str
    title: str
    status: str
    stats: SignatureStats | None
    excerpts: list[Excerpt]


@dataclass(frozen=True)
class Gap:
    name: str
    status: str
    error: str | None
    hint: str | None


def _log_block(key: str, title: str, status: CollectorStatus, data: ScanResult | None,
               signature: str) -> LogBlock:
    if status is not CollectorStatus.OK or data is None:
        return LogBlock(key, title, f"Not collected ({status.value}).", None, [])
    stats = data.stats(signature)
    return LogBlock(key, title, "ok", stats,
                    [Excerpt(m, highlighted(m)) for m in stats.excerpts])


def _switch_by(incident: Incident, owner_name: str) -> str:
    mit = incident.policy.mitigation
    by = {"applied": "the responder", "applying": "the responder (in progress)",
          "already_off": "nobody: it was already off when checked",
          "observed_off": "a person (the responder only watched)",
          "dry_run": "nobody: dry run", "awaiting_approval": f"waiting for {owner_name}"}
    text = by.get(mit.status, "-")
    if mit.approved_by:
        text += f", approved by {mit.approved_by} at {when(mit.approved_at)}"
    return text


def _switch_now(incident: Incident, now: datetime) -> str:
    """The kill switch's value as last known: set by the mitigation, else as the evidence
    read it."""
    mit, bundle = incident.policy.mitigation, incident.latest_evidence
    read = bundle.kill_switch.data if bundle is not None else None
    where = read.location if read is not None else "kill switch"
    if mit.status in {"applied", "already_off", "observed_off"} and mit.applied_at and (
            bundle is None or mit.applied_at >= bundle.collected_at):
        return f"{where} = {mit.new_value} (since {when(mit.applied_at)})"
    if read is None or bundle is None:
        return "not read"
    value = read.value if read.value is not None else "unset (cache on)"
    return f"{where} = {value} (read {relative(bundle.collected_at, now)})"


def _failed_jobs(incident: Incident) -> list[FailedJob] | None:
    bundle = incident.latest_evidence
    if bundle is None or bundle.failed_jobs.data is None:
        return None
    return bundle.failed_jobs.data.jobs


def render_incident(incident: Incident, *, now: datetime, config: PolicyConfig,
                    text: RunbookText, owner_name: str, access: Access) -> str:
    """The incident's page."""
    bundle = incident.latest_evidence
    context: dict[str, Any] = {
        "incident": incident, "now": now, "access": access, "bundle": bundle,
        "doing_now": doing_now(incident, now, config), "first_failure": first_failure(incident),
        "rules": rules(incident, now, config),
        "switch_key": text.switch_key, "switch_off": text.switch_off_value,
        "switch_by": _switch_by(incident, owner_name),
        "switch_now": _switch_now(incident, now),
        "patch_text": (json.dumps(incident.policy.mitigation.patch, indent=2)
                       if incident.policy.mitigation.patch else None),
        "missing": [], "logs": [], "failed_jobs": _failed_jobs(incident), "registry": None,
        "pods": [], "deliveries": sorted(incident.deliveries, key=lambda d: (d.sink, d.id)),
    }
    if bundle is not None:
        context["missing"] = [Gap(name.replace("_", " "), got.status.value, got.error, got.hint)
                              for name, got in bundle.collectors().items()
                              if got.status is not CollectorStatus.OK]
        context["logs"] = [
            _log_block("control-plane", "Control-plane log", bundle.control_plane_logs.status,
                       bundle.control_plane_logs.data, bundle.signature),
            _log_block("worker", "Worker log", bundle.worker_logs.status,
                       bundle.worker_logs.data, bundle.signature)]
        context["registry"] = bundle.registry.data
        context["pods"] = bundle.workloads.data.pods if bundle.workloads.data else []
    return _ENV.get_template("incident.html").render(context)


_ERROR_TITLES = {400: "That request is not right", 401: "This link does not open the incident",
                 404: "No such incident", 406: "Not available in that format"}


def render_error(status: int, message: str, *, now: datetime, request_id: str | None) -> str:
    """An error answer for a person in a browser (the API's clients get the JSON)."""
    return _ENV.get_template("error.html").render(
        status=status, message=message, now=now, request_id=request_id,
        title=_ERROR_TITLES.get(status, "Something went wrong"))


def render_list(rows: list[IncidentSummary], *, now: datetime, state: State | None,
                limit: int, before: str | None = None, next_before: str | None = None) -> str:
    """The incidents list (for holders of the read token), one page of it: a link to the
    older ones when there are more (the API's keyset ``before``)."""
    query = {"state": state.value} if state else {}
    return _ENV.get_template("list.html").render(
        rows=rows, now=now, state=state.value if state else "",
        states=[s.value for s in State], paged=before is not None,
        first_page="/incidents?" + urlencode(query) if query else "/incidents",
        older=("/incidents?" + urlencode({**query, "limit": limit, "before": next_before})
               if next_before else None))
