"""Publishing the event log: listeners hear about timeline events only once they are committed.

Flows record events with `bot.incidents.log_event`; the session collects them, and after the
transaction commits the bus hands them to subscribers (chat, runbook engine, scheduler). A
rolled-back delivery therefore never produces a chat message or a runbook run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

_PENDING = "mlresponder_pending_events"


class EventKind(StrEnum):
    """Every kind of event the event log records: the one list. Each has its icon and its
    renderer in the chat (`bot.chat.blocks`); `tests/test_event_kinds.py` checks both, and that
    every kind the code logs is one of these."""

    INCIDENT_OPENED = "incident_opened"
    ALERT_FIRED = "alert_fired"
    ALERT_JOINED = "alert_joined"
    ALERT_REFIRED = "alert_refired"
    ALERT_RESOLVED = "alert_resolved"
    ALERTS_ALL_RESOLVED = "alerts_all_resolved"
    STATUS_CHANGED = "status_changed"
    SEVERITY_CHANGED = "severity_changed"
    COMMANDER_ASSIGNED = "commander_assigned"
    NOTE = "note"
    DIAGNOSIS = "diagnosis"
    MITIGATION_PROPOSED = "mitigation_proposed"
    MITIGATION_APPROVED = "mitigation_approved"
    MITIGATION_REJECTED = "mitigation_rejected"
    MITIGATION_EXECUTED = "mitigation_executed"
    MITIGATION_FAILED = "mitigation_failed"
    MITIGATION_REVERTED = "mitigation_reverted"
    MITIGATION_STALE = "mitigation_stale"
    VERIFICATION = "verification"
    ESCALATION = "escalation"
    ESCALATION_WEBHOOK = "escalation_webhook"
    REMINDER = "reminder"
    NOTIFY = "notify"
    RUNBOOK_STARTED = "runbook_started"
    RUNBOOK_STEP = "runbook_step"
    MONITOR_ERROR = "monitor_error"
    POSTMORTEM_DRAFTED = "postmortem_drafted"
    POSTMORTEM_FAILED = "postmortem_failed"
    POSTMORTEM_REVIEWED = "postmortem_reviewed"
    CHAT_ERROR = "chat_error"
    ROLE_ASSIGNED = "role_assigned"
    STATUS_UPDATE = "status_update"
    ACTION_ITEM_FILED = "action_item_filed"
    CHANNEL_ARCHIVED = "channel_archived"


@dataclass(frozen=True)
class EventNotice:
    incident_id: int
    event_id: int
    kind: str
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[list[EventNotice]], None]


@dataclass(frozen=True)
class _Unflushed:
    """An event logged without a flush: its id is known once the session flushes it."""

    row: Any  # a `TimelineEvent`, pending in the session
    incident_id: int
    kind: str
    data: dict[str, Any]

    def notice(self) -> EventNotice:
        return EventNotice(self.incident_id, self.row.id, self.kind, self.data)


def queue_notice(session: Session, notice: EventNotice) -> None:
    session.info.setdefault(_PENDING, []).append(notice)


def queue_unflushed(session: Session, row: Any, incident_id: int, kind: str, data: dict[str, Any]) -> None:
    """Queue the notice of an event row not flushed yet (intake logs a batch of them, flushed once)."""
    session.info.setdefault(_PENDING, []).append(_Unflushed(row, incident_id, kind, data))


def _notices(session: Session, items: list[EventNotice | _Unflushed]) -> list[EventNotice]:
    if any(isinstance(i, _Unflushed) and i.row.id is None for i in items):
        session.flush()  # one flush gives every unflushed event its id
    return [i.notice() if isinstance(i, _Unflushed) else i for i in items]


def pending_notices(session: Session) -> list[EventNotice]:
    """The events this transaction has logged so far (for work that must commit with them)."""
    return _notices(session, list(session.info.get(_PENDING) or []))


class EventBus:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def attach(self, factory: sessionmaker[Session]) -> None:
        event.listen(factory, "after_commit", self._after_commit)
        event.listen(factory, "after_rollback", self._after_rollback)

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(_PENDING, None)

    def _after_commit(self, session: Session) -> None:
        items: list[EventNotice | _Unflushed] = session.info.pop(_PENDING, [])
        if items:
            # Committed: every event row has its id (nothing is flushed here).
            self.publish([i.notice() if isinstance(i, _Unflushed) else i for i in items])

    def publish(self, notices: list[EventNotice]) -> None:
        for listener in list(self._listeners):
            try:
                listener(notices)
            except Exception:  # one broken listener must not stop the others or the delivery
                log.exception("event listener %r failed", listener)
