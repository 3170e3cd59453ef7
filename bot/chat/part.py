"""The chat part: the port (Slack or console), the outbox worker, the Bolt app.

`bot.wiring.install_chat` builds it. Its `start()`/`stop()` run the outbox worker (and
Socket Mode), `mount(app)` adds `POST /slack/events` to the API.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.chat.delivery import Delivery
from bot.chat.models import OutboxMessage
from bot.chat.outbox import OutboxWorker
from bot.chat.pagerduty import PagerDutyClient
from bot.chat.port import ChatError, ChatPort
from bot.chat.responder import Responder
from bot.chat.signing import ButtonSigner
from bot.chat.slack_client import SlackClient
from bot.db import transaction
from bot.foreground import Foreground

if TYPE_CHECKING:
    from fastapi import FastAPI
    from slack_bolt import App

    from bot.runtime import Runtime

log = logging.getLogger(__name__)


class ChatPart:
    def __init__(self, runtime: Runtime, port: ChatPort, signer: ButtonSigner, client: SlackClient | None,
                 responder: Responder, worker_options: dict[str, Any] | None = None) -> None:
        self.runtime = runtime
        self.responder = responder
        self.port = port
        self.signer = signer
        self.client = client
        self.delivery = Delivery(port, alerts_channel=runtime.settings.slack_alerts_channel,
                                 pager=PagerDutyClient(runtime.settings.pagerduty_url), catalog=runtime.catalog)
        options = {"foreground": runtime.parts.setdefault(Foreground, Foreground()), **(worker_options or {})}
        self.worker = OutboxWorker(runtime.sessions, self.delivery, **options)
        self._bolt: App | None = None
        self._socket_mode: Any = None
        self._socket_stop = threading.Event()
        self._socket_thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self.worker.start()
        settings = self.runtime.settings
        if self.client is not None and settings.slack_app_token and self._socket_mode is None:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            handler = SocketModeHandler(self.bolt, settings.slack_app_token, web_client=self.client.web)
            self._socket_mode = handler
            self._socket_stop.clear()
            # Alert intake and the API must work while Slack is away: connect in the background.
            self._socket_thread = threading.Thread(
                target=self._connect_socket_mode, args=(handler,), name="slack-socket-mode", daemon=True
            )
            self._socket_thread.start()

    def _connect_socket_mode(self, handler: Any) -> None:
        delay = 1.0
        while not self._socket_stop.is_set():
            try:
                handler.connect()
                log.info("Slack Socket Mode connected")
                break
            except Exception as exc:  # unreachable, bad app token...: keep trying, never crash serve
                log.error("Slack Socket Mode connection failed (%s); retrying in %.0fs", type(exc).__name__, delay)
                self._socket_stop.wait(delay)
                delay = min(delay * 2, 60.0)
        if self._socket_stop.is_set():
            handler.close()  # stop() ran while we were connecting: leave nothing running behind

    def stop(self) -> None:
        handler, self._socket_mode = self._socket_mode, None
        if handler is not None:
            self._socket_stop.set()
            handler.close()
            if self._socket_thread is not None:
                self._socket_thread.join(20)
                self._socket_thread = None
        self.worker.stop()

    @property
    def bolt(self) -> App:
        if self._bolt is None:
            from bot.chat.bolt_app import build_bolt_app

            self._bolt = build_bolt_app(self)
        return self._bolt

    def mount(self, app: FastAPI) -> None:
        """Add `POST /slack/events` when Slack can reach us over HTTP (bot token and signing secret)."""
        settings = self.runtime.settings
        if self.client is None or not settings.slack_signing_secret:
            if self.client is not None and not settings.slack_app_token:
                log.warning("SLACK_SIGNING_SECRET is not set: /slack/events is not served")
            return
        from bot.chat.bolt_app import mount_events

        mount_events(app, self.bolt)

    # -- used by commands and buttons ----------------------------------------------------------
    def tell(self, channel_id: str, user_id: str, text: str, response_url: str | None = None) -> None:
        """A message only `user_id` sees, through the outbox like every other message.

        Through the request's `response_url` when there is a trustworthy one (it also works in
        channels the bot is not in), else `chat.postEphemeral`.
        """
        if response_url and self.trusted_response_url(response_url):
            op, payload = "respond", {"url": response_url, "text": text}
        else:
            op, payload = "ephemeral", {"channel": channel_id, "user": user_id, "text": text}
        with transaction(self.runtime.sessions) as s:
            s.add(OutboxMessage(key=f"user:{user_id}", op=op, status="pending", payload=payload))
        self.worker.wake()

    def trusted_response_url(self, url: str) -> bool:
        """Slack's hooks host, or the configured Slack-compatible API's host (tests, proxies)."""
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname == "hooks.slack.com":
            return True
        api = self.runtime.settings.slack_api_url
        if api:
            base = urlsplit(api)
            return (parts.scheme, parts.netloc) == (base.scheme, base.netloc)
        return False

    def is_approver(self, user_id: str) -> bool:
        allowed = self.runtime.settings.approver_ids()
        if user_id in allowed:
            return True
        for group in (a for a in allowed if a.startswith("S")):
            try:
                if user_id in self.port.group_members(group):
                    return True
            except ChatError as exc:
                log.warning("could not read members of user group %s: %s", group, exc.code)
        return False
