"""Chat-neutral snapshots of an incident and a timeline event, read at send time.

Messages are rendered from these when the outbox worker sends them, never when the event
was recorded, so a card sent after an outage shows the incident as it is now. The views
hold raw (unescaped) text; each renderer escapes for its own medium.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Alert, Incident, Mitigation, TimelineEvent


@dataclass(frozen=True)
class AlertLine:
    title: str
    status: str
    severity: str
    service: str
    labels: dict[str, str]
    summary: str


@dataclass(frozen=True)
class MitigationLine:
    id: int
    action: str
    target: str
    status: str
    summary: str


@dataclass(frozen=True)
class IncidentView:
    id: int
    ref: str
    title: str
    severity: str
    status: str
    service: str
    started_at: datetime
    commander: str | None
    alerts: list[AlertLine] = field(default_factory=list)
    diagnosis: dict[str, Any] | None = None
    proposed: list[MitigationLine] = field(default_factory=list)
    mitigations: list[MitigationLine] = field(default_factory=list)
    channel_id: str | None = None
    card_id: str | None = None

    @property
    def open(self) -> bool:
        return self.status != "resolved"

    @property
    def can_acknowledge(self) -> bool:
        return self.status in ("triggered", "reopened")


@dataclass(frozen=True)
class TimelineLine:
    event_id: int
    kind: str
    actor: str
    message: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


def build_view(session: Session, incident: Incident, *, with_alerts: bool = True) -> IncidentView:
    """``with_alerts=False`` leaves `alerts` empty: messages that do not show them need not read
    every alert of an incident that a storm has made large."""
    alerts = session.scalars(
        select(Alert).where(Alert.incident_id == incident.id).order_by(Alert.id)
    ).all() if with_alerts else []
    mitigations = session.scalars(
        select(Mitigation).where(Mitigation.incident_id == incident.id).order_by(Mitigation.id)
    ).all()
    lines = [_mitigation_line(m) for m in mitigations]
    return IncidentView(
        id=incident.id,
        ref=incident.ref,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        service=incident.service,
        started_at=incident.started_at,
        commander=incident.commander,
        alerts=[
            AlertLine(
                title=a.title, status=a.status, severity=a.severity, service=a.service,
                labels={str(k): str(v) for k, v in (a.labels or {}).items()},
                summary=str((a.annotations or {}).get("summary") or (a.annotations or {}).get("description") or ""),
            )
            for a in alerts
        ],
        diagnosis=incident.diagnosis,
        proposed=[m for m in lines if m.status == "proposed"],
        mitigations=lines,
        channel_id=incident.chat_channel_id,
        card_id=incident.chat_card_ts,
    )


def _mitigation_line(m: Mitigation) -> MitigationLine:
    plan = m.plan or {}
    summary = str(plan.get("summary") or plan.get("description") or f"{m.action} on {m.target}")
    return MitigationLine(id=m.id, action=m.action, target=m.target, status=m.status, summary=summary)


def timeline_line(event: TimelineEvent) -> TimelineLine:
    return TimelineLine(
        event_id=event.id, kind=event.kind, actor=event.actor, message=event.message,
        at=event.occurred_at, data=dict(event.data or {}),
    )


_SLUG_DROP = re.compile(r"[^a-z0-9]+")


def channel_name(number: int, title: str, *, max_slug: int = 40) -> str:
    """`inc-<number>-<short-slug>`: lowercase, within Slack's 80 characters, cut at a word."""
    slug = _SLUG_DROP.sub("-", title.lower()).strip("-")
    if len(slug) > max_slug:
        cut = slug[:max_slug]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else cut
    return f"inc-{number}-{slug}" if slug else f"inc-{number}"
