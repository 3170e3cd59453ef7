"""The Slack Bolt app: `/incident`, the card's buttons, and the HTTP mount at `/slack/events`.

Bolt verifies every request's signature and timestamp (wrong or older than 5 minutes: 401)
before any listener runs. Listeners acknowledge first and do slow work afterwards; with
`process_before_response=False` Bolt runs them in its thread pool, so the HTTP answer goes
back as soon as `ack()` is called.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App
from slack_bolt.adapter.fastapi import SlackRequestHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.chat import commands, guard

if TYPE_CHECKING:
    from fastapi import FastAPI

    from bot.chat.part import ChatPart

log = logging.getLogger(__name__)

BUTTON_ACTIONS = re.compile(r"^(inc_ack|inc_diagnose|mit_approve:\d+|mit_reject:\d+|mit_revert:\d+)$")


def build_bolt_app(part: ChatPart) -> App:
    settings = part.runtime.settings
    assert part.client is not None, "the Bolt app needs the Slack client"
    app = App(
        name="mlresponder",
        # Explicit, so Bolt never falls back to the environment; empty means every request fails.
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=not settings.slack_app_token or bool(settings.slack_signing_secret),
        token_verification_enabled=False,
        client=part.client.web,
        process_before_response=False,
        logger=logging.getLogger("bot.chat.bolt"),
    )

    @app.command("/incident")
    def on_incident(ack: Ack, command: dict[str, Any]) -> None:
        if not guard.first_time(part, command):
            ack()  # a replay of a request already handled: it acts once
            return
        reply = commands.handle_command(
            part, str(command.get("text") or ""), str(command.get("user_id")), str(command.get("channel_id"))
        )
        ack(text=reply.text, response_type="in_channel" if reply.public else "ephemeral")
        if reply.background is not None:
            user, channel = str(command.get("user_id")), str(command.get("channel_id"))
            url = str(command.get("response_url") or "") or None
            reply.background(lambda text: part.tell(channel, user, text, response_url=url))

    @app.action(BUTTON_ACTIONS)
    def on_button(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        if not guard.first_time(part, body):
            return
        user = str((body.get("user") or {}).get("id") or "")
        channel = str((body.get("channel") or {}).get("id") or "")
        reply = commands.handle_button(part, part.signer, str(action.get("value") or ""), user, channel)
        if reply.text and channel and user:
            part.tell(channel, user, reply.text)
        if reply.background is not None:
            reply.background(lambda text: part.tell(channel, user, text))

    @app.event("app_mention")
    def on_mention(event: dict[str, Any]) -> None:
        channel, user = str(event.get("channel") or ""), str(event.get("user") or "")
        if channel and user:
            part.tell(channel, user, commands.usage(part))

    return app


class ThreadedSlackRequestHandler(SlackRequestHandler):
    """Bolt's FastAPI adapter, with the (blocking) dispatch moved off the event loop."""

    async def handle(self, req: Request, addition_context_properties: dict[str, Any] | None = None) -> Response:
        if req.method != "POST":
            return await super().handle(req, addition_context_properties)
        body = await req.body()
        bolt_request = to_bolt_request(req, body, addition_context_properties)
        bolt_response = await run_in_threadpool(self.app.dispatch, bolt_request)
        return to_starlette_response(bolt_response)


def mount_events(app: FastAPI, bolt: App) -> None:
    handler = ThreadedSlackRequestHandler(bolt)

    async def slack_events(req: Request) -> Response:
        """Slack events, slash commands and interactivity (signed by Slack; verified by Bolt)."""
        stamp = req.headers.get("x-slack-request-timestamp")
        if stamp is not None and not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            # Bolt would fail on int(stamp) with a 500; this is a bad request, not our failure.
            return JSONResponse({"detail": "x-slack-request-timestamp: expected epoch seconds"}, status_code=400)
        return await handler.handle(req)

    app.add_api_route("/slack/events", slack_events, methods=["POST"], tags=["slack"])
