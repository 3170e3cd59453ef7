"""The chat-neutral port: the few operations an incident needs from a chat system.

The outbox worker only knows this interface, so Slack and the console (and a test double)
are interchangeable. Errors are split the way a delivery loop needs them: retry later
(`RetryableChatError`) or give up on this one message and carry on (`FinalChatError`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from bot.chat.views import IncidentView, TimelineLine

if TYPE_CHECKING:
    from bot.chat.signing import ButtonSigner
    from bot.chat.slack_client import SlackClient
    from bot.config import Settings


class ChatError(Exception):
    """A chat call that did not succeed; `code` is the chat system's error name."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


class RetryableChatError(ChatError):
    """Rate limited, server error or unreachable: the same call may succeed later."""

    def __init__(self, code: str, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after


class FinalChatError(ChatError):
    """The chat system refused this call for good (unknown user, archived channel, bad scope...)."""


@dataclass
class ChannelCreated:
    channel_id: str
    name: str
    # Names that were taken before `name` was found (noted on the timeline).
    taken: list[str] = field(default_factory=list)


class ChatPort(Protocol):
    """What delivering an incident's messages needs; each method is one chat call."""

    name: str

    def create_channel(self, view: IncidentView) -> ChannelCreated: ...

    def set_topic(self, channel: str, view: IncidentView) -> None: ...

    def invite(self, channel: str, user: str) -> None: ...

    def post_card(self, channel: str, view: IncidentView) -> str:
        """Post the incident card; returns its message id (Slack: ts)."""
        ...

    def pin(self, channel: str, message_id: str) -> None: ...

    def update_card(self, channel: str, message_id: str, view: IncidentView) -> None: ...

    def post_timeline(
        self, channel: str, thread_id: str | None, view: IncidentView, line: TimelineLine,
        *, broadcast: bool = False,
    ) -> str:
        """A timeline line in the card's thread. ``view`` holds the incident's row only (its alerts,
        mitigations and roles are not read for a thread message: `bot.chat.views.row_view`)."""
        ...

    def post_text(self, channel: str, text: str, thread_id: str | None = None) -> str:
        """Post already-rendered, already-escaped mrkdwn text."""
        ...

    def announce(self, channel: str, view: IncidentView, incident_channel: str | None) -> str:
        """The one-line notice of a new incident in the alerts channel, linking to its channel."""
        ...

    def post_ephemeral(self, channel: str, user: str, text: str) -> None: ...

    def respond(self, response_url: str, text: str) -> None:
        """A private answer through a slash command's or click's response URL."""
        ...

    def channel_link(self, channel_id: str) -> str:
        """How a message refers to a channel (Slack: <#C123>)."""
        ...

    def group_members(self, group_id: str) -> list[str]:
        """Members of a user group (a read, not sent through the outbox)."""
        ...

    def upload_files(self, channel: str, thread_id: str | None, files: list[FileToUpload], comment: str) -> list[str]:
        """Share files in the channel (under the thread when given); returns the chat system's file ids."""
        ...

    def archive(self, channel: str) -> None: ...


@dataclass(frozen=True)
class FileToUpload:
    filename: str
    title: str
    content: bytes

# ------------------------------------------------------------------ the registry of chat ports


@dataclass(frozen=True)
class PortKind:
    """A chat backend: when it applies to the settings, and how to build its port (and Slack client)."""

    name: str
    applies: Callable[[Settings], bool]
    build: Callable[[Settings, ButtonSigner], tuple[ChatPort, SlackClient | None]]
    fallback: bool = False


# name → kind; `choose_port` takes the first that applies, the fallback (console) last.
CHAT_PORTS: dict[str, PortKind] = {}

Builder = Callable[["Settings", "ButtonSigner"], "tuple[ChatPort, SlackClient | None]"]


def register_chat_port(name: str, *, applies: Callable[[Settings], bool],
                       fallback: bool = False) -> Callable[[Builder], Builder]:
    """Register a chat backend's builder (the one way to add one: Slack, the console, ...)."""

    def register(build: Builder) -> Builder:
        CHAT_PORTS[name] = PortKind(name, applies, build, fallback)
        return build

    return register


def choose_port(settings: Settings, signer: ButtonSigner) -> tuple[ChatPort, SlackClient | None]:
    ordered = sorted(CHAT_PORTS.values(), key=lambda kind: kind.fallback)
    for kind in ordered:
        if kind.applies(settings):
            return kind.build(settings, signer)
    raise LookupError(f"no chat port applies to these settings (registered: {', '.join(CHAT_PORTS)})")
