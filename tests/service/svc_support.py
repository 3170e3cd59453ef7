"""What the service tests' Prometheus fixture yields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from benchmarks.service_scenarios import generate as g
from bot.catalog import Catalog, LoadedService, Service
from bot.db import transaction
from bot.incidents import create_incident
from bot.models import ChangeEvent
from bot.runtime import Runtime


@dataclass
class History:
    url: str
    end: float
    scenarios: dict[str, g.ServiceScenario]  # kind -> scenario (healthy: "healthy", "healthy-2", "healthy-3")


def open_service_incident(rt: Runtime, sc: g.ServiceScenario, *, in_catalog: bool = True) -> int:
    """The scenario's service in the catalog, its changes recorded, an incident opened 4 minutes
    after the onset (an alert's usual delay)."""
    rt.catalog = Catalog((LoadedService(Service.model_validate(g.catalog_entry(sc)), "<test>", 0),))
    with transaction(rt.sessions) as s:
        for c in sc.changes:
            s.add(ChangeEvent(timestamp=datetime.fromtimestamp(c["timestamp"], tz=UTC), kind=c["kind"],
                              service=c["service"], description=c["description"],
                              from_version=c.get("from_version"), to_version=c.get("to_version")))
        incident = create_incident(s, title="scorer p95 latency high", severity="sev3", service=g.SERVICE,
                                   source="alertmanager", actor="alertmanager",
                                   started_at=datetime.fromtimestamp(sc.onset + 240, tz=UTC),
                                   catalog_service=g.SERVICE if in_catalog else None)
        return int(incident.id)
