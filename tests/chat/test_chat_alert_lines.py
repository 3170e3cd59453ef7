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


def test_a_pass_records_its_thread_messages_in_one_transaction_reading_only_the_incident_row(
    api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    """A storm's thread messages (one per incident each second) cost the outbox a claim, a read and
    a record each: the rows a pass delivers are recorded together (one transaction, not one each),
    and a thread message reads its incident's row only, not its mitigations, roles or figure."""
    from sqlalchemy import event

    from bot.chat.outbox import OutboxWorker
    from bot.chat.views import build_view
    from bot.incidents import log_event

    part = chat_runtime.parts[ChatPart]
    for n in range(3):
        body = alertmanager_payload("ChurnAUCDrop", service=f"svc-{n}", fingerprint=f"fp-{n}", group_key=f"g-{n}")
        assert api.post("/alerts/alertmanager", json=body).status_code == 201
    assert part.worker.drain(timeout=30)
    part.worker.stop()
    with transaction(chat_runtime.sessions) as s:
        incidents = s.scalars(select(Incident).order_by(Incident.id)).all()
        assert len(incidents) == 3
        for incident in incidents:
            log_event(s, incident, "note", f"note on {incident.ref}", actor="U1")
    worker = OutboxWorker(chat_runtime.sessions, part.delivery)
    commits: list[int] = []
    statements: list[str] = []

    def count_commit(_session: object) -> None:
        commits.append(1)

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(chat_runtime.sessions, "after_commit", count_commit)
    event.listen(chat_runtime.engine, "before_cursor_execute", record)
    try:
        posted_before = len(fake_slack.calls_of("chat.postMessage"))
        sent, _ = worker.run_once()
    finally:
        event.remove(chat_runtime.sessions, "after_commit", count_commit)
        event.remove(chat_runtime.engine, "before_cursor_execute", record)
    notes = [c.args["text"] for c in fake_slack.calls_of("chat.postMessage")[posted_before:]]
    assert sent == 3 and sorted(t for t in notes if "note on" in t) == notes and len(notes) == 3, notes
    assert len(commits) == 2  # the claim, then the three deliveries recorded at once (was 1 + 3)
    assert not [s for s in statements if "mitigations" in s or "role_assigned" in s], statements
    assert worker.pending() == 0
    with transaction(chat_runtime.sessions) as s:  # the full view still reads them (a card)
        statements.clear()
        event.listen(chat_runtime.engine, "before_cursor_execute", record)
        try:
            build_view(s, s.get(Incident, incidents[0].id))  # type: ignore[arg-type]
        finally:
            event.remove(chat_runtime.engine, "before_cursor_execute", record)
    assert [s for s in statements if "mitigations" in s]
