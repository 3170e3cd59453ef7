"""The outbox on the team store: PostgreSQL (real server, started by the session fixture)."""

from __future__ import annotations

import threading

import pytest

from bot.chat.part import ChatPart
from bot.config import Settings
from bot.db import transaction
from bot.incidents import add_note, create_incident, get_incident
from bot.wiring import create_runtime
from tests.support.fake_slack import FakeSlack


@pytest.mark.integration
def test_outbox_delivers_concurrent_events_once_on_postgres(
    postgres_url: str, slack_settings: Settings, fake_slack: FakeSlack
) -> None:
    runtime = create_runtime(slack_settings.with_(database_url=postgres_url))
    runtime.start()
    try:
        with transaction(runtime.sessions) as s:
            create_incident(s, title="Latency p99 up", severity="sev2", service="api", source="test", actor="t")

        def write(worker: int) -> None:
            for n in range(5):
                with transaction(runtime.sessions) as s:
                    add_note(s, get_incident(s, 1, for_update=True), f"w{worker} n{n}", actor="t")

        threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert runtime.parts[ChatPart].worker.drain(30)
        with transaction(runtime.sessions) as s:
            incident = get_incident(s, 1)
            stored = [e.message for e in incident.events if e.kind == "note"]
            card_ts = incident.chat_card_ts
    finally:
        runtime.close()
    thread = [c.args["text"].split("\n")[0] for c in fake_slack.calls_of("chat.postMessage")
              if c.args.get("thread_ts") == card_ts and ":memo:" in c.args["text"]]
    assert sorted(thread) == sorted(f":memo: {m}" for m in stored) and len(thread) == 20
    for w in range(4):  # each writer's notes arrive in the order it wrote them
        mine = [t for t in thread if t.startswith(f":memo: w{w} ")]
        assert mine == [f":memo: w{w} n{n}" for n in range(5)]
