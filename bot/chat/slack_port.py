"""The chat port on Slack: each operation is one Web API call through `SlackClient`."""

from __future__ import annotations

import secrets
import threading
import time

from bot.chat import blocks
from bot.chat.port import ChannelCreated, ChatPort, FileToUpload, FinalChatError, register_chat_port
from bot.chat.signing import ButtonSigner
from bot.chat.slack_client import SlackClient
from bot.chat.views import IncidentView, TimelineLine, channel_name
from bot.config import Settings

MAX_NAME_ATTEMPTS = 6
GROUP_CACHE_SECONDS = 60.0
MAX_LIST_PAGES = 20


class SlackPort:
    name = "slack"

    def __init__(self, client: SlackClient, signer: ButtonSigner | None) -> None:
        self.client = client
        self.signer = signer
        self._groups: dict[str, tuple[float, list[str]]] = {}
        self._lock = threading.Lock()
        self._bot_user_id: str | None = None

    def create_channel(self, view: IncidentView) -> ChannelCreated:
        base = channel_name(view.id, view.title)
        taken: list[str] = []
        candidates = [base] + [f"{base[:76]}-{n}" for n in range(2, MAX_NAME_ATTEMPTS)]
        candidates.append(f"{base[:74]}-{secrets.token_hex(2)}")
        for name in candidates:
            try:
                answer = self.client.call("conversations.create", name=name, is_private=view.private)
            except FinalChatError as exc:
                if exc.code == "name_taken":
                    # Ours already, when an earlier attempt timed out after Slack had created it:
                    # adopt it rather than open an orphan "-2" channel.
                    own = self._own_channel(name)
                    if own is not None:
                        return ChannelCreated(own, name, taken)
                    taken.append(name)
                    continue
                raise
            channel = answer.get("channel") or {}
            return ChannelCreated(str(channel["id"]), str(channel.get("name") or name), taken)
        raise FinalChatError("name_taken", f"every channel name tried for {view.ref} is taken: {', '.join(taken)}")

    def _bot_user(self) -> str | None:
        with self._lock:
            if self._bot_user_id is None:
                self._bot_user_id = str(self.client.call("auth.test").get("user_id") or "")
            return self._bot_user_id or None

    def _own_channel(self, name: str) -> str | None:
        """The id of the unarchived public channel ``name`` this bot created, if there is one."""
        me = self._bot_user()
        if me is None:
            return None
        cursor = ""
        for _ in range(MAX_LIST_PAGES):
            answer = self.client.call("conversations.list", types="public_channel", exclude_archived=True,
                                      limit=1000, **({"cursor": cursor} if cursor else {}))
            for channel in answer.get("channels") or []:
                if channel.get("name") == name and channel.get("creator") == me and not channel.get("is_archived"):
                    return str(channel["id"])
            cursor = str((answer.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                break
        return None

    def set_topic(self, channel: str, view: IncidentView) -> None:
        self.client.call("conversations.setTopic", channel=channel, topic=blocks.topic(view))

    def invite(self, channel: str, user: str) -> None:
        self.client.call("conversations.invite", channel=channel, users=user)

    def post_card(self, channel: str, view: IncidentView) -> str:
        answer = self.client.call(
            "chat.postMessage", channel=channel, text=blocks.card_text(view),
            blocks=blocks.card_blocks(view, self.signer), unfurl_links=False, unfurl_media=False,
        )
        return str(answer["ts"])

    def pin(self, channel: str, message_id: str) -> None:
        self.client.call("pins.add", channel=channel, timestamp=message_id)

    def update_card(self, channel: str, message_id: str, view: IncidentView) -> None:
        self.client.call(
            "chat.update", channel=channel, ts=message_id, text=blocks.card_text(view),
            blocks=blocks.card_blocks(view, self.signer),
        )

    def post_timeline(
        self, channel: str, thread_id: str | None, view: IncidentView, line: TimelineLine,
        *, broadcast: bool = False,
    ) -> str:
        return self.post_text(channel, blocks.timeline_text(line), thread_id, broadcast=broadcast)

    def post_text(self, channel: str, text: str, thread_id: str | None = None, *, broadcast: bool = False) -> str:
        args: dict[str, object] = {"channel": channel, "text": text, "unfurl_links": False, "unfurl_media": False}
        if thread_id:
            args["thread_ts"] = thread_id
            if broadcast:
                args["reply_broadcast"] = True
        answer = self.client.call("chat.postMessage", **args)
        return str(answer.get("ts", ""))

    def announce(self, channel: str, view: IncidentView, incident_channel: str | None) -> str:
        link = f"<#{incident_channel}>" if incident_channel else "(no incident channel)"
        return self.post_text(channel, blocks.alerts_channel_line(view, link))

    def post_ephemeral(self, channel: str, user: str, text: str) -> None:
        self.client.call("chat.postEphemeral", channel=channel, user=user, text=text)

    def respond(self, response_url: str, text: str) -> None:
        self.client.respond(response_url, text)

    def channel_link(self, channel_id: str) -> str:
        return f"<#{channel_id}>"

    def upload_files(self, channel: str, thread_id: str | None, files: list[FileToUpload], comment: str) -> list[str]:
        """Slack's external upload: files.getUploadURLExternal, the bytes, files.completeUploadExternal."""
        ids: list[dict[str, str]] = []
        for f in files:
            ticket = self.client.call("files.getUploadURLExternal", filename=f.filename, length=len(f.content))
            self.client.upload(str(ticket["upload_url"]), f.content, f.filename)
            ids.append({"id": str(ticket["file_id"]), "title": f.title})
        args: dict[str, object] = {"files": ids, "channel_id": channel, "initial_comment": comment}
        if thread_id:
            args["thread_ts"] = thread_id
        self.client.call("files.completeUploadExternal", **args)
        return [i["id"] for i in ids]

    def archive(self, channel: str) -> None:
        self.client.call("conversations.archive", channel=channel)

    def group_members(self, group_id: str) -> list[str]:
        now = time.monotonic()
        with self._lock:
            cached = self._groups.get(group_id)
            if cached and now - cached[0] < GROUP_CACHE_SECONDS:
                return cached[1]
        users = [str(u) for u in self.client.call("usergroups.users.list", usergroup=group_id).get("users", [])]
        with self._lock:
            self._groups[group_id] = (now, users)
        return users


@register_chat_port("slack", applies=lambda settings: bool(settings.slack_bot_token))
def build_slack_port(settings: Settings, signer: ButtonSigner) -> tuple[ChatPort, SlackClient | None]:
    client = SlackClient(settings.slack_bot_token or "", base_url=settings.slack_api_url, secrets=settings.secrets())
    return SlackPort(client, signer), client
