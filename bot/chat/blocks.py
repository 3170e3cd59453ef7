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
from bot.chat.views import IncidentView, TimelineLine
from bot.events import EventKind
from diagnostics.findings import Diagnosis

SECTION_LIMIT = 2900  # Slack allows 3000 characters in a section's text
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
    EventKind.VERIFICATION: ":chart_with_upwards_trend:",
    EventKind.ESCALATION: ":sos:",
    EventKind.ESCALATION_WEBHOOK: ":sos:",
    EventKind.REMINDER: ":alarm_clock:",
    EventKind.NOTIFY: ":loudspeaker:",
    EventKind.RUNBOOK_STARTED: ":clipboard:",
    EventKind.RUNBOOK_STEP: ":arrow_right:",
    EventKind.MONITOR_ERROR: ":warning:",
    EventKind.POSTMORTEM_DRAFTED: ":page_facing_up:",
    EventKind.POSTMORTEM_FAILED: ":x:",
    EventKind.POSTMORTEM_REVIEWED: ":white_check_mark:",
    EventKind.CHAT_ERROR: ":warning:",
}


def escape(text: object) -> str:
    """Slack's three control characters, neutralised (``&`` first, so nothing is double-read)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    if view.alerts:
        blocks.append(_section(_alert_summary(view)))
    if view.diagnosis:
        blocks.append(_section(diagnosis_text(view.diagnosis)))
    done = [m for m in view.mitigations if m.status != "proposed"]
    if done:
        blocks.append(_section("*Mitigations*\n" + "\n".join(
            f"#{m.id} {escape(m.action)} on `{clip(escape(m.target), 120)}`: *{escape(m.status)}*" for m in done[-5:]
        )))
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
                                "primary"),
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
    firing = sum(1 for a in view.alerts if a.status == "firing")
    resolved = len(view.alerts) - firing
    return f"{firing} firing, {resolved} resolved"


def _alert_summary(view: IncidentView, limit: int = 5) -> str:
    lines = []
    for a in view.alerts[:limit]:
        icon = ":fire:" if a.status == "firing" else ":large_green_circle:"
        labels = ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items()) if k not in ("alertname",))
        line = f"{icon} {clip(escape(a.title), 200)}"
        if a.summary:
            line += f" — {clip(escape(a.summary), 300)}"
        if labels:
            line += f"\n      `{clip(escape(labels), 300)}`"
        lines.append(line)
    if len(view.alerts) > limit:
        lines.append(f"…and {len(view.alerts) - limit} more")
    return clip("\n".join(lines), SECTION_LIMIT)


def diagnosis_text(diagnosis: dict[str, Any], findings: int = 3) -> str:
    d = Diagnosis.from_dict(diagnosis)
    head = (
        f":mag: *Diagnosis:* cause *{escape(d.cause)}*, culprit "
        f"{escape(d.culprit_kind)} `{clip(escape(d.culprit_name), 200)}`, "
        f"confidence {d.confidence:.0%}, recommended *{escape(d.recommended_mitigation)}*"
    )
    lines = [head]
    for f in d.findings[:findings]:
        lines.append(f"• {clip(escape(f.evidence), 400)}")
    return clip("\n".join(lines), SECTION_LIMIT)


def timeline_text(line: TimelineLine) -> str:
    """One threaded message per timeline event, by its kind's renderer."""
    icon = KIND_ICON.get(line.kind, ":small_blue_diamond:")
    render = RENDERERS.get(line.kind, _plain)
    return f"{render(line, icon)}\n_{actor_ref(line.actor)} · {line.at.strftime('%H:%M:%S UTC')}_"


def _plain(line: TimelineLine, icon: str) -> str:
    return f"{icon} {clip(escape(line.message), 2500)}"


def _diagnosis(line: TimelineLine, icon: str) -> str:
    if isinstance(line.data.get("diagnosis"), dict):
        return diagnosis_text(line.data["diagnosis"])
    return _plain(line, icon)


def _escalation(line: TimelineLine, icon: str) -> str:
    data = line.data
    who = " ".join(user_ref(w, groups=True) for w in data.get("who", []) if isinstance(w, str))
    return f"{icon} *Escalation* {who}: {clip(escape(data.get('message') or line.message), 2000)}"


def _commander_assigned(line: TimelineLine, icon: str) -> str:
    if line.data.get("to"):
        return f"{icon} incident commander: {user_ref(str(line.data['to']))}"
    return _plain(line, icon)


def _postmortem_drafted(line: TimelineLine, icon: str) -> str:
    data = line.data
    md = str(data.get("markdown") or "")
    body = f"{icon} {clip(escape(line.message), 500)}"
    if data.get("path"):
        body += f"\n`{clip(escape(data['path']), 300)}`"
    if md:
        body += f"\n```{clip(escape(md), 2000)}```"
    return body


# One renderer per event kind (the plain one unless the kind shows more than its message).
RENDERERS: dict[str, Callable[[TimelineLine, str], str]] = {str(kind): _plain for kind in EventKind}
RENDERERS.update({
    EventKind.DIAGNOSIS: _diagnosis,
    EventKind.ESCALATION: _escalation,
    EventKind.COMMANDER_ASSIGNED: _commander_assigned,
    EventKind.POSTMORTEM_DRAFTED: _postmortem_drafted,
})


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


def _button(action_id: str, label: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": value,
    }
    if style:
        button["style"] = style
    return button
