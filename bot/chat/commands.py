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

if TYPE_CHECKING:
    from bot.chat.part import ChatPart

log = logging.getLogger(__name__)

USAGE = """*`/incident` commands* (inside an incident channel the incident is implied;
elsewhere name it, e.g. `/incident ack INC-12`)
• `declare [sev1..sev4] <title>`: open an incident
• `list`: open incidents · `status`: where an incident stands · `help`: this text
• `ack` · `resolve` · `assign @user` · `severity sev1..sev4` · `note <text>`
• `diagnose`: run the diagnostics · `mitigate {mitigations}`: propose a mitigation
• `postmortem`: draft the postmortem"""


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
        return handler(part, args, user_id, channel_id)
    except UsageError as exc:
        return Reply(f"{exc}\n{usage(part)}")
    except (IncidentError, ValueError) as exc:
        return Reply(f":warning: {escape(exc)}")


# -- helpers ---------------------------------------------------------------------------
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
    severity = "sev3"
    if args:
        try:
            severity = normalize_severity(args[0])
            args = args[1:]
        except ValueError:
            pass
    title = " ".join(args).strip()
    if not title:
        raise UsageError("`declare` needs a title, e.g. `/incident declare sev2 churn model AUC dropped`.")
    with transaction(part.runtime.sessions) as s:
        incident = create_incident(
            s, title=clip(title, 500), severity=severity, service="unknown", source="slack",
            actor=actor_of(user_id),
        )
        ref = incident.ref
    return Reply(f":rotating_light: {user_ref(actor_of(user_id))} declared *{ref}* [{severity}]: "
                 f"{escape(clip(title, 500))}. Its channel is on the way.", public=True)


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
        _no_args(rest, "ack" if to_status == "acknowledged" else "resolve")
        with transaction(part.runtime.sessions) as s:
            incident = _resolve(s, ref, channel_id)
            transition(s, incident, to_status, actor=actor_of(user_id))
            done = incident.ref
        return Reply(f"{done} is now {to_status}.")

    return run


def _assign(part: ChatPart, args: list[str], user_id: str, channel_id: str) -> Reply:
    ref, rest = _split_ref(args)
    if len(rest) != 1:
        raise UsageError("`assign` needs exactly one person, e.g. `/incident assign @alice`.")
    who = rest[0]
    m = _MENTION.match(who)
    if m:
        commander = actor_of(m.group(1))
    elif who.lower() in ("me", "myself"):
        commander = actor_of(user_id)
    elif who.startswith("<!") or re.match(r"^@?S[A-Z0-9]{2,20}$", who):
        raise UsageError("`assign` needs one person, not a user group or a broadcast.")
    else:
        commander = clip(who.lstrip("@"), 100)
    with transaction(part.runtime.sessions) as s:
        incident = _resolve(s, ref, channel_id)
        assign_commander(s, incident, commander, actor=actor_of(user_id))
        done = incident.ref
    return Reply(f"{done}: incident commander is now {user_ref(commander)}.")


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
    verb = "approve" if button.action == "approve" else "reject"
    if not part.is_approver(user_id):
        with transaction(part.runtime.sessions) as s:
            audit(
                s, actor, f"mitigation_{verb}", f"mitigation:{mitigation_id}", outcome="refused",
                incident_id=button.incident_id, detail={"reason": "not in the approver allow-list"},
            )
        return Reply(f":no_entry: You are not allowed to {verb} mitigations "
                     "(ask someone in the approver list; this attempt was recorded).")
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
