"""Incident lifecycle and the timeline: the service functions every flow goes through."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.errors import Conflict, InvalidInput, NotFound
from bot.events import EventNotice, queue_notice, queue_unflushed
from bot.models import (
    OPEN_STATUSES,
    SEVERITIES,
    STATUSES,
    TRANSITIONS,
    AuditRecord,
    ChangeEvent,
    Incident,
    TimelineEvent,
)
from bot.timeparse import iso as _iso


class IncidentError(Conflict):
    """A request about an incident that cannot be honoured; the message says why."""


class IncidentNotFound(IncidentError, NotFound):
    status = 404


class IllegalTransition(IncidentError):
    pass


_REF = re.compile(r"^(?:INC-)?(\d{1,18})$", re.IGNORECASE)


def parse_ref(ref: str | int) -> int:
    if isinstance(ref, int):
        return ref
    m = _REF.match(ref.strip())
    if not m:
        raise IncidentNotFound(f"{ref[:40]!r} is not an incident id (expected INC-<number>)")
    return int(m.group(1))


def get_incident(session: Session, ref: str | int, *, for_update: bool = False) -> Incident:
    stmt = select(Incident).where(Incident.id == parse_ref(ref))
    if for_update:
        stmt = stmt.with_for_update()
    incident = session.scalars(stmt).first()
    if incident is None:
        raise IncidentNotFound(f"no incident {ref if isinstance(ref, str) else f'INC-{ref}'}")
    return incident


def log_event(
    session: Session,
    incident: Incident,
    kind: str,
    message: str,
    *,
    actor: str = "mlresponder",
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
    flush: bool = True,
    touch: bool = True,
) -> TimelineEvent:
    """Append to the incident's event log; listeners hear of it after the transaction commits.

    ``flush=False`` leaves the row pending (its ``id`` unset until the session flushes), so that a
    batch of events is written by one flush: intake routing a storm logs one per joined alert.
    ``touch=False`` leaves the incident's row (its ``updated_at``) alone, for an event that changes
    nothing of it: during a storm every joined alert's transaction would otherwise update the same
    incident row, a statement each and a row lock that the incident's other writers queue behind.
    """
    ev = TimelineEvent(
        incident_id=incident.id,
        kind=kind,
        message=message,
        actor=actor,
        data=data or {},
        occurred_at=at or utcnow(),
    )
    session.add(ev)
    if touch:
        incident.updated_at = utcnow()
    if not flush:
        queue_unflushed(session, ev, incident.id, kind, dict(data or {}))
        return ev
    session.flush()
    queue_notice(session, EventNotice(incident.id, ev.id, kind, dict(data or {})))
    return ev


def escalation_targets(incident: Incident, escalate_to: list[str] | None = None) -> list[str]:
    """Who an escalation goes to when nobody is named: the commander, else the on-call rotation."""
    if escalate_to:
        return list(escalate_to)
    return [incident.commander] if incident.commander else ["on-call"]


def escalate(session: Session, incident: Incident, who: list[str], message: str, *, text: str | None = None,
             at: datetime | None = None, **data: Any) -> TimelineEvent:
    """The one way to escalate (runbooks, failed mitigations, the escalation policy): an ``escalation``
    event with ``data: {"who", "message", ...}``, which the chat turns into a mention of ``who``."""
    return log_event(session, incident, "escalation", text or f"escalated to {', '.join(who)}: {message}",
                     data={"who": list(who), "message": message, **data}, at=at)


def audit(
    session: Session,
    actor: str,
    action: str,
    subject: str,
    *,
    outcome: str = "ok",
    incident_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditRecord:
    rec = AuditRecord(
        actor=actor, action=action, subject=subject, outcome=outcome, incident_id=incident_id,
        detail=detail or {},
    )
    session.add(rec)
    session.flush()
    return rec


def normalize_severity(value: Any, field_name: str = "severity") -> str:
    """Map the usual severity vocabularies onto sev1..sev4; anything else is an error."""
    aliases = {
        "sev1": "sev1", "critical": "sev1", "p1": "sev1", "page": "sev1", "1": "sev1",
        "sev2": "sev2", "high": "sev2", "error": "sev2", "major": "sev2", "p2": "sev2", "2": "sev2",
        "sev3": "sev3", "warning": "sev3", "warn": "sev3", "medium": "sev3", "p3": "sev3", "3": "sev3",
        "sev4": "sev4", "info": "sev4", "low": "sev4", "minor": "sev4", "p4": "sev4", "4": "sev4",
        "none": "sev4",
    }
    key = str(value).strip().lower()
    if key not in aliases:
        raise InvalidInput(
            f"{field_name}: unknown severity {str(value)[:60]!r} (expected one of {', '.join(SEVERITIES)}, "
            "or critical/high/warning/info)"
        )
    return aliases[key]


def create_incident(
    session: Session,
    *,
    title: str,
    severity: str,
    service: str,
    source: str,
    actor: str,
    labels: dict[str, Any] | None = None,
    started_at: datetime | None = None,
    summary: str = "",
    group_key: str | None = None,
    catalog_service: str | None = None,
) -> Incident:
    incident = Incident(
        title=title,
        severity=normalize_severity(severity),
        service=service or "unknown",
        catalog_service=catalog_service,
        source=source,
        labels=labels or {},
        started_at=started_at or utcnow(),
        summary=summary,
        group_key=group_key,
        status="triggered",
    )
    session.add(incident)
    session.flush()
    log_event(
        session, incident, "incident_opened", f"{incident.ref} opened: {title}", actor=actor,
        data={"severity": incident.severity, "service": incident.service, "source": source,
              "catalog_service": catalog_service},
    )
    return incident


def transition(
    session: Session, incident: Incident, to_status: str, *, actor: str, note: str | None = None
) -> TimelineEvent:
    if to_status not in STATUSES:
        raise IllegalTransition(f"unknown status {to_status!r} (expected one of {', '.join(STATUSES)})")
    current = incident.status
    if to_status not in TRANSITIONS[current]:
        allowed = ", ".join(TRANSITIONS[current])
        raise IllegalTransition(
            f"{incident.ref} is {current}; it cannot move to {to_status} (from {current}: {allowed})"
        )
    now = utcnow()
    incident.status = to_status
    if to_status == "acknowledged" and incident.acknowledged_at is None:
        incident.acknowledged_at = now
    elif to_status == "mitigated":
        incident.mitigated_at = now
    elif to_status == "resolved":
        incident.resolved_at = now
    elif to_status == "reopened":
        incident.resolved_at = None
    message = f"{incident.ref} {current} → {to_status}" + (f": {note}" if note else "")
    return log_event(
        session, incident, "status_changed", message, actor=actor,
        data={"from": current, "to": to_status, "note": note},
    )


def set_severity(session: Session, incident: Incident, severity: str, *, actor: str) -> TimelineEvent:
    new = normalize_severity(severity)
    old = incident.severity
    if new == old:
        raise IncidentError(f"{incident.ref} is already {new}")
    incident.severity = new
    return log_event(
        session, incident, "severity_changed", f"severity {old} → {new}", actor=actor,
        data={"from": old, "to": new},
    )


def assign_commander(session: Session, incident: Incident, commander: str, *, actor: str) -> TimelineEvent:
    old = incident.commander
    incident.commander = commander
    return log_event(
        session, incident, "commander_assigned", f"incident commander: {commander}", actor=actor,
        data={"from": old, "to": commander},
    )


def add_note(session: Session, incident: Incident, text: str, *, actor: str) -> TimelineEvent:
    if not text.strip():
        raise IncidentError("a note needs some text")
    return log_event(session, incident, "note", text, actor=actor)


def record_diagnosis(
    session: Session, incident: Incident, diagnosis: dict[str, Any], *, actor: str = "mlresponder"
) -> TimelineEvent:
    incident.diagnosis = diagnosis
    culprit = diagnosis.get("culprit") or {}
    message = (
        f"diagnosis: cause {diagnosis.get('cause')}, culprit {culprit.get('kind')} "
        f"{culprit.get('name')!s}, confidence {float(diagnosis.get('confidence', 0.0)):.2f}, "
        f"recommended {diagnosis.get('recommended_mitigation')}"
    )
    return log_event(session, incident, "diagnosis", message, actor=actor, data={"diagnosis": diagnosis})


def list_incidents(
    session: Session,
    *,
    status: str | None = None,
    service: str | None = None,
    severity: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[Incident]:
    stmt = select(Incident).order_by(Incident.id.desc()).limit(limit)
    if status == "open":
        stmt = stmt.where(Incident.status.in_(OPEN_STATUSES))
    elif status:
        stmt = stmt.where(Incident.status == status)
    if service:
        stmt = stmt.where(Incident.service == service)
    if severity:
        stmt = stmt.where(Incident.severity == normalize_severity(severity))
    if since:
        stmt = stmt.where(Incident.created_at >= since)
    return list(session.scalars(stmt))


def changes_in_window(session: Session, incident: Incident, *, lookback_minutes: int = 60,
                      services: Collection[str] | None = None, mitigations: bool = True) -> list[ChangeEvent]:
    """Change events of the incident's service from an hour before it started until it resolved (or now).

    A change counts when its service is one of ``services`` (default: the incident's service; see
    `bot.catalog.Catalog.change_scope`, which adds the catalog dependencies) or empty (global).
    ``mitigations=False`` leaves out mlresponder's own mitigations, which are never deploys to undo.
    """
    from datetime import timedelta

    start = min(incident.started_at, incident.created_at) - timedelta(minutes=lookback_minutes)
    end = incident.resolved_at or utcnow()
    scope = set(services) if services is not None else {incident.service, incident.catalog_service or ""}
    stmt = (
        select(ChangeEvent)
        .where(ChangeEvent.timestamp >= start, ChangeEvent.timestamp <= end,
               or_(ChangeEvent.service.in_(sorted(scope)), ChangeEvent.service == ""))
        .order_by(ChangeEvent.timestamp, ChangeEvent.id)
    )
    if not mitigations:
        stmt = stmt.where(ChangeEvent.origin != "mitigation")
    return list(session.scalars(stmt))


def count_incidents(session: Session) -> int:
    return int(session.scalar(select(func.count(Incident.id))) or 0)


def change_to_dict(change: ChangeEvent) -> dict[str, Any]:
    return {
        "id": change.id,
        "timestamp": _iso(change.timestamp),
        "kind": change.kind,
        "service": change.service,
        "description": change.description,
        "from_version": change.from_version,
        "to_version": change.to_version,
        "origin": change.origin,
        "mitigation_id": change.mitigation_id,
    }


def incident_to_dict(session: Session, incident: Incident, *, full: bool = True,
                     change_scope: Collection[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": incident.ref,
        "number": incident.id,
        "title": incident.title,
        "status": incident.status,
        "severity": incident.severity,
        "service": incident.service,
        "catalog_service": incident.catalog_service,
        "source": incident.source,
        "commander": incident.commander,
        "summary": incident.summary,
        "labels": incident.labels,
        "created_at": _iso(incident.created_at),
        "started_at": _iso(incident.started_at),
        "acknowledged_at": _iso(incident.acknowledged_at),
        "mitigated_at": _iso(incident.mitigated_at),
        "resolved_at": _iso(incident.resolved_at),
        "alerts_resolved": incident.alerts_resolved_at is not None,
        "alerts_resolved_at": _iso(incident.alerts_resolved_at),
        "diagnosis": incident.diagnosis,
    }
    if not full:
        return out
    out["alerts"] = [
        {
            "fingerprint": a.fingerprint,
            "title": a.title,
            "status": a.status,
            "severity": a.severity,
            "service": a.service,
            "labels": a.labels,
            "annotations": a.annotations,
            "starts_at": _iso(a.starts_at),
            "ends_at": _iso(a.ends_at),
            "deliveries": a.deliveries,
        }
        for a in incident.alerts
    ]
    timeline: list[dict[str, Any]] = [
        {
            "at": _iso(e.occurred_at),
            "kind": e.kind,
            "actor": e.actor,
            "message": e.message,
            "data": e.data,
        }
        for e in incident.events
    ]
    for change in changes_in_window(session, incident, services=change_scope):
        timeline.append(
            {
                "at": _iso(change.timestamp),
                "kind": "change",
                "actor": change.origin,
                "message": f"{change.kind} on {change.service}: {change.description}",
                "data": change_to_dict(change),
            }
        )
    timeline.sort(key=lambda item: item["at"] or "")
    out["timeline"] = timeline
    out["mitigations"] = [
        {
            "id": m.id,
            "action": m.action,
            "target": m.target,
            "status": m.status,
            "approval": m.approval,
            "params": m.params,
            "plan": m.plan,
            "approved_by": m.approved_by,
            "approved_at": _iso(m.approved_at),
            "executed_at": _iso(m.executed_at),
            "before": m.before,
            "after": m.after,
            "verification": m.verification,
            "reverted_at": _iso(m.reverted_at),
            "error": m.error,
        }
        for m in incident.mitigations
    ]
    out["postmortem_path"] = incident.postmortem_path
    return out
