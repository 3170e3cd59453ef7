"""Slack Block Kit and mrkdwn for the incident card and the timeline thread.

Every piece of user-controlled text (titles, alert labels and annotations, notes, plans,
evidence) goes through `escape`, so an alert cannot ping `<!channel>`, mention a user or
forge a link. Only what this module builds itself (mentions of validated Slack ids,
channel links) contains Slack control sequences.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.chat.signing import ButtonSigner
from bot.chat.views import IncidentView, TimelineLine
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
KIND_ICON = {
    "incident_opened": ":rotating_light:",
    "alert_fired": ":fire:",
    "alert_joined": ":fire:",
    "alert_refired": ":fire:",
    "alert_resolved": ":large_green_circle:",
    "alerts_all_resolved": ":large_green_circle:",
    "status_changed": ":arrows_counterclockwise:",
    "severity_changed": ":warning:",
    "commander_assigned": ":technologist:",
    "note": ":memo:",
    "diagnosis": ":mag:",
    "mitigation_proposed": ":bulb:",
    "mitigation_approved": ":white_check_mark:",
    "mitigation_rejected": ":no_entry_sign:",
    "mitigation_executed": ":gear:",
    "mitigation_failed": ":x:",
    "mitigation_reverted": ":rewind:",
    "verification": ":chart_with_upwards_trend:",
    "escalation": ":sos:",
    "notify": ":loudspeaker:",
    "postmortem_drafted": ":page_facing_up:",
    "chat_error": ":warning:",
    "runbook_started": ":clipboard:",
    "runbook_step": ":arrow_right:",
    "escalation_webhook": ":sos:",
    "monitor_error": ":warning:",
    "postmortem_failed": ":x:",
}


def escape(text: object) -> str:
    """Slack's three control characters, neutralised (``&`` first, so nothing is double-read)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def user_ref(who: str | None) -> str:
    """A person as Slack shows them: a real mention for a validated Slack id, else escaped text."""
    if not who:
        return "_unassigned_"
    raw = who[len("slack:") :] if who.startswith("slack:") else who
    if _SLACK_ID.match(raw):
        return f"<@{raw}>"
    if _SLACK_USERGROUP.match(raw):
        return f"<!subteam^{raw}>"
    return escape(who)


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
    """One threaded message per timeline event."""
    icon = KIND_ICON.get(line.kind, ":small_blue_diamond:")
    data = line.data
    if line.kind == "diagnosis" and isinstance(data.get("diagnosis"), dict):
        body = diagnosis_text(data["diagnosis"])
    elif line.kind == "escalation":
        who = " ".join(user_ref(w) for w in data.get("who", []) if isinstance(w, str))
        body = f"{icon} *Escalation* {who}: {clip(escape(data.get('message') or line.message), 2000)}"
    elif line.kind == "commander_assigned" and data.get("to"):
        body = f"{icon} incident commander: {user_ref(str(data['to']))}"
    elif line.kind == "postmortem_drafted":
        md = str(data.get("markdown") or "")
        body = f"{icon} {clip(escape(line.message), 500)}"
        if data.get("path"):
            body += f"\n`{clip(escape(data['path']), 300)}`"
        if md:
            body += f"\n```{clip(escape(md), 2000)}```"
    else:
        body = f"{icon} {clip(escape(line.message), 2500)}"
    return f"{body}\n_{user_ref(line.actor)} · {line.at.strftime('%H:%M:%S UTC')}_"


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
