"""`/incident` subcommands and card buttons, chat-neutral: text in, a reply and maybe work out.

Quick commands (ack, assign, severity, note, resolve, declare) change the store at once and
reply to the caller; their public effect reaches the channel through the timeline like any
other event. Slow ones (diagnose, mitigate, postmortem, approvals) return `background`
work that the caller runs after acknowledging the request, within Slack's 3 seconds.
"""

from __future__ import annotations

import logging
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.chat import guard
from bot.chat.blocks import clip, escape, user_ref
from bot.chat.signing import BadSignature, ButtonSigner
from bot.db import transaction
from bot.incidents import (
    IncidentError,
    add_note,
    assign_commander,
    audit,
    create_incident,
    get_incident,
    list_incidents,
    normalize_severity,
    set_severity,
    transition,
)
from bot.models import Incident, Mitigation
from bot.roles import ROLES, assign_role, normalize_role
from bot.updates import post_status_update

if TYPE_CHECKING:
    from bot.chat.part import ChatPart

log = logging.getLogger(__name__)

USAGE = """*`/incident` commands* (inside an incident channel the incident is implied;
elsewhere name it, e.g. `/incident ack INC-12`)
• `declare [SERVICE] [sev1..sev4] <title>`: open an incident (SERVICE from the catalog)
• `list`: open incidents · `status`: where an incident stands · `help`: this text
• `declare private [sev1..sev4] <title>`: a private incident (private channel, not announced)
• `ack` · `resolve` · `reopen` · `assign @user` · `severity sev1..sev4` · `note <text>`
• `role commander|comms|scribe|ops @user`: give an incident role (the person joins the channel)
• `update <text>`: a status update, posted here and to the stakeholders channel
• `diagnose`: run the diagnostics · `mitigate {mitigations}`: propose a mitigation
• `revert <mitigation id>`: undo an executed mitigation (approvers only)
• `postmortem`: draft the postmortem and upload it here"""


def usage(part: ChatPart) -> str:
    """The help text, listing the mitigations the runbooks' action registry lets a person name."""
    return USAGE.format(mitigations="|".join(part.responder.mitigations))


_REF = re.compile(r"^INC-\d+$", re.IGNORECASE)
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")

# How a background job reaches the person who asked (ephemeral reply, response_url...).
Tell = Callable[[str], None]
Background = Callable[[Tell], None]


@dataclass
class Reply:
    text: str
    # Posted for everyone in the channel (Slack: response_type in_channel) instead of only the caller.
    public: bool = False
    background: Background | None = None


class UsageError(Exception):
    """A malformed command: the caller gets the reason and the usage text."""


def actor_of(user_id: str) -> str:
    return f"slack:{user_id}"


def handle_command(part: ChatPart, text: str, user_id: str, channel_id: str) -> Reply:
    try:
        words = shlex.split(text or "")
    except ValueError:
        words = (text or "").split()
    if not words or words[0].lower() in ("help", "-h", "--help"):
        return Reply(usage(part))
    sub, args = words[0].lower(), words[1:]
    handler = _COMMANDS.get(sub)
    if handler is None:
        return Reply(f"Unknown subcommand `{clip(escape(sub), 40)}`.\n{usage(part)}")
    try:
        refused = _refusal(part, sub, args, user_id, channel_id)
        if refused is not None:
            return Reply(refused)
        return handler(part, args, user_id, channel_id)
    except UsageError as exc:
        return Reply(f"{exc}\n{usage(part)}")
    except (IncidentError, ValueError) as exc:
        return Reply(f":warning: {escape(exc)}")


# -- helpers ---------------------------------------------------------------------------
MUTATING = frozenset({"ack", "acknowledge", "resolve", "assign", "severity", "sev", "note", "diagnose",
                      "mitigate", "postmortem"})


def _refusal(part: ChatPart, sub: str, args: list[str], user_id: str, channel_id: str) -> str | None:
    """Why ``user_id`` may not run this command on its incident (audited), or None."""
    if sub not in MUTATING:
        return None
    ref = next((a for a in args if _REF.match(a)), None)
    with transaction(part.runtime.sessions) as s:
        try:
            incident = _resolve(s, ref, channel_id)
        except (UsageError, IncidentError):
            return None  # the command itself explains what is missing
        if guard.may_act(part, user_id, incident):
            return None
        return guard.refuse(s, user_id, sub, incident)


def _split_ref(args: list[str], *, first_only: bool = False) -> tuple[str | None, list[str]]:
    """Pull an explicit `INC-<n>` out of the arguments (for free text, only as the first word)."""
    if first_only:
        if args and _REF.match(args[0]):
            return args[0], args[1:]
        return None, args
    refs = [a for a in args if _REF.match(a)]
    if len(refs) > 1:
        raise UsageError("Name one incident at a time.")
    return (refs[0] if refs else None), [a for a in args if not _REF.match(a)]


def _resolve(session: Session, ref: str | None, channel_id: str) -> Incident:
    if ref:
        return get_incident(session, ref)
    incident = session.scalars(select(Incident).where(Incident.chat_channel_id == channel_id)).first()
    if incident is None:
        raise UsageError("Which incident? Run this in the incident's channel or name it, e.g. `INC-12`.")
    return incident


def _no_args(args: list[str], sub: str) -> None:
    if args:
        raise UsageError(f"`{sub}` takes no arguments besides an incident (got `{clip(escape(' '.join(args)), 60)}`).")


# -- quick commands --------------------------------------------------------------------------
def _declare(part: ChatPart, args: list[str], user_id: str, channel_id: str) -> Reply:
    """``declare [SERVICE] [sevN] <title>``: a catalog service makes the incident diagnosable and
    mitigable (what is read and changed comes from its catalog entry); without one it is only tracked."""
    catalog = part.runtime.catalog
    private = False
    service = None
    for _ in range(2):  # `private` and SERVICE, in either order
        if args and args[0].lower() in ("private", "--private") and not private:
            private, args = True, args[1:]
        elif args and service is None and catalog.get(args[0]) is not None:
            service, args = catalog.get(args[0]), args[1:]
    severity = "sev3"
    if args:
        try:
            severity = normalize_severity(args[0])
            args = args[1:]
        except ValueError:
            pass
    title = " ".join(args).strip()
    if not title:
        raise UsageError("`declare` needs a title, e.g. `/incident declare fraud-scorer sev2 precision dropped`.")
    with transaction(part.runtime.sessions) as s:
        incident = create_incident(
            s, title=clip(title, 500), severity=severity, service=service.name if service else "unknown",
            source="slack", actor=actor_of(user_id), catalog_service=service.name if service else None,
            labels={"private": "true"} if private else None,
        )
        ref = incident.ref
    if private:  # not even the declaring channel hears of it
        return Reply(f":lock: *{ref}* [{severity}] declared as a private incident; its private channel is on "
                     "the way.")
    about = f" on *{escape(service.name)}*" if service else ""
    hint = ""
    if service is None and len(catalog):
        hint = (f" No catalog service named, so it cannot be diagnosed or mitigated; declare with one of "
                f"{escape(', '.join(catalog.names()[:20]))} first.")
    return Reply(f":rotating_light: {user_ref(actor_of(user_id))} declared *{ref}* [{severity}]{about}: "
                 f"{escape(clip(title, 500))}. Its channel is on the way.{hint}", public=True)


def _list(part: ChatPart, args: list[str], user_id: str, channel_id: str) -> Reply:
    with transaction(part.runtime.sessions) as s:
        incidents = list_incidents(s, status="open", limit=20)
        lines = [
            f"• *{i.ref}* [{i.severity}] {i.status}: {escape(clip(i.title, 120))} ({escape(i.service)})"
            + (f" {part.port.channel_link(i.chat_channel_id)}" if i.chat_channel_id else "")
            for i in incidents
        ]
    return Reply("*Open incidents*\n" + "\n".join(lines) if lines else "No open incidents. :tada:")


def _status(part: ChatPart, args: list[str], user_id: str, channel_id: str) -> Reply:
    ref, rest = _split_ref(args)
    _no_args(rest, "status")
    with transaction(part.runtime.sessions) as s:
        i = _resolve(s, ref, channel_id)
        proposed = s.scalars(
            select(Mitigation).where(Mitigation.incident_id == i.id, Mitigation.status == "proposed")
        ).all()
        text = (
            f"*{i.ref}* [{i.severity}] *{i.status}*: {escape(clip(i.title, 300))}\n"
            f"service {escape(i.service)} · commander {user_ref(i.commander)} · "
            f"started {i.started_at.strftime('%Y-%m-%d %H:%M UTC')}"
        )
        if i.diagnosis:
            d = i.diagnosis
            text += (f"\ndiagnosis: cause {escape(d.get('cause'))}, recommended "
                     f"{escape(d.get('recommended_mitigation'))}")
        for m in proposed:
            text += f"\nproposed mitigation #{m.id}: {escape(m.action)} on `{escape(m.target)}` (awaiting approval)"
    return Reply(text)


def _transition_command(to_status: str) -> Callable[[ChatPart, list[str], str, str], Reply]:
    def run(part: ChatPart, args: list[str], user_id: str, channel_id: str) -> Reply:
        ref, rest = _split_ref(args)
        _no_args(rest, {"acknowledged": "ack", "resolved": "resolve", "reopened": "reopen"}[to_status])
        with transaction(part.runtime.sessions) as s:
            incident = _resolve(s, ref, channel_id)
            transition(s, incident, to_status, actor=actor_of(user_id))
            done = incident.ref
        return Reply(f"{done} is now {to_status}.")

    return run


def _person(who: str, user_id: str, sub: str) -> str:
    m = _MENTION.match(who)
    if m:
        return actor_of(m.group(1))
    if who.lower() in ("me", "myself"):
        return actor_of(user_id)
    if who.startswith("<!") or re.match(r"^@?S[A-Z0-9]{2,20}$", who):
        raise UsageError(f"`{sub}` needs one person, not a user group or a broadcast.")
    return clip(who.lstrip("@"), 100)


def _assign(part: ChatPart, args: list[str], user_id: str, channel_id: str) -> Reply:
    ref, rest = _split_ref(args)
    if len(rest) != 1:
        raise UsageError("`assign` needs exactly one person, e.g. `/incident assign @alice`.")
    commander = _person(rest[0], user_id, "assign")
    with transaction(part.runtime.sessions) as s:
        incident = _resolve(s, ref, channel_id)
        assign_commander(s, incident, commander, actor=actor_of(user_id))
        done = incident.ref
    return Reply(f"{done}: incident commander is now {user_ref(commander)}.")


def _role(part: ChatPart, args: list[str], user_id: str, channel_id: str) -> Reply:
    ref, rest = _split_ref(args)
    if len(rest) != 2:
        raise UsageError(f"`role` needs a role ({', '.join(ROLES)}) and one person, e.g. `/incident role comms @bob`.")
    try:
        role = normalize_role(rest[0])
    except IncidentError as exc:
        raise UsageError(escape(exc)) from None
    who = _person(rest[1], user_id, "role")
    with transaction(part.runtime.sessions) as s:
        incident = _resolve(s, ref, channel_id)
        assign_role(s, incident, role, who, actor=actor_of(user_id))
        done = incident.ref
    return Reply(f"{done}: {ROLES[role]} is now {user_ref(who)}.")


def _update(part: ChatPart, args: list[str], user_id: str, channel_id: str) -> Reply:
    ref, rest = _split_ref(args, first_only=True)
    text = " ".join(rest).strip()
    if not text:
        raise UsageError("`update` needs the update, e.g. `/incident update rollback done, AUC recovering`.")
    with transaction(part.runtime.sessions) as s:
        incident = _resolve(s, ref, channel_id)
        channels = post_status_update(s, part.runtime.settings, incident, clip(text, 3000), actor=actor_of(user_id),
                                      catalog=getattr(part.runtime, "catalog", None))
        done = incident.ref
    where = f" and to {', '.join(part.port.channel_link(c) for c in channels)}" if channels else ""
    return Reply(f"Status update of {done} posted to its channel{where}.")


def _severity(part: ChatPart, args: list[str], user_id: str, channel_id: str) -> Reply:
    ref, rest = _split_ref(args)
    if len(rest) != 1:
        raise UsageError("`severity` needs one of sev1, sev2, sev3, sev4.")
    try:
        severity = normalize_severity(rest[0])
    except ValueError as exc:
        raise UsageError(escape(exc)) from None
    with transaction(part.runtime.sessions) as s:
        incident = _resolve(s, ref, channel_id)
        set_severity(s, incident, severity, actor=actor_of(user_id))
        done = incident.ref
    return Reply(f"{done} is now {severity}.")


def _note(part: ChatPart, args: list[str], user_id: str, channel_id: str) -> Reply:
    ref, rest = _split_ref(args, first_only=True)
    text = " ".join(rest).strip()
    if not text:
        raise UsageError("`note` needs some text, e.g. `/incident note rolled back the feature flag`.")
    with transaction(part.runtime.sessions) as s:
        incident = _resolve(s, ref, channel_id)
        add_note(s, incident, clip(text, 3000), actor=actor_of(user_id))
        done = incident.ref
    return Reply(f"Noted on {done}'s timeline.")


# -- slow commands (run after the acknowledgement) ----------------------------------------------
def _background(what: str, work: Callable[[], Any]) -> Background:
    def run(tell: Tell) -> None:
        try:
            work()
        except ModuleNotFoundError as exc:
            tell(f":warning: {what} is not available here ({escape(exc.name)}).")
        except Exception as exc:
            if _is_domain_error(exc):  # a refusal with a message written for a person
                log.warning("%s failed: %s", what, exc)
                tell(f":warning: {what} failed: {escape(clip(str(exc), 1500))}")
            else:
                log.exception("%s failed", what)
                tell(f":x: {what} failed: {escape(type(exc).__name__)}: {escape(clip(str(exc), 1500))}")

    return run


def _is_domain_error(exc: Exception) -> bool:
    """Errors the domains raise on purpose (IncidentError, MitigationError, RunbookServiceError...)."""
    if isinstance(exc, IncidentError | ValueError | LookupError | PermissionError):
        return True
    return type(exc).__module__.split(".")[0] in ("bot", "runbooks", "postmortems", "diagnostics")


def _diagnose(part: ChatPart, args: list[str], user_id: str, channel_id: str) -> Reply:
    ref, rest = _split_ref(args)
    _no_args(rest, "diagnose")
    incident_id, name = _incident_id(part, ref, channel_id)
    return Reply(
        f":mag: Running the diagnosis of {name}; the result will appear on the card and in the thread.",
        background=_background("diagnosis",
            lambda: part.responder.run_diagnosis(part.runtime, incident_id, actor_of(user_id)),
        ),
    )


def _mitigate(part: ChatPart, args: list[str], user_id: str, channel_id: str) -> Reply:
    ref, rest = _split_ref(args)
    mitigations = part.responder.mitigations
    if len(rest) != 1 or rest[0].lower() not in mitigations:
        raise UsageError(f"`mitigate` needs one of {', '.join(mitigations)}.")
    action = rest[0].lower()
    incident_id, name = _incident_id(part, ref, channel_id)
    return Reply(
        f":bulb: Proposing `{action}` for {name}; approve it on the card.",
        background=_background(f"mitigate {action}",
            lambda: part.responder.propose_mitigation(
                part.runtime, incident_id, action, actor_of(user_id)
            ),
        ),
    )


def _postmortem(part: ChatPart, args: list[str], user_id: str, channel_id: str) -> Reply:
    ref, rest = _split_ref(args)
    _no_args(rest, "postmortem")
    incident_id, name = _incident_id(part, ref, channel_id)
    return Reply(
        f":page_facing_up: Drafting the postmortem of {name}.",
        background=_background("postmortem",
            lambda: part.responder.draft_postmortem(part.runtime, incident_id, actor_of(user_id)),
        ),
    )


def _revert(part: ChatPart, args: list[str], user_id: str, channel_id: str) -> Reply:
    ref, rest = _split_ref(args)
    if len(rest) != 1 or not rest[0].lstrip("#").isdigit():
        raise UsageError("`revert` needs the number of an executed mitigation, e.g. `/incident revert 3`.")
    mitigation_id = int(rest[0].lstrip("#"))
    with transaction(part.runtime.sessions) as s:
        m = s.get(Mitigation, mitigation_id)
        incident = _resolve(s, ref, channel_id) if (ref or m is None) else get_incident(s, m.incident_id)
        if m is None or m.incident_id != incident.id:
            raise UsageError(f"{incident.ref} has no mitigation #{mitigation_id}.")
    refused = _refuse_non_approver(part, user_id, "revert", mitigation_id, incident.id)
    if refused is not None:
        return refused
    return _revert_reply(part, mitigation_id, actor_of(user_id))


def _revert_reply(part: ChatPart, mitigation_id: int, actor: str) -> Reply:
    return Reply(
        f":rewind: Reverting mitigation #{mitigation_id}…",
        background=_background(f"revert mitigation #{mitigation_id}",
            lambda: part.responder.revert_mitigation(part.runtime, mitigation_id, actor),
        ),
    )


def _refuse_non_approver(part: ChatPart, user_id: str, verb: str, mitigation_id: int, incident_id: int) -> Reply | None:
    """Changing production is for approvers: anyone else gets a refusal, and the attempt is audited."""
    if part.is_approver(user_id):
        return None
    with transaction(part.runtime.sessions) as s:
        audit(
            s, actor_of(user_id), f"mitigation_{verb}", f"mitigation:{mitigation_id}", outcome="refused",
            incident_id=incident_id, detail={"reason": "not in the approver allow-list"},
        )
    return Reply(f":no_entry: You are not allowed to {verb} mitigations "
                 "(ask someone in the approver list; this attempt was recorded).")


def _incident_id(part: ChatPart, ref: str | None, channel_id: str) -> tuple[int, str]:
    with transaction(part.runtime.sessions) as s:
        incident = _resolve(s, ref, channel_id)
        return incident.id, incident.ref


_COMMANDS: dict[str, Callable[[ChatPart, list[str], str, str], Reply]] = {
    "declare": _declare,
    "list": _list,
    "status": _status,
    "ack": _transition_command("acknowledged"),
    "acknowledge": _transition_command("acknowledged"),
    "resolve": _transition_command("resolved"),
    "reopen": _transition_command("reopened"),
    "role": _role,
    "update": _update,
    "revert": _revert,
    "assign": _assign,
    "severity": _severity,
    "sev": _severity,
    "note": _note,
    "diagnose": _diagnose,
    "mitigate": _mitigate,
    "postmortem": _postmortem,
}


# -- buttons ------------------------------------------------------------------------------------
def handle_button(part: ChatPart, signer: ButtonSigner, value: str, user_id: str, channel_id: str) -> Reply:
    """A click on the card. Replies are for the clicker only; effects reach the channel as events."""
    actor = actor_of(user_id)
    try:
        button = signer.verify(value)
    except BadSignature as exc:
        with transaction(part.runtime.sessions) as s:
            audit(s, actor, "button", clip(value or "", 200), outcome="refused", detail={"reason": str(exc)})
        return Reply(":no_entry: This button is not valid (it was altered or is not from this bot).")
    if button.action in ("ack", "diagnose"):
        with transaction(part.runtime.sessions) as s:
            try:
                incident = get_incident(s, button.incident_id)
            except IncidentError as exc:
                return Reply(f":warning: {escape(exc)}")
            if not guard.may_act(part, user_id, incident):
                return Reply(guard.refuse(s, user_id, button.action, incident))
    if button.action == "ack":
        try:
            with transaction(part.runtime.sessions) as s:
                incident = get_incident(s, button.incident_id)
                transition(s, incident, "acknowledged", actor=actor)
                return Reply(f"{incident.ref} acknowledged.")
        except IncidentError as exc:
            return Reply(f":warning: {escape(exc)}")
    if button.action == "diagnose":
        return Reply(
            f":mag: Running the diagnosis of INC-{button.incident_id}.",
            background=_background("diagnosis",
                lambda: part.responder.run_diagnosis(part.runtime, button.incident_id, actor),
            ),
        )
    mitigation_id = button.mitigation_id
    if mitigation_id is None:
        return Reply(":warning: This button names no mitigation.")
    verb = button.action if button.action in ("approve", "revert") else "reject"
    refused = _refuse_non_approver(part, user_id, verb, mitigation_id, button.incident_id)
    if refused is not None:
        return refused
    if verb == "revert":
        return _revert_reply(part, mitigation_id, actor)
    if verb == "approve":
        def work() -> Any:
            return part.responder.approve_mitigation(part.runtime, mitigation_id, actor)
    else:
        def work() -> Any:
            return part.responder.reject_mitigation(part.runtime, mitigation_id, actor)
    return Reply(
        f"{'Approving' if verb == 'approve' else 'Rejecting'} mitigation #{mitigation_id}…",
        background=_background(f"{verb} mitigation #{mitigation_id}", work),
    )
