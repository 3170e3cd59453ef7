"""Which chat operations each timeline event needs, queued in the event's own transaction.

A `before_commit` hook on the runtime's session factory turns the events a transaction
logged into outbox rows in that same transaction: the event and its chat messages commit
together or not at all. The worker is woken by the bus after the commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from bot.chat.blocks import is_slack_user_id
from bot.chat.models import OutboxMessage
from bot.chat.pagerduty import page_route, pd_key
from bot.chat.views import series_figure_png
from bot.config import Settings
from bot.events import EventKind, EventNotice, pending_notices

# Kinds whose change shows on the card: it is updated in place.
CARD_KINDS = frozenset(
    {EventKind.STATUS_CHANGED, EventKind.SEVERITY_CHANGED, EventKind.COMMANDER_ASSIGNED, EventKind.DIAGNOSIS,
     EventKind.ALERTS_ALL_RESOLVED, EventKind.ALERT_JOINED, EventKind.ALERT_REFIRED, EventKind.ALERT_RESOLVED,
     EventKind.POSTMORTEM_DRAFTED, EventKind.ROLE_ASSIGNED}
)
# Timeline kinds whose thread messages may go out together, several lines in one (a storm).
COALESCED_KINDS = frozenset({"alert_joined", "alert_refired", "alert_resolved"})
# Kinds announced in the channel as well as the thread, so people are actually notified.
BROADCAST_KINDS = frozenset({EventKind.ESCALATION})

_QUEUED = "mlresponder_chat_queued"
PAGE_FOLLOW_UP = {"acknowledged": "acknowledge", "resolved": "resolve"}


def incident_key(incident_id: int) -> str:
    return f"inc:{incident_id}"


def card_key(incident_id: int) -> str:
    """Card updates queue apart from the incident's messages: they coalesce (see the outbox worker)."""
    return f"card:{incident_id}"


def is_card_kind(kind: str) -> bool:
    return kind in CARD_KINDS or kind.startswith("mitigation_")


def ops_for(notice: EventNotice, settings: Settings) -> list[OutboxMessage]:
    """The outbox rows one timeline event needs, in the order they must be sent."""
    key = incident_key(notice.incident_id)

    def row(op: str, payload: dict[str, Any] | None = None, *, row_key: str = key) -> OutboxMessage:
        return OutboxMessage(
            key=row_key, incident_id=notice.incident_id, event_id=notice.event_id, op=op,
            payload=payload or {}, status="pending",
        )

    if notice.kind == "incident_opened":
        rows = [row("create_channel"), row("set_topic")]
        rows += [row("invite", {"user": user}) for user in settings.responder_ids()]
        rows += [row("post_card"), row("pin_card")]
        if settings.slack_alerts_channel:
            rows.append(row("alerts_line", {"channel": settings.slack_alerts_channel}, row_key="alerts"))
        return rows
    payload: dict[str, Any] = {}
    if notice.kind == "chat_error":
        payload["quiet"] = True  # a failure to post a failure note is not noted again
    if notice.kind in BROADCAST_KINDS:
        payload["broadcast"] = True
    rows = [row("thread", payload)]
    if notice.kind == "escalation":
        # Whoever is escalated to joins the channel (a departed one is noted, like any invite).
        who = notice.data.get("who") or []
        rows = [row("invite", {"user": u}) for u in who if isinstance(u, str) and is_slack_user_id(u)] + rows
        route = page_route(notice.data.get("page"))
        if route:
            # The owners' or the policy's PagerDuty service, on its own key: a chat outage never holds a page back.
            rows.append(row("pagerduty", {"event_action": "trigger", **route,
                                          "message": str(notice.data.get("message") or "")},
                            row_key=pd_key(notice.incident_id)))
    if notice.kind in ("commander_assigned", "role_assigned"):
        # A role holder who is not a configured responder joins the channel too.
        to = str(notice.data.get("to") or "")
        user = to[len("slack:"):] if to.startswith("slack:") else to
        if is_slack_user_id(user):
            rows = [row("invite", {"user": user})] + rows
    if notice.kind == "status_update":
        for channel in notice.data.get("stakeholder_channels") or []:
            rows.append(row("stakeholder_update", {"channel": str(channel)}, row_key=f"stakeholders:{channel}"))
    if notice.kind == "diagnosis" and series_figure_png(notice.data.get("diagnosis")):
        # the figure goes up in the card's thread; the card shows it once the upload is done
        rows.append(row("upload_figure"))
    if is_card_kind(notice.kind):
        rows.append(row("update_card", row_key=card_key(notice.incident_id)))
    if notice.kind in ("status_changed", "severity_changed"):
        rows.append(row("set_topic"))
    if notice.kind == "status_changed" and notice.data.get("to") == "resolved" and settings.slack_alerts_channel:
        rows.append(row("alerts_line", {"channel": settings.slack_alerts_channel}, row_key="alerts"))
    if notice.kind == "postmortem_drafted" and notice.data.get("upload"):
        rows.append(row("upload_postmortem"))
    if notice.kind == "channel_archived":
        rows.append(row("archive_channel"))
    return rows


def due_at_once(notices: list[EventNotice]) -> bool:
    """Whether these events queue a row due now. An alert line and its card update wait for their
    window (`OutboxWorker.lines_every`, `card_every`), so a storm's joined alerts need not wake the
    worker at every commit; it sends them when their window ends."""
    return any(n.kind not in COALESCED_KINDS for n in notices)


def queue_for_session(session: Session, settings: Settings) -> None:
    """before_commit hook: add outbox rows for the events this transaction logged."""
    notices: list[EventNotice] = pending_notices(session)
    done: int = session.info.get(_QUEUED, 0)
    if len(notices) <= done:
        return
    for notice in notices[done:]:
        for message in ops_for(notice, settings):
            session.add(message)
        session.add_all(page_follow_ups(session, notice))
    session.info[_QUEUED] = len(notices)


def page_follow_ups(session: Session, notice: EventNotice) -> list[OutboxMessage]:
    """A paged incident acknowledged or resolved here is acknowledged or resolved in PagerDuty."""
    action = PAGE_FOLLOW_UP.get(str(notice.data.get("to"))) if notice.kind == "status_changed" else None
    if action is None:
        return []
    key = pd_key(notice.incident_id)
    triggers = session.scalars(select(OutboxMessage).where(OutboxMessage.key == key, OutboxMessage.op == "pagerduty")
                               .order_by(OutboxMessage.id))
    # One follow-up per PagerDuty route the incident paged (the owners' service, the policy's key).
    routes = dict.fromkeys(tuple(page_route(t.payload).items()) for t in triggers
                           if t.payload.get("event_action") == "trigger")
    return [OutboxMessage(key=key, incident_id=notice.incident_id, event_id=notice.event_id, op="pagerduty",
                          payload={"event_action": action, **dict(route)}, status="pending")
            for route in routes if route]


def reset_session_marker(session: Session) -> None:
    session.info.pop(_QUEUED, None)


def outbox_table_exists(session_or_engine: Any) -> bool:
    return bool(inspect(session_or_engine).has_table(OutboxMessage.__tablename__))
