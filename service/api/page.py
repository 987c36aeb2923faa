"""A plain, phone-readable HTML page of one incident (for SREs who open the link)."""

from __future__ import annotations

from html import escape

from service.domain.incidents import Incident

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:60em;margin:1em auto;padding:0 1em}"
          "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;"
          "padding:.3em;text-align:left;vertical-align:top}code,pre{white-space:pre-wrap}")


def render_incident(incident: Incident) -> str:
    """Render the incident's story; every value is HTML-escaped."""
    rows = "".join(
        f"<tr><td>{escape(e.at.isoformat())}</td><td>{escape(e.kind)}</td>"
        f"<td>{escape(e.message)}</td></tr>"
        for e in incident.timeline
    )
    alerts = "".join(
        f"<tr><td>{escape(a.alertname)}</td><td>{escape(a.status)}</td>"
        f"<td>{escape(a.starts_at.isoformat())}</td><td><code>{escape(a.fingerprint)}</code></td></tr>"
        for a in incident.alerts
    )
    flag = " (escalated)" if incident.escalated else ""
    policy = incident.policy
    mit = policy.mitigation
    mttr = f"{policy.mttr_s / 60:.1f} min" if policy.mttr_s is not None else "-"
    facts = "".join(f"<li>{escape(line)}</li>" for line in [
        f"kill switch: {mit.status} ({mit.previous_value or '-'} -> {mit.new_value or '-'}), "
        f"rollout {mit.rollout}",
        f"MTTR: {mttr}",
        *[f"escalation {e.rule} to {e.audience} at {e.at.isoformat()}: {e.reason}"
          for e in policy.escalations.values()],
        f"evidence bundles: {len(incident.evidence)}; messages: "
        + ", ".join(f"{d.sink}/{d.event}: {d.status}" for d in incident.deliveries),
    ])
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{escape(incident.id)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(incident.id)}</h1>"
        f"<p><b>{escape(incident.state.value)}</b>{flag} &middot; {escape(incident.signature)}"
        f" in {escape(incident.namespace)} &middot; first failure "
        f"{escape(incident.first_failure_at.isoformat())}</p><ul>{facts}</ul>"
        f"<h2>Timeline</h2><table><tr><th>at</th><th>what</th><th>detail</th></tr>{rows}</table>"
        f"<h2>Alerts</h2><table><tr><th>alert</th><th>status</th><th>starts</th>"
        f"<th>fingerprint</th></tr>{alerts}</table>"
        "</body></html>"
    )
