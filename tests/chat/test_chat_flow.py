"""Alert → incident channel, card, alerts-channel line, thread and in-place card updates."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from chat_support import alertmanager_payload
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.chat.models import OutboxMessage
from bot.chat.part import ChatPart
from bot.chat.signing import ButtonSigner
from bot.config import Settings
from bot.db import transaction
from bot.incidents import add_note, create_incident, get_incident, transition
from bot.models import Incident, TimelineEvent
from bot.runtime import Runtime
from bot.wiring import create_runtime
from tests.support.fake_slack import FakeSlack


def drain(runtime: Runtime) -> None:
    assert runtime.parts[ChatPart].worker.drain(20), "the outbox did not empty"


def incident_calls(fake: FakeSlack, channel: str) -> list[str]:
    return [c.method for c in fake.calls if c.args.get("channel") == channel or c.method == "conversations.create"]


def open_by_alert(api: TestClient, runtime: Runtime, **kwargs: Any) -> Incident:
    response = api.post("/alerts/alertmanager", json=alertmanager_payload("ChurnAUCDrop", **kwargs))
    assert response.status_code == 201, response.text
    drain(runtime)
    with transaction(runtime.sessions) as s:
        return s.scalars(select(Incident)).one()


def test_alert_opens_channel_with_topic_invites_pinned_card_and_alerts_line(
    api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    incident = open_by_alert(api, chat_runtime)
    channel, card_ts = incident.chat_channel_id, incident.chat_card_ts
    assert channel == "C00001" and card_ts

    create = fake_slack.calls_of("conversations.create")
    assert [c.args["name"] for c in create] == ["inc-1-churnaucdrop-on-churn-model"]
    assert incident_calls(fake_slack, channel) == [
        "conversations.create", "conversations.setTopic", "conversations.invite", "conversations.invite",
        "chat.postMessage", "pins.add", "chat.postMessage",
    ]
    assert [c.args["users"] for c in fake_slack.calls_of("conversations.invite")] == ["UALICE01", "UBOB0002"]
    topic = fake_slack.calls_of("conversations.setTopic")[0].args["topic"]
    assert topic.startswith("INC-1 · sev1 · triggered · churn-model")

    posts = fake_slack.calls_of("chat.postMessage")
    card = next(c for c in posts if c.args.get("blocks"))
    assert card.args["channel"] == channel and "thread_ts" not in card.args
    blocks = card.args["blocks"]
    assert blocks[0] == {
        "type": "section", "text": {"type": "mrkdwn", "text": ":rotating_light: *INC-1 · ChurnAUCDrop on churn-model*"}
    }
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in blocks[1]["fields"]}
    assert fields == {
        "*Severity*": "sev1", "*Status*": "triggered", "*Service*": "churn-model",
        "*Started*": "2026-11-27 04:00 UTC", "*Commander*": "_unassigned_", "*Alerts*": "1 firing, 0 resolved",
    }
    buttons = [b for block in blocks if block["type"] == "actions" for b in block["elements"]]
    assert [b["action_id"] for b in buttons] == ["inc_ack", "inc_diagnose"]
    signer = ButtonSigner(chat_runtime.settings.slack_signing_secret or "")
    assert [signer.verify(b["value"]).action for b in buttons] == ["ack", "diagnose"]
    assert fake_slack.calls_of("pins.add")[0].args == {"channel": channel, "timestamp": card_ts}

    alerts_line = [c for c in posts if c.args["channel"] == "ml-alerts"]
    assert len(alerts_line) == 1
    assert f"<#{channel}>" in alerts_line[0].args["text"] and "*INC-1*" in alerts_line[0].args["text"]

    fired = [c for c in posts if c.args.get("thread_ts") == card_ts]
    assert len(fired) == 1 and "alert fired: ChurnAUCDrop" in fired[0].args["text"]
    assert all(c.authorized for c in fake_slack.calls)


def test_second_alert_threads_under_the_card_and_state_change_updates_it_in_place(
    api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    incident = open_by_alert(api, chat_runtime)
    card_ts = incident.chat_card_ts
    before = len(fake_slack.calls)

    second = alertmanager_payload("ChurnLatencyHigh", group_key='{}:{alertname="ChurnAUCDrop"}')
    assert api.post("/alerts/alertmanager", json=second).status_code == 202
    drain(chat_runtime)
    new = fake_slack.calls[before:]
    assert "conversations.create" not in [c.method for c in new]
    threaded = [c for c in new if c.method == "chat.postMessage"]
    assert len(threaded) == 1 and threaded[0].args["thread_ts"] == card_ts
    assert "alert joined" in threaded[0].args["text"] and "ChurnLatencyHigh" in threaded[0].args["text"]
    updates = [c for c in new if c.method == "chat.update"]
    assert [u.args["ts"] for u in updates] == [card_ts]
    assert "*Alerts*\n2 firing, 0 resolved" in json.dumps(updates[0].args["blocks"], ensure_ascii=False).replace(
        "\\n", "\n")

    before = len(fake_slack.calls)
    with transaction(chat_runtime.sessions) as s:
        transition(s, get_incident(s, incident.id), "acknowledged", actor="slack:UALICE01")
    drain(chat_runtime)
    new = fake_slack.calls[before:]
    update = [c for c in new if c.method == "chat.update"]
    assert len(update) == 1 and update[0].args["ts"] == card_ts and update[0].args["channel"] == "C00001"
    card = update[0].args["blocks"]
    assert card[0]["text"]["text"].startswith(":eyes: *INC-1")
    assert {"type": "mrkdwn", "text": "*Status*\nacknowledged"} in card[1]["fields"]
    action_ids = [b["action_id"] for block in card if block["type"] == "actions" for b in block["elements"]]
    assert action_ids == ["inc_diagnose"]  # acknowledged: no Acknowledge button any more
    thread = [c for c in new if c.method == "chat.postMessage"]
    assert len(thread) == 1 and "triggered → acknowledged" in thread[0].args["text"]
    assert "<@UALICE01>" in thread[0].args["text"]
    assert len(fake_slack.calls_of("conversations.create")) == 1


def test_malicious_labels_and_annotations_are_inert(
    api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    evil = {"team": "<!channel>", "runbook": "<https://evil.example|click>", "owner": "<@UADMIN999> & co"}
    incident = open_by_alert(
        api, chat_runtime, labels=evil,
        annotations={"summary": "<!here> pwned <https://evil.example|click here>", "description": "<!everyone>"},
    )
    with transaction(chat_runtime.sessions) as s:
        add_note(s, get_incident(s, incident.id), "see <https://evil.example|the fix> <!channel>",
                 actor="slack:UBOB0002")
    drain(chat_runtime)
    raw = fake_slack.raw()
    for dangerous in ("<!channel>", "<!here>", "<!everyone>", "<https://evil", "<@UADMIN999>"):
        assert dangerous not in raw, dangerous
    assert "&lt;!channel&gt;" in raw and "&lt;https://evil.example|click&gt;" in raw
    assert "&lt;@UADMIN999&gt; &amp; co" in raw
    # the escaping is for Slack only: the store keeps what the alert said
    with transaction(chat_runtime.sessions) as s:
        assert get_incident(s, incident.id).alerts[0].labels["team"] == "<!channel>"


def test_taken_name_and_departed_responders_are_noted_and_the_flow_carries_on(
    slack_settings: Settings, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    fake_slack.taken_names.add("inc-1-feature-drift")
    fake_slack.unknown_users.add("UGONE0001")
    fake_slack.disabled_users.add("UOLD00002")
    no_runbooks = tmp_path / "no-runbooks"  # only the chat flow's own messages in the thread
    no_runbooks.mkdir()
    runtime = create_runtime(slack_settings.with_(slack_responders="UGONE0001,UALICE01,UOLD00002",
                                                  runbooks=str(no_runbooks)))
    runtime.start()
    try:
        with transaction(runtime.sessions) as s:
            create_incident(s, title="Feature drift", severity="sev2", service="ranker", source="test", actor="t")
        drain(runtime)
        assert [c.args["name"] for c in fake_slack.calls_of("conversations.create")] == ["inc-1-feature-drift-2"]
        assert [c.args["users"] for c in fake_slack.calls_of("conversations.invite")] == ["UALICE01"]
        with transaction(runtime.sessions) as s:
            incident = get_incident(s, 1)
            assert incident.chat_card_ts and incident.chat_channel_id == "C00001"
            notes = [e.message for e in incident.events if e.kind == "chat_error"]
        assert notes == [
            "channel name inc-1-feature-drift already taken; using inc-1-feature-drift-2",
            "chat: could not invite UGONE0001 (user_not_found)",
            "chat: could not invite UOLD00002 (user_disabled)",
        ]
        thread = [c.args["text"] for c in fake_slack.calls_of("chat.postMessage") if c.args.get("thread_ts")]
        assert len(thread) == 3 and "user_not_found" in thread[1]
        assert fake_slack.calls_of("pins.add")
    finally:
        runtime.close()


def test_archived_channel_is_noted_once_and_nothing_breaks(
    chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    with transaction(chat_runtime.sessions) as s:
        create_incident(s, title="Fraud score shift", severity="sev2", service="fraud", source="test", actor="t")
    drain(chat_runtime)
    fake_slack.archived.add("C00001")
    for n in range(3):
        with transaction(chat_runtime.sessions) as s:
            add_note(s, get_incident(s, 1), f"note {n}", actor="slack:UALICE01")
    with transaction(chat_runtime.sessions) as s:
        transition(s, get_incident(s, 1), "acknowledged", actor="slack:UALICE01")
    drain(chat_runtime)
    with transaction(chat_runtime.sessions) as s:
        incident = get_incident(s, 1)
        assert incident.status == "acknowledged"
        errors = [e for e in incident.events if e.kind == "chat_error"]
        notes = [e.message for e in incident.events if e.kind == "note"]
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.incident_id == 1)).all()
    assert notes == ["note 0", "note 1", "note 2"]
    assert len(errors) == 1 and "is_archived" in errors[0].message
    assert all(r.status in ("sent", "failed", "superseded") for r in rows)


def test_events_of_a_rolled_back_transaction_never_reach_the_chat(chat_runtime: Runtime) -> None:
    class Boom(Exception):
        pass

    try:
        with transaction(chat_runtime.sessions) as s:
            create_incident(s, title="never", severity="sev3", service="x", source="test", actor="t")
            raise Boom
    except Boom:
        pass
    with transaction(chat_runtime.sessions) as s:
        assert s.scalars(select(OutboxMessage)).all() == []
        assert s.scalars(select(TimelineEvent)).all() == []


def test_without_a_bot_token_the_console_renders_the_same_flow(settings: Settings) -> None:
    runtime = create_runtime(settings.with_(extra={"chat_outbox": {"poll_interval": 0.05, "base_delay": 0.05}},
                                            slack_responders="UALICE01"))
    out = io.StringIO()
    runtime.parts[ChatPart].port.stream = out
    runtime.start()
    try:
        with transaction(runtime.sessions) as s:
            create_incident(s, title="Churn AUC dropped", severity="sev2", service="churn", source="test", actor="t")
        with transaction(runtime.sessions) as s:
            add_note(s, get_incident(s, 1), "looking at the feature pipeline", actor="alice")
            transition(s, get_incident(s, 1), "acknowledged", actor="alice")
        drain(runtime)
        assert not hasattr(runtime.parts[ChatPart], "bolt_app")
    finally:
        runtime.close()
    text = out.getvalue()
    assert "[chat] #inc-1-churn-auc-dropped created for INC-1" in text
    assert "[chat #inc-1-churn-auc-dropped] invited UALICE01" in text
    assert "INC-1 · Churn AUC dropped" in text and "status acknowledged" in text
    assert "note (alice): looking at the feature pipeline" in text
    assert "[chat ml-alerts] INC-1 [sev2] Churn AUC dropped (churn) → #inc-1-churn-auc-dropped" in text
    assert "card updated: INC-1 · sev2 · acknowledged · commander unassigned" in text
    assert text.index("looking at the feature pipeline") < text.index("triggered → acknowledged")


def test_escalation_invites_and_broadcasts_and_mitigations_show_on_the_card(
    chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    from bot.incidents import log_event
    from bot.models import Mitigation

    with transaction(chat_runtime.sessions) as s:
        create_incident(s, title="Scores all zero", severity="sev1", service="fraud", source="test", actor="t")
    drain(chat_runtime)
    card_ts = fake_slack.calls_of("pins.add")[0].args["timestamp"]
    with transaction(chat_runtime.sessions) as s:
        incident = get_incident(s, 1)
        log_event(s, incident, "escalation", "escalated to the ML platform on-call", actor="runbook",
                  data={"who": ["UPLAT0001", "UALICE01", "<!channel>"], "message": "fraud scores are zero"})
        m = Mitigation(incident_id=1, idempotency_key="1:x", action="naive_model", target="fraud-model",
                       status="verified", approval="auto", plan={})
        s.add(m)
        s.flush()
        log_event(s, incident, "mitigation_executed", "swapped fraud-model to the naive model", actor="runbook",
                  data={"mitigation_id": m.id})
    drain(chat_runtime)
    invites = [c.args["users"] for c in fake_slack.calls_of("conversations.invite")]
    assert invites[-1] == "UPLAT0001" and "<!channel>" not in invites
    # UALICE01 was already a member (a responder): not an error worth a note
    with transaction(chat_runtime.sessions) as s:
        assert [e for e in get_incident(s, 1).events if e.kind == "chat_error"] == []
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.op == "invite")).all()
        assert {r.status for r in rows} == {"sent"}
    escalation = next(c.args for c in fake_slack.calls_of("chat.postMessage") if ":sos:" in c.args["text"])
    assert escalation["thread_ts"] == card_ts and escalation["reply_broadcast"] is True
    assert escalation["text"].startswith(
        ":sos: *Escalation* <@UPLAT0001> <@UALICE01> &lt;!channel&gt;: fraud scores are zero")
    card = fake_slack.calls_of("chat.update")[-1].args["blocks"]
    assert any(b.get("text", {}).get("text", "") == "*Mitigations*\n#1 naive_model on `fraud-model`: *verified*"
               for b in card)


def test_purge_keeps_pending_rows_and_drops_old_delivered_ones(chat_runtime: Runtime) -> None:
    from datetime import timedelta

    with transaction(chat_runtime.sessions) as s:
        create_incident(s, title="x", severity="sev3", service="x", source="test", actor="t")
    drain(chat_runtime)
    worker = chat_runtime.parts[ChatPart].worker
    assert worker.purge() == 0  # nothing is a week old
    with transaction(chat_runtime.sessions) as s:
        s.add(OutboxMessage(key="k", op="text", payload={"channel": "C1", "text": "later"}, status="pending"))
    worker.stop()
    assert worker.purge(older_than=timedelta(seconds=-1)) > 0
    with transaction(chat_runtime.sessions) as s:
        assert [r.status for r in s.scalars(select(OutboxMessage))] == ["pending"]


def test_card_of_a_large_incident_counts_every_alert_and_lists_the_first_five(
    api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    """A storm grows an incident by hundreds of alerts: the card reads the first five and counts the
    rest in the store (it no longer loads every alert), and still shows the last state."""
    from bot.chat.views import build_view

    incident = open_by_alert(api, chat_runtime)
    group = '{}:{alertname="ChurnAUCDrop"}'
    for i in range(8):
        body = alertmanager_payload(f"ChurnStorm{i}", group_key=group)
        assert api.post("/alerts/alertmanager", json=body).status_code == 202
    for i in (2, 5):
        body = alertmanager_payload(f"ChurnStorm{i}", group_key=group, status="resolved")
        assert api.post("/alerts/alertmanager", json=body).status_code == 202
    before = len(fake_slack.calls)
    with transaction(chat_runtime.sessions) as s:
        transition(s, get_incident(s, incident.id), "acknowledged", actor="slack:UALICE01")
    drain(chat_runtime)
    card = json.dumps([c.args["blocks"] for c in fake_slack.calls[before:] if c.method == "chat.update"][-1],
                      ensure_ascii=False).replace("\\n", "\n")
    assert "*Alerts*\n7 firing, 2 resolved" in card
    assert "…and 4 more" in card
    listed = [name for name in ["ChurnAUCDrop", *(f"ChurnStorm{i}" for i in range(8))] if f"{name} on churn" in card]
    assert listed == ["ChurnAUCDrop", "ChurnStorm0", "ChurnStorm1", "ChurnStorm2", "ChurnStorm3"]
    with transaction(chat_runtime.sessions) as s:
        view = build_view(s, get_incident(s, incident.id))
    assert len(view.alerts) == 5 and (view.alerts_total, view.alerts_firing) == (9, 7)
