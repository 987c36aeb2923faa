"""Prometheus metrics of one responder, in their own registry (one per app, so tests can run
several apps in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Every outcome of POST /webhook (service.api.webhook); other 4xx statuses are counted too.
WEBHOOK_OUTCOMES = ("stored", "redelivery", "rejected_400", "rejected_401", "rejected_408",
                    "rejected_413", "rejected_415", "store_unavailable", "failed", "aborted")


class Metrics:
    """Every metric the service exports."""

    def precreate(self, namespace: str, signatures: list[str]) -> None:
        """Series at 0 from the start, so a rule's ``increase()`` sees the first event."""
        for outcome in WEBHOOK_OUTCOMES:
            self.webhooks.labels(outcome=outcome)
        for signature in signatures:
            for source in ("control_plane", "jobs"):
                self.signature_occurrences.labels(namespace=namespace, signature=signature,
                                                  source=source)
            for outcome in ("applied", "already_off", "dry_run", "error", "failed"):
                self.mitigations.labels(namespace=namespace, signature=signature,
                                        outcome=outcome)
            self.mttr.labels(namespace=namespace, signature=signature)

    def __init__(self, body_limit_bytes: int = 1024 * 1024) -> None:
        """``body_limit_bytes`` (server.max_body_bytes) places the body-size buckets, so a
        group growing towards the limit shows before it is refused."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.webhooks = Counter(
            "aislot_webhooks",
            "Webhook requests by outcome: stored, redelivery, rejected_<4xx status> "
            "(Alertmanager drops the group), store_unavailable (503), failed (500), aborted "
            "(the sender closed the connection mid-upload)",
            ["outcome"], registry=self.registry,
        )
        self.webhook_body_bytes = Histogram(
            "aislot_webhook_body_bytes",
            "Size of webhook bodies, the refused ones over server.max_body_bytes included",
            registry=self.registry,
            buckets=sorted({1024, 16 * 1024, *(int(body_limit_bytes * f) for f in (
                0.25, 0.5, 0.75, 0.9, 1, 2, 4))}),
        )
        self.alerts = Counter(
            "aislot_alerts", "Alerts received, by what they did", ["action"],
            registry=self.registry,
        )
        self.truncated_alerts = Counter(
            "aislot_truncated_alerts", "Alerts Alertmanager left out of truncated groups",
            registry=self.registry,
        )
        self.incidents = Gauge(
            "aislot_incidents", "Incidents by state", ["state"], registry=self.registry
        )
        self.evidence_seconds = Histogram(
            "aislot_evidence_seconds", "Time to collect one evidence bundle",
            registry=self.registry, buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 45, 90),
        )
        self.collectors = Counter(
            "aislot_collector_runs", "Collector runs by collector and status",
            ["collector", "status"], registry=self.registry,
        )
        self.signature_occurrences = Counter(
            "aislot_signature_occurrences",
            "Distinct failed builds carrying a signature, seen in logs and failed jobs",
            ["namespace", "signature", "source"], registry=self.registry,
        )
        self.mitigations = Counter(
            "aislot_mitigations", "Kill switch decisions by outcome",
            ["namespace", "signature", "outcome"], registry=self.registry,
        )
        self.escalations = Counter(
            "aislot_escalations", "Escalations by rule", ["rule"], registry=self.registry
        )
        self.mttr = Histogram(
            "aislot_incident_mttr_seconds", "First recorded failure to first successful build",
            ["namespace", "signature"], registry=self.registry,
            buckets=(60, 300, 600, 900, 1200, 1800, 2700, 3600, 7200, 14400),
        )
        self.watch_passes = Counter(
            "aislot_watch_passes",
            "Completed passes of the runbook's watch over the active incidents (it stands "
            "still when the loop is stuck, or on a replica that does not lead)",
            registry=self.registry,
        )
        self.deliveries = Counter(
            "aislot_deliveries", "Notification deliveries by sink and outcome",
            ["sink", "outcome"], registry=self.registry,
        )
        self.store_seconds = Histogram(
            "aislot_store_operation_seconds", "Store operation latency", ["op"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
