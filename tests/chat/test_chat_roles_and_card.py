"""Roles, the card's alert lines and links, the topic, severity no-ops and entity-safe clipping."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chat_support import alertmanager_payload, post_signed, slash_body
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.chat import blocks
from bot.chat.part import ChatPart
from bot.chat.views import TimelineLine
from bot.db import transaction
from bot.incidents import create_incident, get_incident, log_event
from bot.models import Incident, Mitigation, TimelineEvent
from bot.runtime import Runtime
from tests.support.fake_slack import FakeSlack


def drain(runtime: Runtime) -> None:
    assert runtime.parts[ChatPart].worker.drain(20), "the outbox did not empty"


def command(api: TestClient, text: str, **kwargs: Any) -> dict[str, Any]:
    response = post_signed(api, slash_body(text, **kwargs))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def open_incident(runtime: Runtime, severity: str = "sev2") -> str:
    with transaction(runtime.sessions) as s:
        create_incident(s, title="Churn AUC dropped", severity=severity, service="churn", source="test", actor="t")
    drain(runtime)
    with transaction(runtime.sessions) as s:
        channel = get_incident(s, 1).chat_channel_id
    assert channel
    return channel


def card_text(fake: FakeSlack) -> str:
    latest = fake.calls_of("chat.update")[-1].args["blocks"]
    return "\n".join(b.get("text", {}).get("text", "") for b in latest if b["type"] == "section")


def test_roles_are_given_invited_shown_on_the_card_and_named_in_the_thread(
    api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    channel = open_incident(chat_runtime)
    before = len(fake_slack.calls)
    assert command(api, "role comms <@UCAROL01|carol>", channel=channel)["text"] == (
        "INC-1: communications lead is now <@UCAROL01>.")
    assert command(api, "role scribe me", channel=channel, user="UBOB0002")["text"] == (
        "INC-1: scribe is now <@UBOB0002>.")
    assert command(api, "role ops <@UDAVE001>", channel=channel)["text"] == "INC-1: operations lead is now <@UDAVE001>."
    # a commander who is not a configured responder joins the channel too
    assert command(api, "role commander <@UERIN001>", channel=channel)["text"] == (
        "INC-1: incident commander is now <@UERIN001>.")
    drain(chat_runtime)
    new = fake_slack.calls[before:]
    assert [c.args["users"] for c in new if c.method == "conversations.invite"] == ["UCAROL01", "UDAVE001", "UERIN001"]
    # UBOB0002 is a configured responder, already in the channel: tried, Slack says already_in_channel, no note
    assert "UBOB0002" in [c.args["users"] for c in fake_slack.attempts[before:] if c.method == "conversations.invite"]
    thread = [c.args["text"] for c in new if c.method == "chat.postMessage"]
    assert thread[0].startswith(":technologist: communications lead: <@UCAROL01>\n_<@UALICE01> · ")
    assert thread[1].startswith(":technologist: scribe: <@UBOB0002>\n_<@UBOB0002> · ")
    assert thread[3].startswith(":technologist: incident commander: <@UERIN001>")
    card = fake_slack.calls_of("chat.update")[-1].args["blocks"]
    assert {"type": "mrkdwn", "text": "*Commander*\n<@UERIN001>"} in card[1]["fields"]
    assert card[2] == {"type": "section", "text": {"type": "mrkdwn", "text": (
        "*Communications lead* <@UCAROL01> · *Scribe* <@UBOB0002> · *Operations lead* <@UDAVE001>")}}
    assert "unknown role 'chef'" in command(api, "role chef @x", channel=channel)["text"]
    assert "`role` needs a role" in command(api, "role comms", channel=channel)["text"]
    with transaction(chat_runtime.sessions) as s:
        assert [e for e in get_incident(s, 1).events if e.kind == "chat_error"] == []


def test_timeline_entries_name_the_person_not_a_role_word(chat_runtime: Runtime, fake_slack: FakeSlack) -> None:
    open_incident(chat_runtime)
    with transaction(chat_runtime.sessions) as s:
        incident = get_incident(s, 1)
        m = Mitigation(incident_id=1, idempotency_key="1:t", action="rollback", target="churn-model",
                       status="approved", approved_by="slack:UALICE01", plan={"summary": "v8 → v7"})
        s.add(m)
        s.flush()
        log_event(s, incident, "mitigation_approved", f"mitigation {m.id} (rollback churn-model) approved by "
                  "slack:UALICE01", actor="slack:UALICE01", data={"mitigation_id": m.id})
        log_event(s, incident, "mitigation_executed", f"mitigation {m.id} executed: v8 → v7",
                  actor="slack:UALICE01", data={"mitigation_id": m.id, "approved_by": "slack:UALICE01"})
        # free text naming an id is not turned into a mention
        log_event(s, incident, "note", "ask slack:UMALLORY1", actor="slack:UBOB0002")
    drain(chat_runtime)
    thread = [c.args["text"] for c in fake_slack.calls_of("chat.postMessage") if c.args.get("thread_ts")]
    assert ":white_check_mark: mitigation 1 (rollback churn-model) approved by <@UALICE01>\n_<@UALICE01> · " in (
        "\n".join(thread))
    assert any(t.startswith(":gear: mitigation 1 executed: v8 → v7\n_<@UALICE01> · ") for t in thread)
    assert any(t.startswith(":memo: ask slack:UMALLORY1\n_<@UBOB0002>") for t in thread)


def test_card_shows_each_alert_once_with_its_description_and_links(
    api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    payload = alertmanager_payload(
        "AccuracyLow", annotations={
            "summary": "Accuracy below 0.80 for 5m",
            "description": "accuracy 0.71 on the last 10k labelled predictions",
            "runbook_url": "https://wiki.example/runbooks/accuracy",
            "dashboardURL": "javascript:alert(1)",
        })
    assert api.post("/alerts/alertmanager", json=payload).status_code == 201
    drain(chat_runtime)
    card = next(c for c in fake_slack.calls_of("chat.postMessage") if c.args.get("blocks")).args["blocks"]
    alert = next(b["text"]["text"] for b in card if b.get("text", {}).get("text", "").startswith(":fire:"))
    lines = alert.split("\n")
    assert lines[0] == ":fire: Accuracy below 0.80 for 5m"  # the title is the summary: said once
    assert lines[1].strip() == "accuracy 0.71 on the last 10k labelled predictions"
    assert lines[2].strip() == (
        "<https://wiki.example/runbooks/accuracy|runbook> · <http://prometheus.local/graph|source> · "
        "dashboard: javascript:alert(1)")
    assert alert.count("Accuracy below 0.80") == 1


def test_severity_change_refreshes_the_topic_and_a_no_op_is_refused(
    api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    channel = open_incident(chat_runtime, severity="sev2")
    assert command(api, "severity high", channel=channel)["text"] == ":warning: INC-1 is already sev2"
    assert command(api, "severity sev1", channel=channel)["text"] == "INC-1 is now sev1."
    drain(chat_runtime)
    topics = [c.args["topic"] for c in fake_slack.calls_of("conversations.setTopic")]
    assert topics[0].startswith("INC-1 · sev2 · triggered") and topics[-1].startswith("INC-1 · sev1 · triggered")
    with transaction(chat_runtime.sessions) as s:
        changes = s.scalars(select(TimelineEvent).where(TimelineEvent.kind == "severity_changed")).all()
        assert [e.message for e in changes] == ["severity sev2 → sev1"]


def test_clipping_never_cuts_an_escaped_entity_or_a_mention() -> None:
    escaped = blocks.escape("<@U01ALICE>" * 3)
    for limit in range(2, len(escaped)):
        clipped = blocks.clip(escaped, limit)
        assert len(clipped) <= limit
        body = clipped.rstrip("…")
        assert blocks.escape(body.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")) == body, clipped
    built = "see <@UALICE01> and <https://wiki.example/x|runbook>"
    for limit in range(5, len(built)):
        body = blocks.clip(built, limit).rstrip("…")
        assert body.count("<") == body.count(">"), body
    line = TimelineLine(1, "note", "slack:UALICE01", "&" * 3000, datetime(2026, 11, 27, tzinfo=UTC))
    body = blocks.timeline_text(line).split("\n")[0]
    assert body.endswith("&amp;…") and len(body) <= 2500 + len(":memo: ")


def test_private_incident_gets_a_private_channel_and_stays_out_of_the_alerts_channel(
    api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    reply = command(api, "declare private sev2 Fraud model leaked scores", user="UBOB0002")
    assert reply["response_type"] == "ephemeral" and "private incident" in reply["text"]
    command(api, "resolve INC-1")
    drain(chat_runtime)
    create = fake_slack.calls_of("conversations.create")[0].args
    assert create["is_private"] in (True, "true", "1") and "C00001" in fake_slack.private_channels
    assert [c for c in fake_slack.calls if c.args.get("channel") == "ml-alerts"] == []
    with transaction(chat_runtime.sessions) as s:
        incident = s.scalars(select(Incident)).one()
        assert incident.labels == {"private": "true"} and incident.status == "resolved"
    assert json.dumps(fake_slack.calls_of("conversations.setTopic")[0].args).count("Fraud model") == 1


def test_an_alert_labelled_private_opens_a_private_incident(
    api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    payload = alertmanager_payload("FraudScoresLeak", labels={"private": "true"})
    assert api.post("/alerts/alertmanager", json=payload).status_code == 201
    drain(chat_runtime)
    assert fake_slack.calls_of("conversations.create")[0].args["is_private"] in (True, "true", "1")
    assert [c for c in fake_slack.calls if c.args.get("channel") == "ml-alerts"] == []
    assert fake_slack.calls_of("pins.add")  # the rest of the flow is the same
