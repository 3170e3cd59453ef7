"""Alert lines of a storm wait a moment for each other and go out as one thread message.

Against the recording fake Slack: alerts joining an incident one by one, each a separate
delivery and commit, reach the incident's thread as one `chat.postMessage` once their window
(`chat_outbox.lines_every`) ends, instead of one message (and chat call) each.
"""

from __future__ import annotations

import time

from chat_support import alertmanager_payload
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.chat.flows import due_at_once
from bot.chat.part import ChatPart
from bot.db import transaction
from bot.events import EventNotice
from bot.models import Incident
from bot.runtime import Runtime
from tests.support.fake_slack import FakeSlack


def test_alert_lines_joining_one_by_one_go_out_as_one_thread_message(
    api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    worker = chat_runtime.parts[ChatPart].worker
    worker.lines_every = 5.0  # far longer than the deliveries below take, however loaded the machine
    assert api.post("/alerts/alertmanager", json=alertmanager_payload("ChurnAUCDrop")).status_code == 201
    assert worker.drain(timeout=30)
    with transaction(chat_runtime.sessions) as s:
        incident = s.scalars(select(Incident)).one()
        channel, card_ts = incident.chat_channel_id, incident.chat_card_ts
    for n in range(4):
        body = alertmanager_payload("ChurnAUCDrop", fingerprint=f"join-{n}", annotations={"summary": f"line {n}"})
        assert api.post("/alerts/alertmanager", json=body).status_code == 202
        time.sleep(0.2)  # the worker polls every 0.05 s: without the window each line would go alone
    assert worker.drain(timeout=30)
    thread = [c.args["text"] for c in fake_slack.calls_of("chat.postMessage")
              if c.args.get("channel") == channel and c.args.get("thread_ts") == card_ts]
    with_lines = [t for t in thread if "line " in t]
    assert len(with_lines) == 1 and [f"line {n}" in with_lines[0] for n in range(4)] == [True] * 4, thread


def test_only_alert_lines_wait_for_their_window() -> None:
    def notices(*kinds: str) -> list[EventNotice]:
        return [EventNotice(1, i, kind) for i, kind in enumerate(kinds)]

    assert not due_at_once(notices("alert_joined", "alert_refired", "alert_resolved"))
    assert due_at_once(notices("alert_joined", "escalation"))
    assert due_at_once(notices("incident_opened")) and due_at_once(notices("note"))


def test_the_outbox_waits_for_deliveries_in_flight_before_each_pass_and_message(
    api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    """While the intake writer holds deliveries (`bot.foreground`), the worker asks to wait before
    claiming and before each further message, bounded by `yield_for`; everything still goes out."""
    from bot.chat.outbox import OutboxWorker
    from bot.foreground import Foreground

    part = chat_runtime.parts[ChatPart]
    foreground = chat_runtime.parts[Foreground]
    assert part.worker.foreground is foreground  # the chat part's worker waits on the runtime's
    part.worker.stop()
    # Passes run here, one at a time, by a worker of the same part that is not started.
    worker = OutboxWorker(chat_runtime.sessions, part.delivery, foreground=foreground, yield_for=0.0)
    asked: list[tuple[int, int]] = []  # (deliveries held, chat calls made so far) at each wait
    real_wait = foreground.wait_idle

    def wait_idle(limit: float) -> bool:
        asked.append((foreground.held, len(fake_slack.calls)))
        assert limit == worker.yield_for
        return real_wait(limit)

    foreground.wait_idle = wait_idle  # type: ignore[method-assign]
    assert api.post("/alerts/alertmanager", json=alertmanager_payload("ChurnAUCDrop")).status_code == 201
    foreground.enter()  # a delivery in flight
    try:
        sent, _ = worker.run_once()
    finally:
        foreground.leave()
    assert sent >= 1 and asked and asked[0] == (1, 0)  # asked before anything was sent
    assert len(asked) == sent  # once before the pass, once before every message after the first
    asked.clear()
    while worker.run_once()[0]:
        pass
    assert asked == [] and fake_slack.calls_of("chat.postMessage")  # nothing held: no waiting
