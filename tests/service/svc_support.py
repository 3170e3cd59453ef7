"""What the service tests' Prometheus fixture yields."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.service_scenarios import generate as g


@dataclass
class History:
    url: str
    end: float
    scenarios: dict[str, g.ServiceScenario]  # kind -> scenario (healthy: "healthy", "healthy-2", "healthy-3")
