"""Prometheus metrics of one responder, in their own registry (one per app, so tests can run
several apps in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """Every metric the service exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.webhooks = Counter(
            "aislot_webhooks", "Webhook requests by outcome", ["outcome"], registry=self.registry
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
        self.store_seconds = Histogram(
            "aislot_store_operation_seconds", "Store operation latency", ["op"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
