"""Slack Block Kit and mrkdwn for the incident card and the timeline thread.

Every piece of user-controlled text (titles, alert labels and annotations, notes, plans,
evidence) goes through `escape`, so an alert cannot ping `<!channel>`, mention a user or
forge a link. Only what this module builds itself (mentions of validated Slack ids,
channel links) contains Slack control sequences.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.chat.signing import ButtonSigner
from bot.chat.views import SHOWN_ALERTS, IncidentView, TimelineLine
from bot.events import EventKind
from diagnostics.findings import Diagnosis, iso_utc

SECTION_LIMIT = 2900  # Slack allows 3000 characters in a section's text
# Mitigation states whose effect is in place, so a Revert button makes sense.
REVERTIBLE = ("executed", "verified", "failed_verification")
_SLACK_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
_SLACK_USERGROUP = re.compile(r"^S[A-Z0-9]{2,20}$")

STATUS_ICON = {
    "triggered": ":rotating_light:",
    "acknowledged": ":eyes:",
    "mitigating": ":hammer_and_wrench:",
    "mitigated": ":large_yellow_circle:",
    "resolved": ":white_check_mark:",
    "reopened": ":rotating_light:",
}
KIND_ICON: dict[str, str] = {
    EventKind.INCIDENT_OPENED: ":rotating_light:",
    EventKind.ALERT_FIRED: ":fire:",
    EventKind.ALERT_JOINED: ":fire:",
    EventKind.ALERT_REFIRED: ":fire:",
    EventKind.ALERT_RESOLVED: ":large_green_circle:",
    EventKind.ALERTS_ALL_RESOLVED: ":large_green_circle:",
    EventKind.STATUS_CHANGED: ":arrows_counterclockwise:",
    EventKind.SEVERITY_CHANGED: ":warning:",
    EventKind.COMMANDER_ASSIGNED: ":technologist:",
    EventKind.NOTE: ":memo:",
    EventKind.DIAGNOSIS: ":mag:",
    EventKind.MITIGATION_PROPOSED: ":bulb:",
    EventKind.MITIGATION_APPROVED: ":white_check_mark:",
    EventKind.MITIGATION_REJECTED: ":no_entry_sign:",
    EventKind.MITIGATION_EXECUTED: ":gear:",
    EventKind.MITIGATION_FAILED: ":x:",
    EventKind.MITIGATION_REVERTED: ":rewind:",
    EventKind.MITIGATION_STALE: ":hourglass:",
    EventKind.VERIFICATION: ":chart_with_upwards_trend:",
    EventKind.ESCALATION: ":sos:",
    EventKind.NOTIFY: ":loudspeaker:",
    EventKind.POSTMORTEM_DRAFTED: ":page_facing_up:",
    EventKind.CHAT_ERROR: ":warning:",
    EventKind.RUNBOOK_STARTED: ":clipboard:",
    EventKind.RUNBOOK_STEP: ":arrow_right:",
    EventKind.ESCALATION_WEBHOOK: ":sos:",
    EventKind.MONITOR_ERROR: ":warning:",
    EventKind.POSTMORTEM_FAILED: ":x:",
    EventKind.ROLE_ASSIGNED: ":technologist:",
    EventKind.STATUS_UPDATE: ":mega:",
    EventKind.REMINDER: ":alarm_clock:",
    EventKind.ACTION_ITEM_FILED: ":ticket:",
    EventKind.CHANNEL_ARCHIVED: ":file_cabinet:",
    EventKind.POSTMORTEM_REVIEWED: ":white_check_mark:",
}


def escape(text: object) -> str:
    """Slack's three control characters, neutralised (``&`` first, so nothing is double-read)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, never ending inside an escaped entity or a Slack ``<…>`` sequence."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    cut = _PARTIAL_ENTITY.sub("", cut)
    opened = cut.rfind("<")
    if opened > cut.rfind(">"):  # a mention or link we built would be cut in half: drop it whole
        cut = cut[:opened]
    return cut + "…"


_SAFE_URL = re.compile(r"^https?://[^\s<>|]+$")


def link(url: str, label: str) -> str:
    """A Slack link to an http(s) URL taken from an alert; anything else is shown as inert text."""
    if not _SAFE_URL.match(url) or len(url) > 1000:
        return f"{escape(label)}: {clip(escape(url), 200)}"
    return f"<{escape(url)}|{escape(label)}>"


def user_ref(who: str | None, *, groups: bool = False) -> str:
    """A person as Slack shows them: a real mention for a validated Slack user id, else escaped
    text. Only fields meant to be people come here (commander, escalation targets); a user group
    is mentioned only where paging a group is the point (``groups=True``: escalation)."""
    if not who:
        return "_unassigned_"
    raw = who[len("slack:") :] if who.startswith("slack:") else who
    if _SLACK_ID.match(raw):
        return f"<@{raw}>"
    if groups and _SLACK_USERGROUP.match(raw):
        return f"<!subteam^{raw}>"
    return escape(who)


def actor_ref(actor: str | None) -> str:
    """Who did something: a mention only for a Slack user who acted (``slack:U...``); any other
    actor (an alert's ``source``, a monitor, a runbook) is text, whatever it looks like."""
    if actor and actor.startswith("slack:") and _SLACK_ID.match(actor[len("slack:"):]):
        return f"<@{actor[len('slack:'):]}>"
    return escape(actor or "mlresponder")


def is_slack_user_id(value: str) -> bool:
    return bool(_SLACK_ID.match(value))


def fmt_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def topic(view: IncidentView) -> str:
    return clip(
        escape(f"{view.ref} · {view.severity} · {view.status} · {view.service} · {view.title}"), 250
    )


def roles_text(view: IncidentView) -> str | None:
    """The roles other than the commander (shown in the fields), or None when none is assigned."""
    from bot.roles import ROLES

    held = [f"*{ROLES[role].capitalize()}* {user_ref(who)}" for role, who in view.roles.items() if role != "commander"]
    return " · ".join(held) if held else None


def card_text(view: IncidentView) -> str:
    """The notification / fallback text of the card."""
    return escape(f"{view.ref} [{view.severity}] {view.status}: {view.title} ({view.service})")


def card_blocks(view: IncidentView, signer: ButtonSigner | None) -> list[dict[str, Any]]:
    icon = STATUS_ICON.get(view.status, ":rotating_light:")
    blocks: list[dict[str, Any]] = [
        _section(f"{icon} *{view.ref} · {clip(escape(view.title), 500)}*"),
        {
            "type": "section",
            "fields": [
                _mrkdwn(f"*Severity*\n{escape(view.severity)}"),
                _mrkdwn(f"*Status*\n{escape(view.status)}"),
                _mrkdwn(f"*Service*\n{clip(escape(view.service), 200)}"),
                _mrkdwn(f"*Started*\n{fmt_time(view.started_at)}"),
                _mrkdwn(f"*Commander*\n{user_ref(view.commander)}"),
                _mrkdwn(f"*Alerts*\n{_alert_counts(view)}"),
            ],
        },
    ]
    roles = roles_text(view)
    if roles:
        blocks.append(_section(roles))
    if view.alerts:
        blocks.append(_section(_alert_summary(view)))
    if view.diagnosis:
        blocks.append(_section(diagnosis_text(view.diagnosis)))
        if view.figure_file:
            blocks.append(figure_block(view.figure_file, view.diagnosis))
    done = [m for m in view.mitigations if m.status != "proposed"]
    if done:
        blocks.append(_section("*Mitigations*\n" + "\n".join(
            f"#{m.id} {escape(m.action)} on `{clip(escape(m.target), 120)}`: *{escape(m.status)}*" for m in done[-5:]
        )))
        revertible = [m for m in done[-5:] if m.status in REVERTIBLE]
        if signer is not None and revertible:
            blocks.append({
                "type": "actions",
                "block_id": "revert",
                "elements": [
                    _button(f"mit_revert:{m.id}", f"Revert #{m.id}", signer.sign("revert", view.id, m.id), "danger",
                            confirm=_confirm(f"Revert mitigation #{m.id}?",
                                             f"This undoes {escape(m.action)} on `{clip(escape(m.target), 120)}` "
                                             "in production (the previous version serves again).", "Revert"))
                    for m in revertible
                ],
            })
    for m in view.proposed:
        blocks.append(
            _section(
                f":bulb: *Proposed mitigation #{m.id}:* {escape(m.action)} on "
                f"`{clip(escape(m.target), 200)}`\n{clip(escape(m.summary), 1500)}"
            )
        )
        if signer is not None and view.open:
            blocks.append(
                {
                    "type": "actions",
                    "block_id": f"mitigation-{m.id}",
                    "elements": [
                        _button(f"mit_approve:{m.id}", "Approve", signer.sign("approve", view.id, m.id),
                                "primary",
                                confirm=_confirm(f"Approve mitigation #{m.id}?",
                                                 f"This runs {escape(m.action)} on `{clip(escape(m.target), 120)}` "
                                                 f"in production: {clip(escape(m.summary), 200)}", "Approve",
                                                 "primary")),
                        _button(f"mit_reject:{m.id}", "Reject", signer.sign("reject", view.id, m.id),
                                "danger"),
                    ],
                }
            )
    if signer is not None and view.open:
        elements = []
        if view.can_acknowledge:
            elements.append(_button("inc_ack", "Acknowledge", signer.sign("ack", view.id), "primary"))
        elements.append(_button("inc_diagnose", "Run diagnosis", signer.sign("diagnose", view.id)))
        blocks.append({"type": "actions", "block_id": "incident", "elements": elements})
    blocks.append(
        {
            "type": "context",
            "elements": [_mrkdwn(f"{view.ref} · timeline in the thread · `/incident help`")],
        }
    )
    return blocks


def _alert_counts(view: IncidentView) -> str:
    firing = view.alerts_firing
    return f"{firing} firing, {view.alerts_total - firing} resolved"


def _alert_summary(view: IncidentView, limit: int = SHOWN_ALERTS) -> str:
    lines = []
    for a in view.alerts[:limit]:
        icon = ":fire:" if a.status == "firing" else ":large_green_circle:"
        labels = ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items()) if k not in ("alertname",))
        line = f"{icon} {clip(escape(a.title), 200)}"
        if a.summary:
            line += f" — {clip(escape(a.summary), 300)}"
        if a.description:
            line += f"\n      {clip(escape(a.description), 500)}"
        if a.links:
            line += "\n      " + " · ".join(link(url, label) for label, url in a.links)
        if labels:
            line += f"\n      `{clip(escape(labels), 300)}`"
        lines.append(line)
    shown = min(limit, len(view.alerts))
    if view.alerts_total > shown:
        lines.append(f"…and {view.alerts_total - shown} more")
    return clip("\n".join(lines), SECTION_LIMIT)


def figure_block(file_id: str, diagnosis: dict[str, Any]) -> dict[str, Any]:
    """The diagnosis' series figure (uploaded to the chat first) as the card's image."""
    d = Diagnosis.from_dict(diagnosis)
    culprit = f"{d.culprit_kind} {d.culprit_name}".strip() if d.cause != "none" else "none"
    return {
        "type": "image",
        "block_id": f"series-figure-{file_id}",
        "slack_file": {"id": file_id},
        "title": {"type": "plain_text", "text": "The service's series around the onset"},
        "alt_text": clip(f"Top series of the service and its dependencies around the onset; culprit: {culprit} "
                         "(in red).", 2000),
    }


def diagnosis_text(diagnosis: dict[str, Any], findings: int = 3) -> str:
    d = Diagnosis.from_dict(diagnosis)
    head = (
        f":mag: *Diagnosis:* cause *{escape(d.cause)}*, culprit "
        f"{escape(d.culprit_kind)} `{clip(escape(d.culprit_name), 200)}`, "
        f"confidence {d.confidence:.0%}, recommended *{escape(d.recommended_mitigation)}*"
    )
    lines = [head]
    if d.trigger is not None:
        t = d.trigger
        lines.append(f"Trigger: {escape(t.kind)} of `{clip(escape(t.service), 80)}` at {iso_utc(t.timestamp)}: "
                     f"{clip(escape(t.description), 300)}")
    for f in d.findings[:findings]:
        lines.append(f"• {clip(escape(f.evidence), 400)}")
    return clip("\n".join(lines), SECTION_LIMIT)


def timeline_text(line: TimelineLine) -> str:
    """One threaded message per timeline event, by its kind's renderer."""
    icon = KIND_ICON.get(line.kind, ":small_blue_diamond:")
    render = RENDERERS.get(line.kind, _plain)
    return f"{render(line, icon)}\n_{actor_ref(line.actor)} · {line.at.strftime('%H:%M:%S UTC')}_"


def _plain(line: TimelineLine, icon: str) -> str:
    return f"{icon} {mention_people(clip(escape(line.message), 2500), line)}"


def _diagnosis(line: TimelineLine, icon: str) -> str:
    if isinstance(line.data.get("diagnosis"), dict):
        return diagnosis_text(line.data["diagnosis"])
    return _plain(line, icon)


def _escalation(line: TimelineLine, icon: str) -> str:
    data = line.data
    who = " ".join(user_ref(w, groups=True) for w in data.get("who", []) if isinstance(w, str))
    return f"{icon} *Escalation* {who}: {clip(escape(data.get('message') or line.message), 2000)}"


def _reminder(line: TimelineLine, icon: str) -> str:
    if not line.data.get("who"):
        return _plain(line, icon)
    who = " ".join(user_ref(w) for w in line.data.get("who", []) if isinstance(w, str))
    return f"{icon} {who}: {clip(escape(line.message), 2000)}"


def _commander_assigned(line: TimelineLine, icon: str) -> str:
    if line.data.get("to"):
        return f"{icon} incident commander: {user_ref(str(line.data['to']))}"
    return _plain(line, icon)


def _role_assigned(line: TimelineLine, icon: str) -> str:
    data = line.data
    if not data.get("to"):
        return _plain(line, icon)
    from bot.roles import ROLES

    return f"{icon} {escape(ROLES.get(str(data.get('role')), str(data.get('role'))))}: {user_ref(str(data['to']))}"


def _status_update(line: TimelineLine, icon: str) -> str:
    return f"{icon} *Status update:* {clip(escape(line.data.get('text') or line.message), 2500)}"


def _postmortem_drafted(line: TimelineLine, icon: str) -> str:
    data = line.data
    md = str(data.get("markdown") or "")
    body = f"{icon} {clip(escape(line.message), 500)}"
    if data.get("upload"):
        body += "\nThe draft and its figures are attached below."
    if md:
        body += f"\n```{clip(escape(_summary_of(md)), 1500)}```"
    return body


# One renderer per event kind (the plain one unless the kind shows more than its message).
RENDERERS: dict[str, Callable[[TimelineLine, str], str]] = {str(kind): _plain for kind in EventKind}
RENDERERS.update({
    EventKind.DIAGNOSIS: _diagnosis,
    EventKind.ESCALATION: _escalation,
    EventKind.REMINDER: _reminder,
    EventKind.COMMANDER_ASSIGNED: _commander_assigned,
    EventKind.ROLE_ASSIGNED: _role_assigned,
    EventKind.STATUS_UPDATE: _status_update,
    EventKind.POSTMORTEM_DRAFTED: _postmortem_drafted,
})


def _summary_of(markdown: str) -> str:
    """The draft's summary section (the whole draft is uploaded as a file)."""
    lines = markdown.splitlines()
    try:
        start = lines.index("## Summary") + 1
    except ValueError:
        return markdown
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[start:end]).strip()


_PEOPLE_FIELDS = ("approved_by", "reverted_by", "to", "from", "by")


def mention_people(text: str, line: TimelineLine) -> str:
    """Person ids the event itself names (its actor, its approver...) shown as mentions, not raw ids.

    Only ids recorded by the event's own fields are replaced, and only validated Slack ids, so
    free text in a message can never turn into a mention.
    """
    people = {line.actor, *(str(line.data.get(k)) for k in _PEOPLE_FIELDS if line.data.get(k))}
    for who in sorted(people, key=len, reverse=True):
        if who.startswith("slack:") and is_slack_user_id(who[len("slack:"):]):
            text = text.replace(escape(who), actor_ref(who))
    return text


def stakeholder_text(view: IncidentView, line: TimelineLine, channel_link: str | None) -> str:
    """A status update as stakeholders see it: what, how bad, where it stands, who said so."""
    where = f" · {channel_link}" if channel_link else ""
    text = clip(escape(line.data.get("text") or line.message), 2500)
    return (
        f":mega: *{view.ref} status update* [{escape(view.severity)}] *{escape(view.status)}*: "
        f"{clip(escape(view.title), 200)} ({clip(escape(view.service), 100)}){where}\n{text}\n"
        f"_{actor_ref(line.actor)} · {line.at.strftime('%H:%M UTC')}_"
    )


def alerts_channel_line(view: IncidentView, channel_link: str) -> str:
    state = " *resolved*" if view.status == "resolved" else ""
    return (
        f"{STATUS_ICON.get(view.status, ':rotating_light:')} *{view.ref}*{state} [{escape(view.severity)}] "
        f"{clip(escape(view.title), 300)} ({clip(escape(view.service), 100)}) → {channel_link}"
    )


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(clip(text, SECTION_LIMIT))}


def _button(action_id: str, label: str, value: str, style: str | None = None,
            confirm: dict[str, Any] | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": value,
    }
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = confirm
    return button


def _confirm(title: str, text: str, yes: str, style: str = "danger") -> dict[str, Any]:
    """Slack's confirmation dialog: a click that changes production asks first."""
    return {
        "title": {"type": "plain_text", "text": clip(title, 100)},
        "text": {"type": "mrkdwn", "text": clip(text, 300)},
        "confirm": {"type": "plain_text", "text": yes},
        "deny": {"type": "plain_text", "text": "Cancel"},
        "style": style,
    }
