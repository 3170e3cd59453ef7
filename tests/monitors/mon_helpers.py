"""Shared builders for monitor tests: YAML for a monitor over a table, a runtime that loads it."""

from __future__ import annotations

from pathlib import Path

import yaml

ALL_CHECKS = {"drift": {}, "missing": {}, "stuck": {}, "quality": {}, "latency": {}, "errors": {}, "traffic": {}}


def monitor_doc(name: str, url: str, table: str, *, every: str = "5m", mode: str = "aggregate",
                severity: str = "sev2", service: str = "fraud-scorer", checks: dict | None = None) -> dict:
    return {
        "name": name, "service": service, "severity": severity, "schedule": {"every": every},
        "source": {"url": url, "table": table, "mode": mode}, "window": "1h", "reference": {"trailing": "1h"},
        "checks": ALL_CHECKS if checks is None else checks,
    }


def write_config(path: Path, monitors: list[dict], escalation: dict | None = None) -> str:
    doc: dict = {"monitors": monitors}
    if escalation is not None:
        doc["escalation"] = escalation
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)
