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

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, defer

from bot.chat.models import SENT, OutboxMessage
from bot.models import Alert, Incident, Mitigation, TimelineEvent
from bot.roles import roles_of

# Alerts a card lists by name (the rest it counts).
SHOWN_ALERTS = 5


@dataclass(frozen=True)
class AlertLine:
    title: str
    status: str
    severity: str
    service: str
    labels: dict[str, str]
    summary: str
    description: str = ""
    # (label, url) pairs from the alert: runbook, source graph, dashboard, panel. Shown, never fetched.
    links: tuple[tuple[str, str], ...] = ()


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
    # The first `SHOWN_ALERTS` alerts of the incident (a card lists no more); the counts below are of all.
    alerts: list[AlertLine] = field(default_factory=list)
    diagnosis: dict[str, Any] | None = None
    proposed: list[MitigationLine] = field(default_factory=list)
    mitigations: list[MitigationLine] = field(default_factory=list)
    channel_id: str | None = None
    card_id: str | None = None
    # role key (bot.roles.ROLES) → actor id; the commander is also `commander`.
    roles: dict[str, str] = field(default_factory=dict)
    private: bool = False
    # The diagnosis' series figure: its PNG on this server (the console shows the path) and, once
    # the chat has it, the chat's file id (the Slack card shows the picture).
    figure_path: str | None = None
    figure_file: str | None = None
    # Alerts of the incident, all of them, and how many are firing (None: count `alerts`).
    alert_count: int | None = None
    firing_count: int | None = None

    @property
    def alerts_total(self) -> int:
        return len(self.alerts) if self.alert_count is None else self.alert_count

    @property
    def alerts_firing(self) -> int:
        if self.firing_count is None:
            return sum(1 for a in self.alerts if a.status == "firing")
        return self.firing_count

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


# The statements of a view, built once (a card is drawn every few seconds per incident in a storm,
# and building a SQLAlchemy statement costs more CPU than running it).
_SHOWN_ALERTS = (select(Alert).where(Alert.incident_id == bindparam("incident_id"))
                 .order_by(Alert.id).limit(SHOWN_ALERTS))
_ALERTS_BY_STATUS = (select(Alert.status, func.count()).where(Alert.incident_id == bindparam("incident_id"))
                     .group_by(Alert.status))
_MITIGATIONS = select(Mitigation).where(Mitigation.incident_id == bindparam("incident_id")).order_by(Mitigation.id)


def build_view(session: Session, incident: Incident, *, with_alerts: bool = True) -> IncidentView:
    """``with_alerts=False`` leaves `alerts` empty: messages that do not show them need not read
    the alerts at all. Otherwise the view holds the first `SHOWN_ALERTS` of them and the counts of
    all: a storm makes an incident of hundreds of alerts, and loading every one for each card
    refresh made each render slower than the last (and held the GIL from intake meanwhile)."""
    alerts: list[Alert] = []
    alert_count = firing_count = 0
    which = {"incident_id": incident.id}
    if with_alerts:
        alerts = list(session.scalars(_SHOWN_ALERTS, which).all())
        by_status: dict[str, int] = {status: n for status, n in session.execute(_ALERTS_BY_STATUS, which)}
        alert_count, firing_count = sum(by_status.values()), by_status.get("firing", 0)
    mitigations = session.scalars(_MITIGATIONS, which).all()
    lines = [_mitigation_line(m) for m in mitigations]
    figure = series_figure_png(incident.diagnosis)
    return IncidentView(
        id=incident.id,
        ref=incident.ref,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        service=incident.service,
        started_at=incident.started_at,
        commander=incident.commander,
        alerts=[_alert_line(a) for a in alerts],
        diagnosis=incident.diagnosis,
        proposed=[m for m in lines if m.status == "proposed"],
        mitigations=lines,
        channel_id=incident.chat_channel_id,
        card_id=incident.chat_card_ts,
        roles=roles_of(session, incident),
        private=is_private(incident),
        figure_path=figure,
        figure_file=uploaded_figure(session, incident.id, figure) if figure else None,
        alert_count=alert_count,
        firing_count=firing_count,
    )


# What a message that shows only the incident's row needs not decode: its large documents.
_ROW_ONLY = (defer(Incident.diagnosis), defer(Incident.postmortem_md), defer(Incident.summary))


def row_view(session: Session, incident_id: int) -> IncidentView | None:
    """The incident's own row only: no alerts, mitigations, roles or figure (each a query of its own).

    For messages that show none of them (a thread message shows its timeline line, in the thread
    of the card): during a storm the outbox sends one per incident every second or so, and the full
    view was most of the cost of each. Its large documents (a diagnosis, a postmortem) stay unread.
    """
    incident = session.get(Incident, incident_id, options=_ROW_ONLY)
    if incident is None:
        return None
    return IncidentView(
        id=incident.id, ref=incident.ref, title=incident.title, severity=incident.severity,
        status=incident.status, service=incident.service, started_at=incident.started_at,
        commander=incident.commander, channel_id=incident.chat_channel_id, card_id=incident.chat_card_ts,
        private=is_private(incident), alert_count=0, firing_count=0,
    )


def series_figure_png(diagnosis: dict[str, Any] | None) -> str | None:
    """The PNG the runbook drew for a service diagnosis (`series_figure.png`), if it drew one."""
    figure = (diagnosis or {}).get("series_figure")
    png = figure.get("png") if isinstance(figure, dict) else None
    return str(png) if isinstance(png, str) and png else None


def uploaded_figure(session: Session, incident_id: int, png: str) -> str | None:
    """The chat's file id of that PNG, once an `upload_figure` row has sent it."""
    results = session.scalars(
        select(OutboxMessage.result).where(
            OutboxMessage.incident_id == incident_id, OutboxMessage.op == "upload_figure", OutboxMessage.status == SENT
        ).order_by(OutboxMessage.id.desc()).limit(5)
    ).all()
    for result in results:
        files = (result or {}).get("files") or []
        if (result or {}).get("figure") == png and files:
            return str(files[0])
    return None


# Annotation keys (Prometheus conventions and Grafana's webhook fields) that hold links, in card order.
LINK_ANNOTATIONS = (("runbook_url", "runbook"), ("dashboardURL", "dashboard"), ("panelURL", "panel"))


def is_private(incident: Incident) -> bool:
    """A private incident: its channel is private and it stays out of the public alerts channel."""
    return str((incident.labels or {}).get("private", "")).lower() in ("true", "1", "yes")


def _alert_line(a: Alert) -> AlertLine:
    annotations = {str(k): str(v) for k, v in (a.annotations or {}).items()}
    summary = annotations.get("summary", "")
    description = annotations.get("description", "")
    # Alertmanager and Grafana titles are the summary: say it once.
    if summary.strip() == a.title.strip():
        summary = ""
    if description.strip() in (a.title.strip(), summary.strip()):
        description = ""
    links = [(label, annotations[key]) for key, label in LINK_ANNOTATIONS if annotations.get(key)]
    if a.generator_url:
        links.insert(1 if links and links[0][0] == "runbook" else 0, ("source", a.generator_url))
    return AlertLine(
        title=a.title, status=a.status, severity=a.severity, service=a.service,
        labels={str(k): str(v) for k, v in (a.labels or {}).items()},
        summary=summary, description=description, links=tuple(links),
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
