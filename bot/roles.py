"""Incident roles: commander, communications lead, scribe, operations lead.

The commander stays on the incident row (escalation and runbooks read it); the other roles
are a projection of the event log (`role_assigned` events), so who held which role when is
never lost and needs no table of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.incidents import IncidentError, assign_commander, log_event
from bot.models import Incident, TimelineEvent

# Role key → how people call it. The order is the order shown on the card.
ROLES: dict[str, str] = {
    "commander": "incident commander",
    "comms": "communications lead",
    "scribe": "scribe",
    "ops": "operations lead",
}
ROLE_ALIASES = {
    "ic": "commander", "commander": "commander", "lead": "commander",
    "comms": "comms", "communications": "comms", "comm": "comms",
    "scribe": "scribe", "notes": "scribe",
    "ops": "ops", "operations": "ops",
}


def normalize_role(value: str) -> str:
    role = ROLE_ALIASES.get(value.strip().lower())
    if role is None:
        raise IncidentError(f"unknown role {value!r} (expected one of {', '.join(ROLES)})")
    return role


def assign_role(session: Session, incident: Incident, role: str, who: str, *, actor: str) -> TimelineEvent:
    """Give ``role`` to ``who`` (an actor id such as ``slack:U123``), recorded on the timeline."""
    role = normalize_role(role)
    if role == "commander":
        return assign_commander(session, incident, who, actor=actor)
    current = roles_of(session, incident).get(role)
    return log_event(
        session, incident, "role_assigned", f"{ROLES[role]}: {who}", actor=actor,
        data={"role": role, "from": current, "to": who},
    )


def roles_from_events(commander: str | None, events: Iterable[Any]) -> dict[str, str]:
    """The roles as the events left them (events: anything with `kind` and `data`, in order)."""
    roles: dict[str, str] = {}
    for event in events:
        data = getattr(event, "data", None) or {}
        if getattr(event, "kind", None) == "role_assigned" and data.get("role") in ROLES and data.get("to"):
            roles[str(data["role"])] = str(data["to"])
    if commander:
        roles["commander"] = commander
    return {key: roles[key] for key in ROLES if key in roles}


def roles_of(session: Session, incident: Incident) -> dict[str, str]:
    events = session.scalars(
        select(TimelineEvent).where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "role_assigned")
        .order_by(TimelineEvent.id)
    ).all()
    return roles_from_events(incident.commander, events)
