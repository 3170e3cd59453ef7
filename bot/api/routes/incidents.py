"""`GET /incidents`, `GET /incidents/{ref}`: incidents as JSON, behind the read token."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter

from bot.api.deps import Reader, RuntimeDep, SessionDep
from bot.api.schemas import IncidentDetail, IncidentList, Problem
from bot.errors import InvalidInput
from bot.incidents import get_incident, incident_to_dict, list_incidents, normalize_severity
from bot.models import STATUSES
from bot.redact import redact
from bot.timeparse import parse_timestamp

router = APIRouter(tags=["incidents"], dependencies=[Reader],
                   responses={401: {"model": Problem}, 422: {"model": Problem}})


@router.get("/incidents", response_model=IncidentList, summary="Incidents, newest first")
def get_incidents(
    session: SessionDep,
    status: str | None = None,
    service: str | None = None,
    severity: str | None = None,
    since: str | None = None,
    limit: int = 100,
) -> Any:
    if status and status != "open" and status not in STATUSES:
        raise InvalidInput(f"status: unknown status {status!r} (expected open or one of {', '.join(STATUSES)})")
    if severity:
        normalize_severity(severity)
    if service is not None and len(service) > 200:
        raise InvalidInput("service: longer than 200 characters")
    since_dt: datetime | None = parse_timestamp(since, "since") if since else None
    if not 1 <= limit <= 1000:
        raise InvalidInput("limit: must be between 1 and 1000")
    rows = list_incidents(session, status=status, service=service, severity=severity, since=since_dt, limit=limit)
    return redact({"incidents": [incident_to_dict(session, i, full=False) for i in rows]})


@router.get("/incidents/{ref}", response_model=IncidentDetail, responses={404: {"model": Problem}},
            summary="One incident with its timeline, diagnosis and mitigations")
def get_one(ref: str, session: SessionDep, runtime: RuntimeDep) -> Any:
    incident = get_incident(session, ref)
    # The timeline's changes: the incident's service and its catalog dependencies only.
    scope = runtime.catalog.change_scope(incident.catalog_service, incident.service)
    return redact(incident_to_dict(session, incident, change_scope=scope))
