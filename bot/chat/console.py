"""The chat port without Slack: the same messages as plain text on a stream (stdout by default).

The demo and local use run the whole flow (channel, card, timeline, approvals by CLI) and
read it in the terminal or the log.
"""

from __future__ import annotations

import itertools
import sys
import threading
from typing import TYPE_CHECKING, TextIO

from bot.chat import blocks
from bot.chat.port import ChannelCreated, ChatPort, FileToUpload, register_chat_port
from bot.chat.views import IncidentView, TimelineLine, channel_name
from bot.config import Settings
from bot.redact import redact, redact_text
from diagnostics.findings import Diagnosis

if TYPE_CHECKING:
    from bot.chat.signing import ButtonSigner
    from bot.chat.slack_client import SlackClient


class ConsolePort:
    name = "console"

    def __init__(self, stream: TextIO | None = None, *, secrets: list[str] | None = None) -> None:
        self.stream = stream
        self._secrets = [s for s in (secrets or []) if s]
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def _write(self, text: str) -> None:
        stream = self.stream or sys.stdout
        text = redact_text(text) if not self._secrets else str(redact(text, extra=self._secrets))
        with self._lock:
            try:
                stream.write(text.rstrip("\n") + "\n")
                stream.flush()
            except (OSError, ValueError):  # a closed pipe or stream: the console is best effort
                pass

    def create_channel(self, view: IncidentView) -> ChannelCreated:
        name = channel_name(view.id, view.title)
        self._write(f"[chat] #{name} created for {view.ref}")
        return ChannelCreated(channel_id=f"#{name}", name=name)

    def set_topic(self, channel: str, view: IncidentView) -> None:
        self._write(f"[chat {channel}] topic: {view.ref} · {view.severity} · {view.status} · {view.service}")

    def invite(self, channel: str, user: str) -> None:
        self._write(f"[chat {channel}] invited {user}")

    def post_card(self, channel: str, view: IncidentView) -> str:
        self._write(f"[chat {channel}] card\n{render_card(view)}")
        return f"console-{next(self._ids)}"

    def pin(self, channel: str, message_id: str) -> None:
        self._write(f"[chat {channel}] pinned the card")

    def update_card(self, channel: str, message_id: str, view: IncidentView) -> None:
        summary = f"{view.ref} · {view.severity} · {view.status} · commander {view.commander or 'unassigned'}"
        if view.proposed:
            summary += " · awaiting approval: " + ", ".join(f"#{m.id} {m.action}" for m in view.proposed)
        self._write(f"[chat {channel}] card updated: {summary}")

    def post_timeline(
        self, channel: str, thread_id: str | None, view: IncidentView, line: TimelineLine,
        *, broadcast: bool = False,
    ) -> str:
        self._write(f"[chat {channel}] {line.at.strftime('%H:%M:%S')} {line.kind} ({line.actor}): {line.message}")
        if line.kind == "diagnosis" and isinstance(line.data.get("diagnosis"), dict):
            for finding in Diagnosis.from_dict(line.data["diagnosis"]).findings[:3]:
                self._write(f"    - {finding.evidence}")
        return f"console-{next(self._ids)}"

    def post_text(self, channel: str, text: str, thread_id: str | None = None) -> str:
        self._write(f"[chat {channel}] {text}")
        return f"console-{next(self._ids)}"

    def announce(self, channel: str, view: IncidentView, incident_channel: str | None) -> str:
        where = incident_channel or "(no incident channel)"
        state = " resolved" if view.status == "resolved" else ""
        self._write(f"[chat {channel}] {view.ref}{state} [{view.severity}] {view.title} ({view.service}) → {where}")
        return f"console-{next(self._ids)}"

    def post_ephemeral(self, channel: str, user: str, text: str) -> None:
        self._write(f"[chat {channel} → {user} only] {text}")

    def respond(self, response_url: str, text: str) -> None:
        self._write(f"[chat reply] {text}")

    def channel_link(self, channel_id: str) -> str:
        return channel_id

    def group_members(self, group_id: str) -> list[str]:
        return []

    def upload_files(self, channel: str, thread_id: str | None, files: list[FileToUpload], comment: str) -> list[str]:
        names = ", ".join(f"{f.filename} ({len(f.content)} bytes)" for f in files)
        self._write(f"[chat {channel}] shared {names}: {comment}")
        return [f.filename for f in files]

    def archive(self, channel: str) -> None:
        self._write(f"[chat {channel}] channel archived")


def render_card(view: IncidentView) -> str:
    lines = [
        f"  {view.ref} · {view.title}",
        f"  severity {view.severity} · status {view.status} · service {view.service}",
        f"  started {blocks.fmt_time(view.started_at)} · commander {view.commander or 'unassigned'}",
    ]
    if view.alerts_total:
        firing = view.alerts_firing
        lines.append(f"  alerts: {firing} firing, {view.alerts_total - firing} resolved")
    if view.diagnosis:
        d = Diagnosis.from_dict(view.diagnosis)
        lines.append(
            f"  diagnosis: cause {d.cause}, culprit {d.culprit_kind} {d.culprit_name or None}, "
            f"recommended {d.recommended_mitigation}"
        )
        if view.figure_path:
            lines.append(f"  series figure: {view.figure_path}")
    for m in view.proposed:
        lines.append(f"  proposed mitigation #{m.id}: {m.action} on {m.target} (awaiting approval)")
    return "\n".join(lines)


@register_chat_port("console", applies=lambda settings: True, fallback=True)
def build_console_port(settings: Settings, signer: ButtonSigner) -> tuple[ChatPort, SlackClient | None]:
    """Without a Slack token: the chat goes to the terminal (and the log)."""
    return ConsolePort(secrets=settings.secrets()), None
