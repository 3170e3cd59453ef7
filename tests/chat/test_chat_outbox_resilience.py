"""Nothing lost, nothing twice: 429 with Retry-After, a 500, then Slack down for a stretch."""

from __future__ import annotations

import re
import time

from sqlalchemy import select

from bot.chat.models import OutboxMessage
from bot.chat.part import ChatPart
from bot.config import Settings
from bot.db import transaction
from bot.incidents import add_note, assign_commander, create_incident, get_incident, set_severity, transition
from bot.runtime import Runtime
from bot.wiring import create_runtime
from tests.support.fake_slack import FakeSlack


def note(runtime: Runtime, text: str) -> None:
    with transaction(runtime.sessions) as s:
        add_note(s, get_incident(s, 1), text, actor="slack:UALICE01")


def rows(runtime: Runtime) -> list[OutboxMessage]:
    with transaction(runtime.sessions) as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_rate_limit_server_error_and_outage_deliver_everything_in_order_exactly_once(
    chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    fake_slack.fail_next(status=429, retry_after=1)  # the very first call: conversations.create
    fake_slack.fail_next(status=500)
    with transaction(chat_runtime.sessions) as s:
        create_incident(s, title="Ranker NDCG drop", severity="sev2", service="ranker", source="test", actor="t")
    for n in range(1, 4):
        note(chat_runtime, f"note {n}")
    fake_slack.wait_for(lambda: len(fake_slack.calls_of("pins.add")) == 1)

    fake_slack.down()
    for n in range(4, 9):
        note(chat_runtime, f"note {n}")
    updates_before = len(fake_slack.calls_of("chat.update"))
    with transaction(chat_runtime.sessions) as s:
        transition(s, get_incident(s, 1), "acknowledged", actor="slack:UALICE01")
    with transaction(chat_runtime.sessions) as s:
        set_severity(s, get_incident(s, 1), "sev1", actor="slack:UALICE01")
    with transaction(chat_runtime.sessions) as s:
        assign_commander(s, get_incident(s, 1), "slack:UBOB0002", actor="slack:UALICE01")
    # The worker keeps trying while Slack is away; nothing is marked sent meanwhile.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        waiting = [r for r in rows(chat_runtime) if r.status == "pending"]
        if waiting and waiting[0].attempts >= 3:
            break
        time.sleep(0.05)
    head = [r for r in rows(chat_runtime) if r.status == "pending"][0]
    assert head.attempts >= 3 and "unreachable" in (head.last_error or "")
    sent_while_down = len(fake_slack.calls)

    fake_slack.up()
    assert chat_runtime.parts[ChatPart].worker.drain(20)

    assert len(fake_slack.calls) > sent_while_down
    # the 429 was honoured: the retry came at least Retry-After later
    first, second = fake_slack.attempts[0], fake_slack.attempts[1]
    assert first.method == second.method == "conversations.create"
    assert second.at - first.at >= 0.95
    assert len(fake_slack.calls_of("conversations.create")) == 1

    card_ts = next(c.args["ts"] for c in fake_slack.calls_of("chat.update"))
    thread = [c.args["text"] for c in fake_slack.calls_of("chat.postMessage") if c.args.get("thread_ts") == card_ts]
    notes = [m.group(1) for t in thread if (m := re.search(r"note (\d+)", t))]
    assert notes == [str(n) for n in range(1, 9)]  # every note, in order, once
    assert sum("triggered → acknowledged" in t for t in thread) == 1
    assert thread.index(next(t for t in thread if "note 8" in t)) < thread.index(
        next(t for t in thread if "acknowledged" in t))
    cards = [c for c in fake_slack.calls_of("chat.postMessage") if c.args.get("blocks")]
    alert_lines = [c for c in fake_slack.calls_of("chat.postMessage") if c.args["channel"] == "ml-alerts"]
    assert len(cards) == 1 and len(alert_lines) == 1
    assert {r.status for r in rows(chat_runtime)} == {"sent", "superseded"}
    # three card changes while Slack was away: the card is updated once, to the latest state
    updates = fake_slack.calls_of("chat.update")[updates_before:]
    assert len(updates) == 1
    fields = updates[0].args["blocks"][1]["fields"]
    assert {"type": "mrkdwn", "text": "*Severity*\nsev1"} in fields
    assert {"type": "mrkdwn", "text": "*Commander*\n<@UBOB0002>"} in fields


def test_a_row_abandoned_mid_send_by_a_dead_process_is_sent_on_restart(
    slack_settings: Settings, fake_slack: FakeSlack
) -> None:
    from datetime import timedelta

    from bot.db import utcnow
    from bot.wiring import install_chat

    runtime = create_runtime(slack_settings, install_parts=False)
    install_chat(runtime)
    with transaction(runtime.sessions) as s:
        s.add(OutboxMessage(key="alerts", op="text", payload={"channel": "ml-alerts", "text": "abandoned"},
                            status="sending", attempts=1, next_attempt_at=utcnow() - timedelta(minutes=5)))
        s.add(OutboxMessage(key="other", op="text", payload={"channel": "ml-alerts", "text": "in flight"},
                            status="sending", attempts=1, next_attempt_at=utcnow()))
    runtime.start()
    try:
        fake_slack.wait_for(lambda: bool(fake_slack.calls_of("chat.postMessage")))
        time.sleep(0.2)
        assert [c.args["text"] for c in fake_slack.calls_of("chat.postMessage")] == ["abandoned"]
    finally:
        runtime.close()
