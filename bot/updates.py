"""Status updates for stakeholders, and the reminder to post one on a cadence set by severity.

`/incident update` records a `status_update` event naming the stakeholder channels it goes
to; the chat posts it there and in the incident channel. Until the incident is mitigated, a
scheduler job records a `reminder` (reason ``status_update``) when no update was posted for
the severity's interval, addressed to the communications lead (else the commander).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import transaction, utcnow
from bot.events import EventNotice
from bot.incidents import get_incident, log_event
from bot.models import Incident, TimelineEvent
from bot.scheduler import Scheduler

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

# Until mitigated, stakeholders are waiting for news.
NEEDS_UPDATES = ("triggered", "acknowledged", "mitigating", "reopened")
REMINDER_REASON = "status_update"
JOB_PREFIX = "status-update:"
REMIND_FUNC = "bot.updates:remind"
_PLAN_KINDS = frozenset({"incident_opened", "status_update", "severity_changed", "status_changed"})


def parse_cadence(value: str) -> dict[str, timedelta]:
    """``"sev1=30,sev2=60"`` (minutes) → {"sev1": 30 min, "sev2": 60 min}; a bad entry is an error naming it."""
    from bot.incidents import normalize_severity

    cadence: dict[str, timedelta] = {}
    for entry in (e.strip() for e in (value or "").split(",")):
        if not entry:
            continue
        severity, _, minutes = entry.partition("=")
        try:
            every = float(minutes)
        except ValueError:
            raise ValueError(f"update_reminders: {entry!r} is not SEVERITY=MINUTES") from None
        if every <= 0:
            raise ValueError(f"update_reminders: {entry!r}: minutes must be positive")
        cadence[normalize_severity(severity, "update_reminders")] = timedelta(minutes=every)
    return cadence


def stakeholder_channels(settings: Settings, incident: Incident, catalog: Any = None) -> list[str]:
    """The service's own `stakeholders_channel` when the catalog names one, else the configured channel.

    ``catalog``: the runtime's service catalog, when this deployment has one (anything with ``get(name)``
    returning a service that may carry ``stakeholders_channel``).
    """
    if str((incident.labels or {}).get("private", "")).lower() in ("true", "1", "yes"):
        return []  # a private incident's news stays in its private channel
    service = catalog.get(incident.service) if catalog is not None else None
    channel = getattr(service, "stakeholders_channel", None) or settings.slack_stakeholders_channel
    return [str(channel)] if channel else []


def post_status_update(session: Session, settings: Settings, incident: Incident, text: str, *,
                       actor: str, catalog: Any = None) -> list[str]:
    channels = stakeholder_channels(settings, incident, catalog)
    log_event(session, incident, "status_update", f"status update: {text}", actor=actor,
              data={"text": text, "stakeholder_channels": channels})
    return channels


def last_update_at(session: Session, incident: Incident) -> datetime:
    """The latest status update, or when the incident opened (the first update is due one interval in)."""
    latest = session.scalar(
        select(TimelineEvent.occurred_at).where(TimelineEvent.incident_id == incident.id,
                                                TimelineEvent.kind == "status_update")
        .order_by(TimelineEvent.id.desc()).limit(1)
    )
    return latest or incident.created_at


def last_reminder_at(session: Session, incident: Incident) -> datetime | None:
    events = session.scalars(
        select(TimelineEvent).where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "reminder")
        .order_by(TimelineEvent.id.desc())
    )
    return next((e.occurred_at for e in events if (e.data or {}).get("reason") == REMINDER_REASON), None)


def next_due(session: Session, incident: Incident, cadence: dict[str, timedelta]) -> datetime | None:
    every = cadence.get(incident.severity)
    if every is None or incident.status not in NEEDS_UPDATES:
        return None
    last = last_update_at(session, incident)
    reminded = last_reminder_at(session, incident)
    if reminded is not None and reminded > last:
        last = reminded
    return last + every


def check(runtime: Runtime, incident_id: int, now: datetime | None = None) -> datetime | None:
    """Record a reminder if one is due at ``now``; returns when to look again (None: never)."""
    now = now or utcnow()
    cadence = parse_cadence(runtime.settings.update_reminders)
    with transaction(runtime.sessions) as s:
        incident = get_incident(s, incident_id, for_update=True)
        due = next_due(s, incident, cadence)
        if due is not None and now >= due:
            roles = _roles(s, incident)
            who = roles.get("comms") or roles.get("commander")
            silent = now - last_update_at(s, incident)
            log_event(
                s, incident, "reminder",
                f"{incident.ref} ({incident.severity}) has had no status update for {silent.total_seconds() / 60:.0f} "
                "min: post one with `/incident update <text>`.",
                data={"reason": REMINDER_REASON, "who": [who[len('slack:'):] if who.startswith("slack:") else who]
                      if who else []},
                at=now,
            )
            due = now + cadence[incident.severity]
    return due


def _roles(session: Session, incident: Incident) -> dict[str, str]:
    from bot.roles import roles_of

    return roles_of(session, incident)


class UpdateReminders:
    """Keeps each incident's reminder job scheduled; present only where a scheduler runs (serve)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.cadence = parse_cadence(runtime.settings.update_reminders)

    def on_events(self, notices: list[EventNotice]) -> None:
        # Listeners run on the thread that committed (intake's writer, during a storm of new incidents):
        # an incident just opened at a severity without a cadence has no job to plan or cancel.
        for incident_id in dict.fromkeys(n.incident_id for n in notices if n.kind in _PLAN_KINDS
                                         and not (n.kind == "incident_opened"
                                                  and n.data.get("severity") not in self.cadence)):
            try:
                self.plan(incident_id)
            except Exception:
                log.exception("planning status-update reminders of INC-%s failed", incident_id)

    def plan(self, incident_id: int) -> datetime | None:
        with transaction(self.runtime.sessions) as s:
            incident = s.get(Incident, incident_id)
            due = next_due(s, incident, self.cadence) if incident is not None else None
        self._schedule(incident_id, due)
        return due

    def _schedule(self, incident_id: int, when: datetime | None) -> None:
        scheduler = self.runtime.parts.get(Scheduler)
        if scheduler is None:
            return
        job_id = f"{JOB_PREFIX}INC-{incident_id}"
        if when is None:
            scheduler.cancel(job_id)
        else:
            scheduler.run_at(job_id, when, REMIND_FUNC, incident_id=incident_id)


def remind(incident_id: int) -> None:
    """Scheduler entry point."""
    from bot.scheduler import current_runtime

    runtime = current_runtime()
    service: UpdateReminders | None = runtime.parts.get(UpdateReminders)
    due = check(runtime, incident_id)
    if service is not None:
        service._schedule(incident_id, due)

