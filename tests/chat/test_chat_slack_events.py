"""Signed requests to POST /slack/events: every /incident subcommand, the card's buttons, refusals."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from chat_support import button_body, post_signed, slash_body
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.chat.models import OutboxMessage
from bot.chat.part import ChatPart
from bot.chat.signing import ButtonSigner
from bot.db import transaction
from bot.incidents import create_incident, get_incident, log_event
from bot.models import AuditRecord, Incident, Mitigation, TimelineEvent
from bot.runtime import Runtime
from tests.support.fake_slack import FakeSlack


def drain(runtime: Runtime) -> None:
    assert runtime.parts[ChatPart].worker.drain(20)


def command(api: TestClient, text: str, **kwargs: Any) -> dict[str, Any]:
    response = post_signed(api, slash_body(text, **kwargs))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def open_incident(runtime: Runtime, title: str = "Churn AUC dropped") -> tuple[int, str]:
    with transaction(runtime.sessions) as s:
        incident = create_incident(s, title=title, severity="sev2", service="churn", source="test", actor="t")
        number = incident.id
    drain(runtime)
    with transaction(runtime.sessions) as s:
        channel = get_incident(s, number).chat_channel_id
    assert channel
    return number, channel


def incident(runtime: Runtime, number: int = 1) -> Incident:
    with transaction(runtime.sessions) as s:
        found = get_incident(s, number)
        _ = found.events, found.alerts
        return found


def counts(runtime: Runtime) -> tuple[int, int, int]:
    with transaction(runtime.sessions) as s:
        return (
            s.scalar(select(func.count(Incident.id))) or 0,
            s.scalar(select(func.count(TimelineEvent.id))) or 0,
            s.scalar(select(func.count(OutboxMessage.id))) or 0,
        )


# -- request verification ---------------------------------------------------------------------
def test_wrong_signature_and_stale_timestamp_get_401_and_change_nothing(api: TestClient, chat_runtime: Runtime) -> None:
    open_incident(chat_runtime)
    before = counts(chat_runtime)
    body = slash_body("declare sev1 forged incident")
    assert post_signed(api, body, secret="not-the-secret").status_code == 401
    assert post_signed(api, body, timestamp=int(time.time()) - 6 * 60).status_code == 401
    tampered = api.post("/slack/events", content=body.replace("forged", "tampered").encode(),
                        headers=__import__("chat_support").sign(body))
    assert tampered.status_code == 401
    assert api.post("/slack/events", content=body.encode(),
                    headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 401
    assert counts(chat_runtime) == before
    # and a correctly signed one goes through
    assert command(api, "list")["response_type"] == "ephemeral"


# -- slash commands ---------------------------------------------------------------------------------
def test_help_and_unknown_or_malformed_subcommands_answer_with_usage(api: TestClient, chat_runtime: Runtime) -> None:
    for text in ("", "help"):
        reply = command(api, text)
        assert reply["response_type"] == "ephemeral" and "`declare [SERVICE] [sev1..sev4] <title>`" in reply["text"]
    reply = command(api, "frobnicate <!channel>")
    assert reply["text"].startswith("Unknown subcommand `frobnicate`") and "`list`" in reply["text"]
    number, channel = open_incident(chat_runtime)
    for text, expected in [
        ("severity sev9", "unknown severity"),
        ("severity", "`severity` needs one of"),
        ("mitigate reboot", "`mitigate` needs one of rollback, naive_model"),
        ("assign", "`assign` needs exactly one person"),
        ("note", "`note` needs some text"),
        ("ack now please", "`ack` takes no arguments"),
        ("declare", "`declare` needs a title"),
        ("ack INC-1 INC-2", "Name one incident at a time."),
    ]:
        reply = command(api, text, channel=channel)
        assert expected in reply["text"], (text, reply["text"])
        assert reply["response_type"] == "ephemeral"
    reply = command(api, "ack")  # not in an incident channel, no incident named
    assert "Which incident?" in reply["text"]
    reply = command(api, "ack INC-99")
    assert "no incident INC-99" in reply["text"]
    assert incident(chat_runtime, number).status == "triggered"


def test_declare_opens_an_incident_from_slack_with_its_channel(
    api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    reply = command(api, "declare sev2 Recommendations are <!channel> empty", user="UBOB0002")
    assert reply["response_type"] == "in_channel"
    assert "declared *INC-1* [sev2]" in reply["text"] and "&lt;!channel&gt;" in reply["text"]
    drain(chat_runtime)
    found = incident(chat_runtime)
    assert (found.source, found.severity, found.title) == ("slack", "sev2", "Recommendations are <!channel> empty")
    assert found.events[0].actor == "slack:UBOB0002"
    assert [c.args["name"] for c in fake_slack.calls_of("conversations.create")] == [
        "inc-1-recommendations-are-channel-empty"
    ]


def test_declare_with_a_catalog_service_makes_the_incident_diagnosable(
    api: TestClient, chat_runtime: Runtime, tmp_path: Path
) -> None:
    import csv

    from bot.catalog import load_catalog
    from runbooks.service import run_diagnosis

    log = tmp_path / "predictions.csv"
    start = time.time() - 7200
    with log.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "model_version", "prediction", "label", "x1"])
        for i in range(2000):  # version 2 from the middle on, and wrong half of the time
            late = i >= 1000
            w.writerow([start + i * 3.6, "2" if late else "1", i % 2, (i % 2) if not late or i % 4 else 1 - i % 2,
                        (i * 7919) % 100 / 100])
    (tmp_path / "catalog.yaml").write_text(f"services:\n  - name: fraud-scorer\n    prediction_log: {log}\n")
    chat_runtime.catalog = load_catalog(tmp_path / "catalog.yaml")
    reply = command(api, "declare fraud-scorer sev1 precision dropped", user="UBOB0002")
    assert "declared *INC-1* [sev1] on *fraud-scorer*: precision dropped" in reply["text"]
    found = incident(chat_runtime)
    assert (found.service, found.catalog_service, found.severity, found.title) == \
        ("fraud-scorer", "fraud-scorer", "sev1", "precision dropped")
    diagnosis = run_diagnosis(chat_runtime, found.id, "slack:UBOB0002")
    assert diagnosis["cause"] == "model" and diagnosis["culprit"] == {"kind": "model_version", "name": "2"}
    # Without a service (the old form), the reply says how to make it diagnosable.
    reply = command(api, "declare sev2 something odd", user="UBOB0002")
    assert "declared *INC-2* [sev2]: something odd" in reply["text"]
    assert "declare with one of fraud-scorer first" in reply["text"]
    assert incident(chat_runtime, 2).catalog_service is None


def test_quick_commands_in_the_incident_channel_and_by_name_elsewhere(
    api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    number, channel = open_incident(chat_runtime)
    card_ts = incident(chat_runtime).chat_card_ts

    assert command(api, "ack", channel=channel)["text"] == "INC-1 is now acknowledged."
    assert command(api, "assign <@UBOB0002|bob>", channel=channel)["text"] == (
        "INC-1: incident commander is now <@UBOB0002>.")
    assert command(api, "severity sev1", channel=channel)["text"] == "INC-1 is now sev1."
    assert command(api, "note rolled back the <https://evil|flag> & waited", channel=channel)["text"] == (
        "Noted on INC-1's timeline.")
    status = command(api, "status", channel=channel)["text"]
    assert "*INC-1* [sev1] *acknowledged*" in status and "commander <@UBOB0002>" in status
    listing = command(api, "list")["text"]
    assert "*INC-1* [sev1] acknowledged: Churn AUC dropped (churn) <#C00001>" in listing
    assert command(api, "resolve INC-1", channel="CGENERAL1")["text"] == "INC-1 is now resolved."
    assert "no open incidents" in command(api, "list")["text"].lower()

    found = incident(chat_runtime, number)
    assert (found.status, found.severity, found.commander) == ("resolved", "sev1", "slack:UBOB0002")
    # (resolving also drafts a postmortem, a later event of another part)
    kinds = [(e.kind, e.actor) for e in found.events if e.kind != "postmortem_drafted"]
    assert kinds == [
        ("incident_opened", "t"), ("status_changed", "slack:UALICE01"), ("commander_assigned", "slack:UALICE01"),
        ("severity_changed", "slack:UALICE01"), ("note", "slack:UALICE01"), ("status_changed", "slack:UALICE01"),
    ]
    drain(chat_runtime)
    updates = fake_slack.calls_of("chat.update")
    assert updates and {u.args["ts"] for u in updates} == {card_ts}
    final = updates[-1].args["blocks"]
    assert final[0]["text"]["text"].startswith(":white_check_mark: *INC-1")
    assert not [b for b in final if b["type"] == "actions"]  # resolved: no buttons
    thread = [c.args["text"] for c in fake_slack.calls_of("chat.postMessage") if c.args.get("thread_ts") == card_ts]
    assert any("rolled back the &lt;https://evil|flag&gt; &amp; waited" in t for t in thread)
    assert any(":technologist: incident commander: <@UBOB0002>" in t for t in thread)
    alerts = [c.args["text"] for c in fake_slack.calls_of("chat.postMessage") if c.args["channel"] == "ml-alerts"]
    assert len(alerts) == 2 and alerts[1].startswith(":white_check_mark: *INC-1* *resolved* [sev1]")


def test_illegal_transition_is_explained_not_raised(api: TestClient, chat_runtime: Runtime) -> None:
    _, channel = open_incident(chat_runtime)
    command(api, "resolve", channel=channel)
    reply = command(api, "ack", channel=channel)
    assert reply["text"].startswith(":warning: INC-1 is resolved; it cannot move to acknowledged")


# -- buttons --------------------------------------------------------------------------------------------------
def card_buttons(fake: FakeSlack) -> dict[str, str]:
    latest = ([c for c in fake.calls_of("chat.update")] or [c for c in fake.calls_of("chat.postMessage")
                                                              if c.args.get("blocks")])[-1]
    return {b["action_id"]: b["value"] for block in latest.args["blocks"] if block["type"] == "actions"
            for b in block["elements"]}


def propose(runtime: Runtime, number: int) -> int:
    """A proposed mitigation as the runbook engine records it (its own tests cover proposing)."""
    with transaction(runtime.sessions) as s:
        found = get_incident(s, number)
        m = Mitigation(incident_id=number, idempotency_key=f"{number}:test", action="rollback",
                       target="churn-model", status="proposed", approval="required",
                       plan={"summary": "roll churn-model back from v8 to v7"})
        s.add(m)
        s.flush()
        log_event(s, found, "mitigation_proposed", "proposed rollback of churn-model",
                  data={"mitigation_id": m.id, "action": "rollback", "target": "churn-model", "plan": m.plan})
        mid = m.id
    drain(runtime)
    return mid


def test_ack_button_acknowledges(api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack) -> None:
    _, channel = open_incident(chat_runtime)
    value = card_buttons(fake_slack)["inc_ack"]
    response = post_signed(api, button_body("inc_ack", value, user="UBOB0002", channel=channel))
    assert response.status_code == 200
    fake_slack.wait_for(lambda: bool(fake_slack.calls_of("chat.postEphemeral")))
    assert incident(chat_runtime).status == "acknowledged"
    assert fake_slack.calls_of("chat.postEphemeral")[0].args == {
        "channel": channel, "user": "UBOB0002", "text": "INC-1 acknowledged."}


def test_card_shows_approve_and_reject_and_refuses_outsiders_with_an_audit(
    api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    number, channel = open_incident(chat_runtime)
    mid = propose(chat_runtime, number)
    buttons = card_buttons(fake_slack)
    assert set(buttons) == {f"mit_approve:{mid}", f"mit_reject:{mid}", "inc_ack", "inc_diagnose"}
    update = fake_slack.calls_of("chat.update")[-1].args["blocks"]
    assert any(f"*Proposed mitigation #{mid}:* rollback" in b.get("text", {}).get("text", "") for b in update)

    for action_id in (f"mit_approve:{mid}", f"mit_reject:{mid}"):
        response = post_signed(api, button_body(action_id, buttons[action_id], user="UMALLORY1", channel=channel))
        assert response.status_code == 200
    fake_slack.wait_for(lambda: len(fake_slack.calls_of("chat.postEphemeral")) == 2)
    texts = [c.args["text"] for c in fake_slack.calls_of("chat.postEphemeral")]
    assert all("You are not allowed to" in t for t in texts)
    assert {c.args["user"] for c in fake_slack.calls_of("chat.postEphemeral")} == {"UMALLORY1"}
    with transaction(chat_runtime.sessions) as s:
        # (each Slack request is also recorded once, as "slack.request", to refuse its replays)
        audits = s.scalars(select(AuditRecord).where(AuditRecord.action != "slack.request")
                           .order_by(AuditRecord.id)).all()
        status = s.get(Mitigation, mid).status  # type: ignore[union-attr]
        # Bolt handles the two presses on its thread pool after acknowledging each: in either order.
        assert sorted((a.actor, a.action, a.subject, a.outcome, a.incident_id) for a in audits) == [
            ("slack:UMALLORY1", "mitigation_approve", f"mitigation:{mid}", "refused", number),
            ("slack:UMALLORY1", "mitigation_reject", f"mitigation:{mid}", "refused", number),
        ]
    assert status == "proposed"


def test_forged_or_altered_button_values_are_refused(
    api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    number, channel = open_incident(chat_runtime)
    mid = propose(chat_runtime, number)
    genuine = card_buttons(fake_slack)[f"mit_reject:{mid}"]
    altered = genuine.replace("reject:", "approve:", 1)
    other_key = ButtonSigner("someone-elses-secret").sign("approve", number, mid)
    for value in (altered, other_key, "approve:1:1", ""):
        response = post_signed(api, button_body(f"mit_approve:{mid}", value, user="UALICE01", channel=channel))
        assert response.status_code == 200
    fake_slack.wait_for(lambda: len(fake_slack.calls_of("chat.postEphemeral")) == 4)
    assert all("not valid" in c.args["text"] for c in fake_slack.calls_of("chat.postEphemeral"))
    with transaction(chat_runtime.sessions) as s:
        audits = s.scalars(select(AuditRecord).where(AuditRecord.action != "slack.request")).all()
        assert [(a.action, a.outcome) for a in audits] == [("button", "refused")] * 4
        assert s.get(Mitigation, mid).status == "proposed"  # type: ignore[union-attr]


# -- events ------------------------------------------------------------------------------------------
def test_url_verification_and_app_mention(api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack) -> None:
    import json

    from chat_support import sign

    challenge = json.dumps({"type": "url_verification", "token": "legacy", "challenge": "c-123"})
    headers = sign(challenge) | {"Content-Type": "application/json"}
    response = api.post("/slack/events", content=challenge.encode(), headers=headers)
    assert response.status_code == 200 and response.json() == {"challenge": "c-123"}

    mention = json.dumps({
        "type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event_id": "Ev1", "event_time": 1,
        "event": {"type": "app_mention", "user": "UBOB0002", "channel": "CGENERAL1", "text": "<@UBOT> help",
                  "ts": "1700000000.000100"},
    })
    headers = sign(mention) | {"Content-Type": "application/json"}
    assert api.post("/slack/events", content=mention.encode(), headers=headers).status_code == 200
    fake_slack.wait_for(lambda: bool(fake_slack.calls_of("chat.postEphemeral")))
    sent = fake_slack.calls_of("chat.postEphemeral")[0].args
    assert (sent["channel"], sent["user"]) == ("CGENERAL1", "UBOB0002") and "`declare" in sent["text"]
