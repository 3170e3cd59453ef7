"""What runbook templates see: the incident, its first alert, the diagnosis, earlier steps."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.catalog import Catalog, Service
from bot.incidents import change_to_dict, changes_in_window
from bot.models import Incident, Mitigation

NO_DIAGNOSIS: dict[str, Any] = {
    "cause": "none",
    "culprit": {"kind": "none", "name": None},
    "confidence": 0.0,
    "onset": None,
    "recommended_mitigation": "none",
    "findings": [],
}


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def service_view(service: Service | None) -> dict[str, Any] | None:
    """The catalog entry as templates see it; secrets stay ``${…}`` references (filled in at use)."""
    if service is None:
        return None
    return {
        "name": service.name,
        "model": service.model.model_dump() if service.model else None,
        "prediction_log": service.prediction_log,
        "reference": service.reference,
        "owners": {"slack": service.owners.slack, "mention": service.owners.slack_mention()},
        "auto_approve": list(service.auto_approve),
        "metrics": {key: s.query for key, s in service.metrics.items()},
        "dependencies": service.dependency_names(),
        "stakeholders_channel": service.stakeholders_channel,
    }


def incident_view(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "ref": incident.ref,
        "title": incident.title,
        "severity": incident.severity,
        "service": incident.service,
        "catalog_service": incident.catalog_service,
        "status": incident.status,
        "commander": incident.commander,
        "labels": dict(incident.labels or {}),
        "started_at": _iso(incident.started_at),
        "created_at": _iso(incident.created_at),
    }


def alert_view(incident: Incident) -> dict[str, Any]:
    if incident.alerts:
        a = incident.alerts[0]
        return {
            "title": a.title,
            "status": a.status,
            "severity": a.severity,
            "service": a.service,
            "fingerprint": a.fingerprint,
            "labels": {**(incident.labels or {}), **(a.labels or {})},
            "annotations": dict(a.annotations or {}),
            "starts_at": _iso(a.starts_at),
        }
    return {
        "title": incident.title, "status": "firing", "severity": incident.severity,
        "service": incident.service, "fingerprint": None, "labels": dict(incident.labels or {}),
        "annotations": {}, "starts_at": _iso(incident.started_at),
    }


def mitigation_view(m: Mitigation | None) -> dict[str, Any] | None:
    if m is None:
        return None
    return {
        "id": m.id, "action": m.action, "target": m.target, "status": m.status, "approval": m.approval,
        "plan": m.plan, "before": m.before, "after": m.after, "approved_by": m.approved_by,
        "verification": m.verification, "error": m.error,
    }


def build_context(
    session: Session, incident: Incident, run_context: dict[str, Any] | None = None,
    *, runbook: dict[str, Any] | None = None, mitigation: Mitigation | None = None,
    catalog: Catalog | None = None,
) -> dict[str, Any]:
    run_context = run_context or {}
    alert = alert_view(incident)
    diagnosis = run_context.get("diagnosis") or incident.diagnosis or NO_DIAGNOSIS
    return {
        "incident": incident_view(incident),
        # What the runbook may read and act on: the catalog's entry, None for an unknown service.
        "service": service_view((catalog or Catalog()).get(incident.catalog_service)),
        "alert": alert,
        "labels": alert["labels"],
        "annotations": alert["annotations"],
        "diagnosis": diagnosis,
        "steps": dict(run_context.get("steps") or {}),
        "mitigation": mitigation_view(mitigation),
        "verification": run_context.get("verification"),
        "runbook": runbook or {},
        # Change events from an hour before the incident started (deploys, config changes).
        "changes": [change_to_dict(c) for c in changes_in_window(
            session, incident, services=(catalog or Catalog()).change_scope(incident.catalog_service,
                                                                            incident.service))],
    }
