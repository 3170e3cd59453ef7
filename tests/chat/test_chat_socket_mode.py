"""Socket Mode: with SLACK_APP_TOKEN the app dials out to Slack instead of serving /slack/events."""

from __future__ import annotations

import threading
import time

from fastapi import FastAPI

from bot.chat.part import ChatPart
from bot.config import Settings
from bot.wiring import create_runtime, install_chat
from tests.support.fake_slack import FakeSlack


def test_socket_mode_dials_out_in_the_background_and_stops_cleanly(
    slack_settings: Settings, fake_slack: FakeSlack
) -> None:
    settings = slack_settings.with_(slack_app_token="xapp-test-app-token", slack_signing_secret=None)
    runtime = create_runtime(settings, install_parts=False)
    install_chat(runtime)
    app = FastAPI()
    runtime.parts[ChatPart].mount(app)
    assert "/slack/events" not in {getattr(r, "path", "") for r in app.routes}  # nothing to verify with
    before = set(threading.enumerate())
    runtime.start()  # must not block or raise although the WebSocket cannot connect
    try:
        fake_slack.wait_for(lambda: bool(fake_slack.calls_of("apps.connections.open")))
        opened = fake_slack.calls_of("apps.connections.open")[0]
        assert not opened.authorized  # the app-level token, not the bot token, opens the connection
    finally:
        runtime.close()
    # nothing of Socket Mode keeps running (no reconnect loop behind a closed runtime)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = [t for t in set(threading.enumerate()) - before if t.is_alive()
                and "process_request_thread" not in t.name]  # (the fake's own request threads)
        if not left:
            break
        time.sleep(0.1)
    assert left == [], [t.name for t in left]


def test_http_mode_mounts_the_events_route(slack_settings: Settings) -> None:
    runtime = create_runtime(slack_settings, install_parts=False)
    install_chat(runtime)
    try:
        app = FastAPI()
        runtime.parts[ChatPart].mount(app)
        assert "/slack/events" in {getattr(r, "path", "") for r in app.routes}
    finally:
        runtime.close()


def test_console_mode_mounts_nothing(settings: Settings) -> None:
    runtime = create_runtime(settings, install_parts=False)
    install_chat(runtime)
    try:
        app = FastAPI()
        runtime.parts[ChatPart].mount(app)
        assert "/slack/events" not in {getattr(r, "path", "") for r in app.routes}
        assert runtime.parts[ChatPart].port.name == "console"
    finally:
        runtime.close()
