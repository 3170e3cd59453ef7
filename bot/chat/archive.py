"""Archiving an incident's channel a configured time after it is resolved and its postmortem drafted.

A scheduler job re-reads the incident when it fires: reopened, already archived or without a
draft, it does nothing. Archiving is a `channel_archived` event; the chat posts a last line
in the thread and then archives the channel, in that order (one outbox key).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import transaction, utcnow
from bot.events import EventNotice
from bot.incidents import get_incident, log_event
from bot.models import Incident, TimelineEvent
from bot.scheduler import Scheduler

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

JOB_PREFIX = "archive:"
ARCHIVE_FUNC = "bot.chat.archive:archive_due"


def _archived(session: Session, incident_id: int) -> bool:
    return session.scalar(select(TimelineEvent.id).where(
        TimelineEvent.incident_id == incident_id, TimelineEvent.kind == "channel_archived").limit(1)) is not None


def due_at(incident: Incident, after: timedelta) -> datetime | None:
    if incident.status != "resolved" or incident.resolved_at is None or not incident.postmortem_path:
        return None
    if not incident.chat_channel_id:
        return None
    return incident.resolved_at + after


def archive_if_due(runtime: Runtime, incident_id: int, now: datetime | None = None) -> bool:
    """Record `channel_archived` when the time has come; True when it did."""
    after = timedelta(seconds=runtime.settings.slack_archive_after_seconds)
    now = now or utcnow()
    with transaction(runtime.sessions) as s:
        incident = get_incident(s, incident_id, for_update=True)
        due = due_at(incident, after)
        if due is None or now < due or _archived(s, incident.id):
            return False
        hours = (now - (incident.resolved_at or now)).total_seconds() / 3600
        log_event(s, incident, "channel_archived",
                  f"{incident.ref} was resolved {hours:.1f} h ago and its postmortem is drafted: archiving this "
                  "channel", data={"after_seconds": after.total_seconds()}, at=now)
    return True


class ChannelArchiver:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def on_events(self, notices: list[EventNotice]) -> None:
        for n in notices:
            if n.kind == "postmortem_drafted" or (n.kind == "status_changed" and n.data.get("to") == "resolved"):
                try:
                    self.plan(n.incident_id)
                except Exception:
                    log.exception("planning the archive of INC-%s failed", n.incident_id)

    def plan(self, incident_id: int) -> datetime | None:
        after = timedelta(seconds=self.runtime.settings.slack_archive_after_seconds)
        with transaction(self.runtime.sessions) as s:
            incident = s.get(Incident, incident_id)
            due = due_at(incident, after) if incident is not None else None
        scheduler = self.runtime.parts.get(Scheduler)
        if due is not None and scheduler is not None:
            scheduler.run_at(f"{JOB_PREFIX}INC-{incident_id}", max(due, utcnow()), ARCHIVE_FUNC,
                             incident_id=incident_id)
        return due


def archive_due(incident_id: int) -> None:
    """Scheduler entry point."""
    from bot.scheduler import current_runtime

    archive_if_due(current_runtime(), incident_id)

