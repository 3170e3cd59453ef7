"""`/slack/events` on a real uvicorn server: signed requests over real HTTP, the ack within the request."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from chat_support import sign, slash_body

from bot.db import transaction
from bot.incidents import get_incident
from bot.runtime import Runtime
from tests.support.fake_slack import FakeSlack, free_port


@pytest.fixture
def served(chat_runtime: Runtime) -> Iterator[str]:
    from bot.api import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(chat_runtime), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_signed_slash_commands_over_real_http(served: str, chat_runtime: Runtime, fake_slack: FakeSlack) -> None:
    body = slash_body("declare sev3 Served over uvicorn")
    with httpx.Client(base_url=served, timeout=10) as http:
        assert http.post("/slack/events", content=body, headers=sign(body, secret="wrong")).status_code == 401
        response = http.post("/slack/events", content=body, headers=sign(body))
        assert response.status_code == 200
        assert response.json()["text"].startswith(":rotating_light: <@UALICE01> declared *INC-1* [sev3]")
        fake_slack.wait_for(lambda: bool(fake_slack.calls_of("pins.add")))
        with transaction(chat_runtime.sessions) as s:
            channel = get_incident(s, 1).chat_channel_id
        ack = slash_body("ack", channel=str(channel))
        assert http.post("/slack/events", content=ack, headers=sign(ack)).json()["text"] == (
            "INC-1 is now acknowledged.")
    fake_slack.wait_for(lambda: bool(fake_slack.calls_of("chat.update")))
