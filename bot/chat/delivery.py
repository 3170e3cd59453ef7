"""What each outbox operation does: resolve what it depends on at send time, call the port.

Rows name an operation and an incident, not a channel id or a message ts: those exist only
once earlier rows have been sent, so they are read from the incident when the row is sent.
Failures that Slack will never accept (a deactivated responder, a taken or archived channel)
become a `chat_error` note on the timeline and the flow carries on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot.catalog import Catalog
from bot.chat import blocks
from bot.chat.flows import card_key
from bot.chat.models import PENDING, OutboxMessage
from bot.chat.pagerduty import EVENT_ACTIONS, PagerDutyClient, event_body
from bot.chat.port import ChatPort, FileToUpload, FinalChatError
from bot.chat.views import IncidentView, TimelineLine, build_view, row_view, series_figure_png, timeline_line
from bot.incidents import log_event
from bot.models import Incident, TimelineEvent

# Operations that never show the incident's alerts: their view is built without reading them.
NO_ALERT_OPS = frozenset({"create_channel", "set_topic", "invite", "pin_card", "thread", "alerts_line", "text",
                          "ephemeral", "respond"})
# Operations that use nothing of the incident but its row (its channel, its card): their view is
# `row_view`, without the queries of roles, mitigations and figure (a storm's thread messages).
ROW_ONLY_OPS = frozenset({"thread", "invite", "pin_card", "text", "ephemeral", "respond"})
# Operations that send something of their timeline event (its line, its files).
EVENT_OPS = frozenset({"thread", "stakeholder_update", "upload_postmortem", "upload_figure"})
# The events of a message that carries several alert lines (built once: see `bot.chat.outbox`).
_EVENTS = (select(TimelineEvent).where(TimelineEvent.id.in_(bindparam("ids", expanding=True)))
           .order_by(TimelineEvent.id))
# Errors that are not worth a timeline note (the goal is already reached).
BENIGN_ERRORS = frozenset({"already_in_channel", "already_pinned", "cant_invite_self", "message_not_modified"})


@dataclass(frozen=True)
class RowRef:
    """What the worker knows of a claimed row, detached from any session."""

    id: int
    key: str
    op: str
    incident_id: int | None
    event_id: int | None
    payload: dict[str, Any]
    attempts: int
    # Rows folded into this one's message, as (row id, event id): alert lines of a storm.
    batch: tuple[tuple[int, int], ...] = ()

    @property
    def ids(self) -> list[int]:
        return [self.id, *(row_id for row_id, _ in self.batch)]

    @classmethod
    def of(cls, row: OutboxMessage) -> RowRef:
        return cls(row.id, row.key, row.op, row.incident_id, row.event_id, dict(row.payload or {}), row.attempts)


@dataclass
class DeliveryContext:
    view: IncidentView | None = None
    line: TimelineLine | None = None
    # An earlier row this one depends on has not been sent yet (e.g. the channel).
    waiting_for: str | None = None


@dataclass
class Outcome:
    result: dict[str, Any] = field(default_factory=dict)
    channel_id: str | None = None
    card_id: str | None = None
    notes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    defer: bool = False
    # The card must be drawn again (it shows what this row made, e.g. an uploaded figure).
    refresh_card: bool = False


class Delivery:
    def __init__(self, port: ChatPort, *, alerts_channel: str | None = None,
                 pager: PagerDutyClient | None = None, catalog: Catalog | None = None) -> None:
        self.port = port
        self.alerts_channel = alerts_channel
        self.pager = pager or PagerDutyClient()
        # Pages go to the owners the catalog names (an alert can never choose whom to page).
        self.catalog = catalog or Catalog()

    # -- reading ----------------------------------------------------------------------
    def load(self, session: Session, row: RowRef) -> DeliveryContext:
        ctx = DeliveryContext()
        if row.incident_id is not None and row.op in ROW_ONLY_OPS:
            ctx.view = row_view(session, row.incident_id)
        elif row.incident_id is not None:
            incident = session.get(Incident, row.incident_id)
            if incident is not None:
                ctx.view = build_view(session, incident, with_alerts=row.op not in NO_ALERT_OPS)
        if row.op in EVENT_OPS and row.event_id is not None:
            ids = [row.event_id, *(event_id for _, event_id in row.batch)]
            events = session.scalars(_EVENTS, {"ids": ids}).all() if row.batch else \
                [e for e in [session.get(TimelineEvent, row.event_id)] if e is not None]
            if events:
                ctx.line = combined_line([timeline_line(e) for e in events])
        if (row.op == "alerts_line" and ctx.view is not None and ctx.view.channel_id is None
                and self._queued(session, row, "create_channel")):
            ctx.waiting_for = "channel"
        # Card updates have a key of their own: the card may not be posted yet.
        if (row.op == "update_card" and ctx.view is not None and ctx.view.card_id is None
                and self._queued(session, row, "post_card")):
            ctx.waiting_for = "card"
        return ctx

    @staticmethod
    def _queued(session: Session, row: RowRef, op: str) -> bool:
        """Whether ``op`` of the row's incident is still to be sent (the row then waits for it)."""
        return session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.incident_id == row.incident_id,
                OutboxMessage.op == op,
                OutboxMessage.status.in_((PENDING, "sending")),
            ).limit(1)
        ) is not None

    # -- sending (no session is open while the chat call runs) ------------------------
    def call(self, row: RowRef, ctx: DeliveryContext) -> Outcome:
        if ctx.waiting_for:
            return Outcome(defer=True, result={"waiting_for": ctx.waiting_for})
        handler = getattr(self, f"_op_{row.op}", None)
        if handler is None:
            raise FinalChatError("unknown_op", f"unknown outbox operation {row.op!r}")
        outcome: Outcome = handler(row, ctx)
        return outcome

    def _need_view(self, ctx: DeliveryContext) -> IncidentView:
        if ctx.view is None:
            raise FinalChatError("no_incident", "the incident of this message no longer exists")
        return ctx.view

    def _need_channel(self, ctx: DeliveryContext) -> tuple[IncidentView, str]:
        view = self._need_view(ctx)
        if not view.channel_id:
            raise FinalChatError("no_channel", f"{view.ref} has no chat channel")
        return view, view.channel_id

    def _op_create_channel(self, row: RowRef, ctx: DeliveryContext) -> Outcome:
        view = self._need_view(ctx)
        if view.channel_id:
            return Outcome(result={"skipped": "channel exists", "channel": view.channel_id})
        created = self.port.create_channel(view)
        outcome = Outcome(result={"channel": created.channel_id, "name": created.name}, channel_id=created.channel_id)
        if created.taken:
            outcome.notes.append((
                f"channel name {', '.join(created.taken)} already taken; using {created.name}",
                {"op": row.op, "code": "name_taken", "subject": created.name},
            ))
        return outcome

    def _op_set_topic(self, row: RowRef, ctx: DeliveryContext) -> Outcome:
        view, channel = self._need_channel(ctx)
        self.port.set_topic(channel, view)
        return Outcome()

    def _op_invite(self, row: RowRef, ctx: DeliveryContext) -> Outcome:
        _, channel = self._need_channel(ctx)
        self.port.invite(channel, str(row.payload["user"]))
        return Outcome(result={"user": row.payload["user"]})

    def _op_post_card(self, row: RowRef, ctx: DeliveryContext) -> Outcome:
        view, channel = self._need_channel(ctx)
        if view.card_id:
            return Outcome(result={"skipped": "card exists", "ts": view.card_id})
        ts = self.port.post_card(channel, view)
        return Outcome(result={"ts": ts}, card_id=ts)

    def _op_pin_card(self, row: RowRef, ctx: DeliveryContext) -> Outcome:
        view, channel = self._need_channel(ctx)
        if not view.card_id:
            raise FinalChatError("no_card", f"{view.ref} has no card to pin")
        self.port.pin(channel, view.card_id)
        return Outcome()

    def _op_update_card(self, row: RowRef, ctx: DeliveryContext) -> Outcome:
        view, channel = self._need_channel(ctx)
        if not view.card_id:
            raise FinalChatError("no_card", f"{view.ref} has no card to update")
        self.port.update_card(channel, view.card_id, view)
        return Outcome(result={"ts": view.card_id})

    def _op_thread(self, row: RowRef, ctx: DeliveryContext) -> Outcome:
        view, channel = self._need_channel(ctx)
        if ctx.line is None:
            raise FinalChatError("no_event", "the timeline event of this message no longer exists")
        ts = self.port.post_timeline(
            channel, view.card_id, view, ctx.line, broadcast=bool(row.payload.get("broadcast"))
        )
        return Outcome(result={"ts": ts})

    def _op_alerts_line(self, row: RowRef, ctx: DeliveryContext) -> Outcome:
        view = self._need_view(ctx)
        channel = str(row.payload.get("channel") or self.alerts_channel or "")
        if not channel:
            return Outcome(result={"skipped": "no alerts channel"})
        if view.private:
            return Outcome(result={"skipped": "private incident"})
        ts = self.port.announce(channel, view, view.channel_id)
        return Outcome(result={"ts": ts})

    def _op_ephemeral(self, row: RowRef, ctx: DeliveryContext) -> Outcome:
        self.port.post_ephemeral(str(row.payload["channel"]), str(row.payload["user"]), str(row.payload["text"]))
        return Outcome()

    def _op_respond(self, row: RowRef, ctx: DeliveryContext) -> Outcome:
        self.port.respond(str(row.payload["url"]), str(row.payload["text"]))
        return Outcome()

    def _op_text(self, row: RowRef, ctx: DeliveryContext) -> Outcome:
        channel = row.payload.get("channel")
        thread = None
        if not channel:
            view, channel = self._need_channel(ctx)
            thread = view.card_id if row.payload.get("in_thread", True) else None
        ts = self.port.post_text(str(channel), str(row.payload["text"]), thread)
        return Outcome(result={"ts": ts})

    def _op_pagerduty(self, row: RowRef, ctx: DeliveryContext) -> Outcome:
        view = self._need_view(ctx)
        action = str(row.payload.get("event_action"))
        key, component = self._routing_key(row, view)
        if action not in EVENT_ACTIONS:
            raise FinalChatError("pagerduty_no_route", f"no PagerDuty event action {action!r}")
        body = event_body(key, action, view.ref, title=view.title, severity=view.severity, service=component,
                          message=str(row.payload.get("message") or ""))
        url = row.payload.get("url")
        return Outcome(result={"event_action": action, **self.pager.enqueue(body, str(url) if url else None)})

    def _routing_key(self, row: RowRef, view: IncidentView) -> tuple[str, str]:
        """The routing key (read now, never stored) and the PagerDuty component of a page."""
        variable = row.payload.get("routing_key_env")
        if variable:  # the escalation policy's key, from the variable its configuration names
            key = os.environ.get(str(variable), "")
            if not key:
                raise FinalChatError("pagerduty_no_key", f"routing key variable {variable} is not set")
            return key, view.service
        service = self.catalog.get(str(row.payload.get("service") or ""))
        if service is None or not service.owners.pagerduty_routing_key:
            raise FinalChatError("pagerduty_no_route", f"no PagerDuty routing key for {row.payload.get('service')!r}")
        try:
            owners_key = service.owners.routing_key()
        except KeyError as exc:  # unset since the catalog loaded: nothing to page with
            raise FinalChatError("pagerduty_no_key", str(exc)) from None
        assert owners_key is not None
        return owners_key, service.name

    def _op_stakeholder_update(self, row: RowRef, ctx: DeliveryContext) -> Outcome:
        view = self._need_view(ctx)
        if ctx.line is None:
            raise FinalChatError("no_event", "the status update of this message no longer exists")
        channel = str(row.payload["channel"])
        link = self.port.channel_link(view.channel_id) if view.channel_id and not view.private else None
        ts = self.port.post_text(channel, blocks.stakeholder_text(view, ctx.line, link))
        return Outcome(result={"ts": ts, "channel": channel})

    def _op_upload_postmortem(self, row: RowRef, ctx: DeliveryContext) -> Outcome:
        view, channel = self._need_channel(ctx)
        if ctx.line is None:
            raise FinalChatError("no_event", "the postmortem event of this message no longer exists")
        files = postmortem_files(ctx.line.data)
        if not files:
            raise FinalChatError("no_file", "the postmortem files are gone from disk")
        comment = f"Postmortem draft of {view.ref} ({len(files) - 1} figure(s))"
        ids = self.port.upload_files(channel, view.card_id, files, comment)
        return Outcome(result={"files": ids})

    def _op_upload_figure(self, row: RowRef, ctx: DeliveryContext) -> Outcome:
        """The diagnosis' series figure into the card's thread, through the same upload as the
        postmortem; the card is then redrawn to show it."""
        view, channel = self._need_channel(ctx)
        if ctx.line is None:
            raise FinalChatError("no_event", "the diagnosis event of this figure no longer exists")
        png = series_figure_png(ctx.line.data.get("diagnosis"))
        figure = figure_file(png, view.ref)
        if png is None or figure is None:
            raise FinalChatError("no_file", "the series figure is gone from disk")
        comment = f"{view.ref}: the service's series around the onset, the culprit in red"
        ids = self.port.upload_files(channel, view.card_id, [figure], comment)
        return Outcome(result={"files": ids, "figure": png}, refresh_card=True)

    def _op_archive_channel(self, row: RowRef, ctx: DeliveryContext) -> Outcome:
        view, channel = self._need_channel(ctx)
        if view.open:
            return Outcome(result={"skipped": f"{view.ref} was reopened"})
        self.port.archive(channel)
        return Outcome(result={"archived": channel})

    # -- recording ----------------------------------------------------------------------
    @staticmethod
    def changes_incident(row: RowRef, outcome: Outcome) -> bool:
        """Whether recording this outcome changes more than its row (what `apply` writes): later
        rows may depend on it (a channel id, a card ts), so it is recorded before they are read."""
        return row.incident_id is not None and bool(
            outcome.channel_id or outcome.card_id or outcome.notes or outcome.refresh_card
        )

    def apply(self, session: Session, row: RowRef, outcome: Outcome) -> None:
        """Store what later rows depend on and note what went wrong, in the worker's transaction."""
        if not self.changes_incident(row, outcome):
            return
        incident = session.get(Incident, row.incident_id)
        if incident is None:
            return
        if outcome.channel_id and not incident.chat_channel_id:
            incident.chat_channel_id = outcome.channel_id
        if outcome.card_id and not incident.chat_card_ts:
            incident.chat_card_ts = outcome.card_id
        for message, data in outcome.notes:
            self.note(session, incident, message, data)
        if outcome.refresh_card:
            session.add(OutboxMessage(key=card_key(incident.id), incident_id=incident.id, event_id=row.event_id,
                                      op="update_card", payload={}, status=PENDING))

    def note_failure(self, session: Session, row: RowRef, error: FinalChatError) -> None:
        if row.incident_id is None or row.payload.get("quiet") or error.code in BENIGN_ERRORS:
            return
        incident = session.get(Incident, row.incident_id)
        if incident is None:
            return
        subject = str(row.payload.get("user") or row.payload.get("channel") or incident.chat_channel_id or "")
        self.note(
            session, incident, describe_failure(row, error),
            {"op": row.op, "code": error.code, "subject": subject},
        )

    @staticmethod
    def note(session: Session, incident: Incident, message: str, data: dict[str, Any]) -> None:
        """A chat_error on the timeline, once per (error, subject): an archived channel is noted once."""
        seen = session.scalars(
            select(TimelineEvent).where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "chat_error")
        ).all()
        for ev in seen:
            d = ev.data or {}
            if d.get("code") == data.get("code") and d.get("subject") == data.get("subject"):
                return
        log_event(session, incident, "chat_error", message, actor="mlresponder", data=data)


def combined_line(lines: list[TimelineLine]) -> TimelineLine:
    """Several alert lines as one message: one line each, in order; the time is the last one's."""
    if len(lines) == 1:
        return lines[0]
    kinds = {line.kind for line in lines}
    return TimelineLine(
        event_id=lines[-1].event_id, kind=kinds.pop() if len(kinds) == 1 else "alert_joined",
        actor=lines[-1].actor, message="\n".join(line.message for line in lines), at=lines[-1].at,
        data={"coalesced": len(lines)},
    )


def describe_failure(row: RowRef, error: FinalChatError) -> str:
    what = {
        "create_channel": "could not create the incident channel",
        "set_topic": "could not set the channel topic",
        "invite": f"could not invite {row.payload.get('user')}",
        "post_card": "could not post the incident card",
        "pin_card": "could not pin the incident card",
        "update_card": "could not update the incident card",
        "thread": "could not post a timeline message",
        "alerts_line": f"could not post in {row.payload.get('channel')}",
        "pagerduty": f"could not send the PagerDuty {row.payload.get('event_action')}",
        "stakeholder_update": f"could not post the status update in {row.payload.get('channel')}",
        "upload_postmortem": "could not upload the postmortem",
        "upload_figure": "could not upload the series figure",
        "archive_channel": "could not archive the incident channel",
    }.get(row.op, f"chat operation {row.op} failed")
    return f"chat: {what} ({error.code})"


def figure_file(png: str | None, ref: str) -> FileToUpload | None:
    """The runbook's series figure of this incident (a PNG it drew, named after the incident)."""
    from pathlib import Path

    if not png:
        return None
    p = Path(png)
    if p.suffix != ".png" or not p.name.startswith(f"{ref}-") or not p.is_file():
        return None
    return FileToUpload(p.name, f"{ref}: series around the onset", p.read_bytes())


def postmortem_files(data: dict[str, Any]) -> list[FileToUpload]:
    """The draft and its figures, as the `postmortem_drafted` event names them (files missing now are skipped)."""
    from pathlib import Path

    paths = [str(data.get("path") or "")] + [str(p) for p in data.get("figures") or []]
    files = []
    for path in paths:
        p = Path(path)
        if path and p.is_file():
            title = "Postmortem draft" if p.suffix == ".md" else f"Figure: {p.stem}"
            files.append(FileToUpload(p.name, title, p.read_bytes()))
    return files if files and paths[0] and Path(paths[0]).is_file() else []
