"""Prometheus metrics of mlresponder itself, one registry per app so tests stay independent."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.alerts_received = Counter(
            "mlresponder_alerts_received_total", "Alerts received, by source and status.",
            ["source", "status"], registry=self.registry,
        )
        self.incidents_opened = Counter(
            "mlresponder_incidents_opened_total", "Incidents opened, by severity.", ["severity"],
            registry=self.registry,
        )
        self.dedup_hits = Counter(
            "mlresponder_alert_dedup_hits_total", "Alert deliveries that matched an alert already open.",
            registry=self.registry,
        )
        self.changes_recorded = Counter(
            "mlresponder_change_events_total", "Change events recorded, by kind.", ["kind"],
            registry=self.registry,
        )
        self.request_latency = Histogram(
            "mlresponder_http_request_duration_seconds", "HTTP request latency.", ["method", "route", "status"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
