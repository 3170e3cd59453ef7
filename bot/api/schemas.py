"""Request and response models of the HTTP API (the shapes of docs/contracts.md).

Response models allow extra keys, so a field another part adds to an incident's JSON reaches
the caller without being listed twice.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timestamp: Any  # checked by parse_timestamp (pydantic would take true as 1)
    kind: str = Field(max_length=40)
    service: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=10_000)
    from_version: str | None = Field(default=None, max_length=200)
    to_version: str | None = Field(default=None, max_length=200)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class IngestAnswer(_Open):
    incidents: list[str]
    opened: int
    joined: int
    duplicates: int
    resolved: int
    ignored: int


class ChangeCreated(_Open):
    id: int


class IncidentSummary(_Open):
    id: str
    number: int
    title: str
    status: str
    severity: str
    service: str
    # The catalog service the alert selected; null when the service is not in the catalog.
    catalog_service: str | None = None
    source: str
    commander: str | None
    summary: str | None
    labels: dict[str, Any]
    created_at: str | None
    started_at: str | None
    acknowledged_at: str | None
    mitigated_at: str | None
    resolved_at: str | None
    alerts_resolved: bool
    alerts_resolved_at: str | None
    diagnosis: dict[str, Any] | None


class IncidentList(_Open):
    incidents: list[IncidentSummary]


class IncidentDetail(IncidentSummary):
    alerts: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    mitigations: list[dict[str, Any]]
    postmortem_path: str | None


class Health(_Open):
    status: str
    database: str


class Problem(BaseModel):
    detail: str
