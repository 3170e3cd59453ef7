"""Who may change an incident from chat, and a replayed Slack request acting once.

Mutating commands and buttons (ack, resolve, assign, severity, note, diagnose, mitigate,
postmortem) are allowed to the incident's commander, the configured responders, the approver
allow-list (users or user groups) and, when the service catalog names them, the service's owners.
Every refusal is audited. With neither responders nor approvers configured there is no one to
restrict to, and the workspace may act (docs/security.md says to configure them).

Slack signs a request with its timestamp, and Bolt accepts one for five minutes: a captured
command replayed in that window verifies again. Each interaction carries a `trigger_id` that
Slack never reuses; the first request with a given one acts, later ones are dropped.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.incidents import audit
from bot.models import AuditRecord, Incident

if TYPE_CHECKING:
    from bot.chat.part import ChatPart

REPLAY_ACTION = "slack.request"


def may_act(part: ChatPart, user_id: str, incident: Incident) -> bool:
    settings = part.runtime.settings
    responders, approvers = settings.responder_ids(), settings.approver_ids()
    owners = _catalog_owners(part, incident)
    if not responders and not approvers and not owners:
        return True
    if incident.commander in (f"slack:{user_id}", user_id) or user_id in responders or user_id in owners:
        return True
    return part.is_approver(user_id) or any(part_member(part, user_id, group) for group in owners
                                            if group.startswith("S"))


def part_member(part: ChatPart, user_id: str, group: str) -> bool:
    try:
        return user_id in part.port.group_members(group)
    except Exception:  # an unreadable group grants nothing
        return False


def _catalog_owners(part: ChatPart, incident: Incident) -> list[str]:
    """The Slack owner (user or user group) of the incident's service in the catalog, if any."""
    service = part.runtime.catalog.get(incident.catalog_service)
    owner = service.owners.slack if service is not None else None
    return [owner] if owner else []


def refuse(session: Session, user_id: str, what: str, incident: Incident) -> str:
    audit(session, f"slack:{user_id}", f"chat.{what}", incident.ref, outcome="refused", incident_id=incident.id,
          detail={"reason": "not a responder, owner or approver of this incident"})
    return (f":no_entry: Only the responders, owners and approvers of {incident.ref} may `{what}` it "
            "(this attempt was recorded).")


def request_key(body: dict[str, Any]) -> str:
    trigger = body.get("trigger_id")
    if trigger:
        return f"trigger:{str(trigger)[:200]}"
    canon = json.dumps(body, sort_keys=True, default=str).encode()
    return "body:" + hashlib.sha256(canon).hexdigest()


def first_time(part: ChatPart, body: dict[str, Any]) -> bool:
    """True once per Slack interaction: records it, and says False for every replay."""
    key = request_key(body)
    with transaction(part.runtime.sessions) as s:
        if s.get_bind().dialect.name == "postgresql":
            lock = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)
            s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock})
        seen = s.scalar(select(AuditRecord.id).where(AuditRecord.action == REPLAY_ACTION,
                                                     AuditRecord.subject == key).limit(1))
        if seen is not None:
            audit(s, "slack", "slack.replay", key, outcome="refused", detail={"reason": "replayed request"})
            return False
        s.add(AuditRecord(actor="slack", action=REPLAY_ACTION, subject=key, detail={}))
    return True
