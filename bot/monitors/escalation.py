"""Escalation and reminders: nobody acknowledges → page the next tier; silence → remind.

The decision is a pure function, `decide(state, now, policy)`, of an incident's state (read
from its timeline), the time and the policy, so tests drive the clock explicitly and a
restarted or duplicated job cannot page twice: what was already paged is on the timeline.
Jobs only load the state, call `decide`, record ``escalation``/``reminder`` events (the chat
adapter renders them; this module never talks to Slack), and schedule the next check at the
time `decide` says. A tier with ``webhook: true`` pages PagerDuty the one way mlresponder pages:
its escalation event carries the page, and the outbox sends it (retried through an outage, once,
then acknowledged and resolved with the incident; `bot.chat.pagerduty`). A ``generic`` webhook
is a plain notification, posted directly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.db import transaction, utcnow
from bot.events import EventNotice
from bot.models import OPEN_STATUSES, Incident, TimelineEvent
from bot.monitors.schema import EscalationSpec, SeverityPolicy, WebhookSpec
from bot.scheduler import Scheduler

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

UNACKNOWLEDGED = ("triggered", "reopened")
# Our own events are not "updates": a reminder must not postpone the next reminder forever.
OWN_KINDS = frozenset({"escalation", "reminder", "escalation_webhook"})
REVIEWED_KIND = "postmortem_reviewed"
JOB_PREFIX = "escalation:"
CHECK_FUNC = "bot.monitors.escalation:check_incident"
SWEEP_FUNC = "bot.monitors.escalation:sweep"


@dataclass(frozen=True)
class IncidentState:
    ref: str
    severity: str
    status: str
    title: str
    service: str
    commander: str | None
    unacknowledged_since: datetime  # when it last entered triggered/reopened
    last_update_at: datetime  # latest timeline event that is not our own escalation/reminder
    tiers_paged: frozenset[int]  # tiers paged since unacknowledged_since
    last_reminder_at: datetime | None
    resolved_at: datetime | None
    postmortem_reviewed: bool
    postmortem_reminders: int
    last_postmortem_reminder_at: datetime | None


@dataclass(frozen=True)
class EscalationAction:
    kind: Literal["escalation", "reminder"]
    reason: Literal["unacknowledged", "no_updates", "postmortem_review"]
    tier: int | None
    who: tuple[str, ...]
    message: str
    webhook: bool = False

    def data(self) -> dict[str, Any]:
        return {"who": list(self.who), "tier": self.tier, "message": self.message, "reason": self.reason}


@dataclass(frozen=True)
class Decision:
    actions: tuple[EscalationAction, ...]
    next_check: datetime | None


def _minutes(delta: timedelta) -> str:
    m = delta.total_seconds() / 60.0
    return f"{m:.0f} min" if m < 120 else f"{m / 60:.1f} h"


def decide(state: IncidentState, now: datetime, policy: EscalationSpec) -> Decision:
    """What is due at ``now`` and when to look again (None: nothing will ever be due)."""
    actions: list[EscalationAction] = []
    due: list[datetime] = []
    pol: SeverityPolicy | None = policy.severities.get(state.severity)  # type: ignore[call-overload]
    if pol is not None and state.status in UNACKNOWLEDGED:
        for number, tier in enumerate(pol.tiers, start=1):
            if number in state.tiers_paged:
                continue
            at = state.unacknowledged_since + timedelta(seconds=tier.after)
            if now < at:
                due.append(at)
                break  # later tiers come later still
            waited = _minutes(now - state.unacknowledged_since)
            actions.append(EscalationAction(
                "escalation", "unacknowledged", number, tuple(tier.notify),
                f"{state.ref} ({state.severity}, {state.service}) is unacknowledged after {waited}: "
                f"paging tier {number} ({', '.join(tier.notify)}). {state.title}",
                webhook=tier.webhook,
            ))
    if pol is not None and pol.reminder_every and state.status in OPEN_STATUSES:
        every = timedelta(seconds=pol.reminder_every)
        last = max(state.last_update_at, state.last_reminder_at or state.last_update_at)
        if now >= last + every:
            actions.append(EscalationAction(
                "reminder", "no_updates", None, _reminder_audience(state, pol),
                f"{state.ref} ({state.severity}) has had no update for {_minutes(now - state.last_update_at)} "
                f"and is still {state.status}: post a status update or move it on.",
            ))
            due.append(now + every)
        else:
            due.append(last + every)
    if (policy.postmortem_review_after and state.status == "resolved" and state.resolved_at is not None
            and not state.postmortem_reviewed and state.postmortem_reminders < policy.postmortem_reminders):
        after = timedelta(seconds=policy.postmortem_review_after)
        at = (state.last_postmortem_reminder_at or state.resolved_at) + after
        if now >= at:
            audience = (state.commander,) if state.commander else _reminder_audience(state, pol)
            actions.append(EscalationAction(
                "reminder", "postmortem_review", None, audience,
                f"{state.ref} was resolved {_minutes(now - state.resolved_at)} ago and its postmortem is not "
                "reviewed yet: review it while the details are fresh.",
            ))
            if state.postmortem_reminders + 1 < policy.postmortem_reminders:
                due.append(now + after)
        else:
            due.append(at)
    return Decision(tuple(actions), min(due) if due else None)


def _reminder_audience(state: IncidentState, pol: SeverityPolicy | None) -> tuple[str, ...]:
    if state.commander:
        return (state.commander,)
    who: list[str] = []
    for number, tier in enumerate(pol.tiers if pol else [], start=1):
        if number == 1 or number in state.tiers_paged:
            who.extend(t for t in tier.notify if t not in who)
    return tuple(who)


# ---------------------------------------------------------------- state from the timeline


def load_state(session: Session, incident: Incident) -> IncidentState:
    events = list(session.scalars(
        select(TimelineEvent).where(TimelineEvent.incident_id == incident.id).order_by(TimelineEvent.id)))
    unacked_since = incident.created_at
    for e in events:
        if e.kind == "status_changed" and (e.data or {}).get("to") == "reopened":
            unacked_since = e.occurred_at
    updates = [e.occurred_at for e in events if e.kind not in OWN_KINDS]
    tiers = frozenset(int(e.data["tier"]) for e in events if e.kind == "escalation"
                      and e.occurred_at >= unacked_since and isinstance((e.data or {}).get("tier"), int))
    reminders = [e.occurred_at for e in events if e.kind == "reminder" and (e.data or {}).get("reason") == "no_updates"]
    pm = [e.occurred_at for e in events
          if e.kind == "reminder" and (e.data or {}).get("reason") == "postmortem_review"]
    return IncidentState(
        ref=incident.ref, severity=incident.severity, status=incident.status, title=incident.title,
        service=incident.service, commander=incident.commander, unacknowledged_since=unacked_since,
        last_update_at=max(updates) if updates else incident.created_at, tiers_paged=tiers,
        last_reminder_at=max(reminders) if reminders else None, resolved_at=incident.resolved_at,
        postmortem_reviewed=any(e.kind == REVIEWED_KIND for e in events), postmortem_reminders=len(pm),
        last_postmortem_reminder_at=max(pm) if pm else None,
    )


# ---------------------------------------------------------------- the service part


class EscalationService:
    """The ``escalation`` part: applies the policy to incidents and keeps their check jobs scheduled."""

    def __init__(self, runtime: Runtime, policy: EscalationSpec) -> None:
        self.runtime = runtime
        self.policy = policy

    @property
    def active(self) -> bool:
        """Whether any policy is configured (without one, intake pays nothing for escalation)."""
        p = self.policy
        return bool(p.severities or p.postmortem_review_after)

    def job_id(self, incident_id: int) -> str:
        return f"{JOB_PREFIX}INC-{incident_id}"

    def check(self, incident_id: int, now: datetime | None = None) -> Decision:
        """Apply the policy to one incident at ``now``: record what is due, schedule the next check."""
        from bot.incidents import escalate, get_incident, log_event

        now = now or utcnow()
        with transaction(self.runtime.sessions) as session:
            incident = get_incident(session, incident_id, for_update=True)
            decision = decide(load_state(session, incident), now, self.policy)
            for action in decision.actions:
                if action.kind == "escalation":
                    page = self._page(action)
                    escalate(session, incident, list(action.who), action.message, text=action.message, at=now,
                             tier=action.tier, reason=action.reason, **({"page": page} if page else {}))
                else:
                    log_event(session, incident, action.kind, action.message, actor="mlresponder",
                              data=action.data(), at=now)
            facts = {"ref": incident.ref, "title": incident.title, "severity": incident.severity,
                     "service": incident.service}
        hook = self.policy.webhook
        for action in decision.actions:
            if action.webhook and hook is not None and hook.kind == "generic":
                self._send_webhook(incident_id, facts, action, hook, now)
        self._schedule(incident_id, decision.next_check)
        return decision

    def _schedule(self, incident_id: int, when: datetime | None) -> None:
        scheduler = self.runtime.parts.get(Scheduler)
        if scheduler is None:
            return
        if when is None:
            scheduler.cancel(self.job_id(incident_id))
        else:
            scheduler.run_at(self.job_id(incident_id), when, CHECK_FUNC, incident_id=incident_id)

    def on_events(self, notices: list[EventNotice]) -> None:
        """Bus listener: a new incident gets its check job; a status change re-plans (or cancels) it."""
        scheduler = self.runtime.parts.get(Scheduler)
        if scheduler is None or not self.active:
            return  # no scheduler here (CLI: the service's sweep picks it up), or no policy at all
        for incident_id in dict.fromkeys(n.incident_id for n in notices
                                         if n.kind in ("incident_opened", "status_changed", "severity_changed",
                                                       REVIEWED_KIND)):
            try:
                self.plan(incident_id)
            except Exception:
                log.exception("planning escalation of INC-%s failed", incident_id)

    def plan(self, incident_id: int, now: datetime | None = None) -> datetime | None:
        """Schedule (or cancel) the incident's next check without acting: listeners must be quick."""
        now = now or utcnow()
        with transaction(self.runtime.sessions) as session:
            incident = session.get(Incident, incident_id)
            if incident is None:
                return None
            decision = decide(load_state(session, incident), now, self.policy)
        when = now if decision.actions else decision.next_check
        self._schedule(incident_id, when)
        return when

    def sweep(self, now: datetime | None = None) -> int:
        """Check every incident that may have something due (safety net for incidents opened elsewhere)."""
        now = now or utcnow()
        horizon = now - timedelta(days=90)
        with transaction(self.runtime.sessions) as session:
            ids = list(session.scalars(select(Incident.id).where(or_(
                Incident.status.in_(OPEN_STATUSES),
                (Incident.status == "resolved") & (Incident.resolved_at >= horizon),
            ))))
        for incident_id in ids:
            try:
                self.check(incident_id, now)
            except Exception:
                log.exception("escalation check of INC-%s failed", incident_id)
        return len(ids)

    # ------------------------------------------------------------ paging and the outgoing webhook

    def _page(self, action: EscalationAction) -> dict[str, str] | None:
        """The PagerDuty page of a tier with ``webhook: true`` (the outbox sends it; the key stays in
        the environment and is read when the page is sent)."""
        hook = self.policy.webhook
        if not action.webhook or hook is None or hook.kind != "pagerduty":
            return None
        page = {"routing_key_env": hook.routing_key_env or "(none)"}
        if hook.url != WebhookSpec.model_fields["url"].default:  # else MLRESPONDER_PAGERDUTY_URL, like every page
            page["url"] = hook.url
        return page

    def _send_webhook(self, incident_id: int, facts: dict[str, Any], action: EscalationAction, hook: WebhookSpec,
                      now: datetime) -> None:
        """The ``generic`` webhook: a notification of the escalation, posted once (not a page)."""
        import httpx

        body = {"incident": facts["ref"], "title": facts["title"], "severity": facts["severity"],
                "service": facts["service"], **action.data()}
        try:
            response = httpx.post(hook.url, json=body, timeout=hook.timeout)
            outcome: dict[str, Any] = {"ok": response.is_success, "status": response.status_code}
            if not response.is_success:
                outcome["error"] = response.text[:200]
        except httpx.HTTPError as exc:
            outcome = {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        self._record_webhook(incident_id, action, outcome, now)

    def _record_webhook(self, incident_id: int, action: EscalationAction, outcome: dict[str, Any],
                        now: datetime) -> None:
        from bot.incidents import get_incident, log_event

        text = "sent" if outcome.get("ok") else f"failed: {outcome.get('error')}"
        with transaction(self.runtime.sessions) as session:
            incident = get_incident(session, incident_id)
            log_event(session, incident, "escalation_webhook", f"outgoing webhook for tier {action.tier} {text}",
                      data={"tier": action.tier, **outcome}, at=now)


# ---------------------------------------------------------------- scheduler entry points


def check_incident(incident_id: int) -> None:
    from bot.scheduler import current_runtime

    service: EscalationService | None = current_runtime().parts.get(EscalationService)
    if service is not None:
        service.check(incident_id)


def sweep() -> None:
    from bot.scheduler import current_runtime

    service: EscalationService | None = current_runtime().parts.get(EscalationService)
    if service is not None:
        service.sweep()
