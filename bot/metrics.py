"""Prometheus metrics of mlresponder itself, one registry per app so tests stay independent."""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Histogram

# Distinct `source` label values kept before the rest are counted as "other": the generic
# intake's `source` is free text, and every value would otherwise be a new series forever.
MAX_SOURCES = 20
BUILTIN_SOURCES = ("alertmanager", "grafana")


class ServiceMetrics:
    def __init__(self) -> None:
        self._sources: set[str] = set()
        self._sources_lock = threading.Lock()
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

        self.intake_batch = Histogram(
            "mlresponder_intake_batch_deliveries",
            "Deliveries per intake transaction (group commit: those that arrived together commit together).",
            buckets=(1, 2, 4, 8, 16, 32, 64), registry=self.registry,
        )

    def source_label(self, source: str) -> str:
        """``source`` while fewer than `MAX_SOURCES` values have been seen, then "other"."""
        if source in BUILTIN_SOURCES:
            return source
        seen = self._sources
        if source in seen:
            return source
        with self._sources_lock:
            if len(seen) >= MAX_SOURCES - len(BUILTIN_SOURCES):
                return "other"
            seen.add(source)
        return source
