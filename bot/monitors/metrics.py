"""Prometheus gauges of the monitors, read from the run history at scrape time.

Reading the store (not process memory) means every replica's ``/metrics`` shows the same
figures, whichever replica ran the tick, and a restart does not blank the graphs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.db import transaction
from bot.monitors.runner import MonitorService

if TYPE_CHECKING:
    from bot.runtime import Runtime


class MonitorCollector(Collector):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from bot.monitors.runner import last_runs

        drift = GaugeMetricFamily("mlresponder_monitor_drift_score",
                                  "PSI of each feature against the monitor's reference, last successful run.",
                                  labels=["monitor", "feature"])
        missing = GaugeMetricFamily("mlresponder_monitor_missing_share",
                                    "Share of rows missing each feature in the window, last successful run.",
                                    labels=["monitor", "feature"])
        quality = GaugeMetricFamily("mlresponder_monitor_quality",
                                    "Model quality in the window (accuracy, mae or rmse), per model version "
                                    "and overall ('all').", labels=["monitor", "service", "model_version", "metric"])
        latency = GaugeMetricFamily("mlresponder_monitor_latency_ms", "Latency quantile in the window.",
                                    labels=["monitor", "quantile"])
        errors = GaugeMetricFamily("mlresponder_monitor_error_rate", "Error rate in the window.", labels=["monitor"])
        rows = GaugeMetricFamily("mlresponder_monitor_window_rows", "Rows in the window.", labels=["monitor"])
        success = GaugeMetricFamily("mlresponder_monitor_last_success_timestamp_seconds",
                                    "When the monitor last read its source and judged it (ok or breach).",
                                    labels=["monitor"])
        breach = GaugeMetricFamily("mlresponder_monitor_breached",
                                   "1 when the last finished run breached or failed to read its source.",
                                   labels=["monitor", "status"])
        service_of = {}
        part = self.runtime.parts.get(MonitorService)
        if part is not None:
            service_of = {name: spec.service for name, spec in part.config.monitors.items()}
        with transaction(self.runtime.sessions) as session:
            good = last_runs(session, ("ok", "breach"))
            last = last_runs(session)
        for name, run in sorted(good.items()):
            m: dict[str, Any] = run.metrics or {}
            for feature, value in sorted((m.get("drift") or {}).items()):
                drift.add_metric([name, feature], float(value))
            for feature, value in sorted((m.get("missing") or {}).items()):
                missing.add_metric([name, feature], float(value))
            q = m.get("quality") or {}
            metric = str(q.get("metric") or "")
            service = service_of.get(name, "")
            if q.get("value") is not None:
                quality.add_metric([name, service, "all", metric], float(q["value"]))
            for version, value in sorted((q.get("per_version") or {}).items()):
                quality.add_metric([name, service, str(version), metric], float(value))
            lat = m.get("latency") or {}
            if lat.get("value_ms") is not None:
                latency.add_metric([name, str(lat.get("quantile"))], float(lat["value_ms"]))
            if m.get("error_rate") is not None:
                errors.add_metric([name], float(m["error_rate"]))
            if run.rows is not None:
                rows.add_metric([name], float(run.rows))
            if run.finished_at is not None:
                success.add_metric([name], run.finished_at.timestamp())
        for name, run in sorted(last.items()):
            breach.add_metric([name, run.status], 0.0 if run.status == "ok" else 1.0)
        yield from (drift, missing, quality, latency, errors, rows, success, breach)


def make_registry(runtime: Runtime) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MonitorCollector(runtime))
    return registry
