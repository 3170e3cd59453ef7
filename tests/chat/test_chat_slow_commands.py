"""Slow commands run after the acknowledgement and post their result through the timeline."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from chat_support import button_body, post_signed, slash_body
from fastapi.testclient import TestClient

from bot.chat.part import ChatPart
from bot.db import transaction
from bot.incidents import create_incident, get_incident
from bot.runtime import Runtime
from tests.support.fake_slack import FakeSlack

HAS_RUNBOOKS = importlib.util.find_spec("runbooks.service") is not None


def open_incident(runtime: Runtime) -> str:
    with transaction(runtime.sessions) as s:
        create_incident(s, title="Churn AUC dropped", severity="sev2", service="churn", source="test", actor="t")
    assert runtime.parts[ChatPart].worker.drain(20)
    with transaction(runtime.sessions) as s:
        channel = get_incident(s, 1).chat_channel_id
    assert channel
    return channel


def command(api: TestClient, text: str, channel: str, response_url: str = "") -> dict[str, Any]:
    response = post_signed(api, slash_body(text, channel=channel, response_url=response_url))
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_postmortem_is_drafted_after_the_ack_and_lands_in_the_thread(
    full_api: TestClient, full_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    channel = open_incident(full_runtime)
    reply = command(full_api, "postmortem", channel)
    assert reply == {"text": ":page_facing_up: Drafting the postmortem of INC-1.", "response_type": "ephemeral"}

    def drafted() -> bool:
        return any(":page_facing_up:" in c.args.get("text", "") and c.args.get("thread_ts")
                   for c in fake_slack.calls_of("chat.postMessage"))

    fake_slack.wait_for(drafted, timeout=60)
    fake_slack.wait_for(lambda: bool(fake_slack.calls_of("files.completeUploadExternal")), timeout=30)
    message = next(c.args["text"] for c in fake_slack.calls_of("chat.postMessage")
                   if ":page_facing_up:" in c.args.get("text", ""))
    with transaction(full_runtime.sessions) as s:
        incident = get_incident(s, 1)
        assert [e.actor for e in incident.events if e.kind == "postmortem_drafted"] == ["slack:UALICE01"]
        path, card_ts = incident.postmortem_path, incident.chat_card_ts
    assert path and card_ts
    # the summary in the thread, the file uploaded: never a path on the server's disk
    assert "```" in message and "attached below" in message and path not in message and "/" not in message.split(
        "```")[0]
    tickets = fake_slack.calls_of("files.getUploadURLExternal")
    assert [(t.args["filename"], int(t.args["length"])) for t in tickets] == [
        ("INC-1-postmortem.md", len(Path(path).read_bytes()))]
    complete = fake_slack.calls_of("files.completeUploadExternal")[0].args
    assert complete["channel_id"] == channel and complete["thread_ts"] == card_ts
    file_id = complete["files"][0]["id"]
    assert complete["files"] == [{"id": file_id, "title": "Postmortem draft"}]
    assert Path(path).read_bytes() in fake_slack.uploads[file_id]  # the bytes went to the upload URL
    assert complete["initial_comment"] == "Postmortem draft of INC-1 (0 figure(s))"


def ephemerals(fake: FakeSlack) -> list[str]:
    return [c.args["text"] for c in fake.calls_of("chat.postEphemeral")]


@pytest.mark.skipif(not HAS_RUNBOOKS, reason="the runbook domain is not in this tree yet")
def test_diagnose_command_and_button_run_the_runbook_engine_after_the_ack(
    full_api: TestClient, full_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    channel = open_incident(full_runtime)
    assert command(full_api, "diagnose", channel) == {
        "text": ":mag: Running the diagnosis of INC-1; the result will appear on the card and in the thread.",
        "response_type": "ephemeral",
    }
    diag_value = next(
        b["value"] for c in fake_slack.calls_of("chat.postMessage") if c.args.get("blocks")
        for block in c.args["blocks"] if block["type"] == "actions" for b in block["elements"]
        if b["action_id"] == "inc_diagnose"
    )
    assert post_signed(full_api, button_body("inc_diagnose", diag_value, user="UBOB0002", channel=channel)
                       ).status_code == 200
    # This hand-made incident's service is not in the catalog: nothing to read, and it says so, privately.
    fake_slack.wait_for(lambda: len(ephemerals(fake_slack)) == 3, timeout=60)
    texts = ephemerals(fake_slack)
    assert ":mag: Running the diagnosis of INC-1." in texts
    failures = [t for t in texts if t.startswith(":warning: diagnosis failed: INC-1: service 'churn' is not in the "
                                                 "service catalog")]
    assert len(failures) == 2


@pytest.mark.skipif(not HAS_RUNBOOKS, reason="the runbook domain is not in this tree yet")
def test_mitigate_command_reaches_the_runbook_engine(
    full_api: TestClient, full_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    channel = open_incident(full_runtime)
    response_url = fake_slack.url.replace("/api/", "/commands/T1/42/abc")
    assert command(full_api, "mitigate rollback", channel, response_url=response_url)["text"] == (
        ":bulb: Proposing `rollback` for INC-1; approve it on the card.")
    # This runtime has no model registry configured: the engine refuses, the caller is told why,
    # through the command's response_url (which also works where the bot is not a member).
    fake_slack.wait_for(lambda: bool(fake_slack.calls_of("response_url/commands/T1/42/abc")), timeout=60)
    answer = fake_slack.calls_of("response_url/commands/T1/42/abc")[0].args
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert answer["text"].startswith(":warning: mitigate rollback failed: ")
    # a response_url on another host is never called: the answer goes by chat.postEphemeral instead
    assert command(full_api, "mitigate naive_model", channel, response_url="https://evil.example/x")
    fake_slack.wait_for(lambda: bool(ephemerals(fake_slack)), timeout=60)
    assert ephemerals(fake_slack)[0].startswith(":warning: mitigate naive_model failed: ")


@pytest.mark.skipif(not HAS_RUNBOOKS, reason="the runbook domain is not in this tree yet")
def test_approval_by_a_user_group_member_runs_the_mitigation_through_the_engine(
    full_api: TestClient, full_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    from sqlalchemy import select

    from bot.incidents import log_event
    from bot.models import AuditRecord, Mitigation

    channel = open_incident(full_runtime)
    with transaction(full_runtime.sessions) as s:
        m = Mitigation(incident_id=1, idempotency_key="1:chat-test", action="rollback", target="churn-model",
                       status="proposed", approval="required", plan={"summary": "roll churn-model back"})
        s.add(m)
        s.flush()
        log_event(s, get_incident(s, 1), "mitigation_proposed", "rollback proposed",
                  data={"mitigation_id": m.id, "action": "rollback", "target": "churn-model", "plan": m.plan})
        mid = m.id
    assert full_runtime.parts[ChatPart].worker.drain(20)
    fake_slack.groups["SONCALL01"] = ["UCAROL003"]
    card = fake_slack.calls_of("chat.update")[-1].args["blocks"]
    value = next(b["value"] for block in card if block["type"] == "actions" for b in block["elements"]
                 if b["action_id"] == f"mit_approve:{mid}")
    assert post_signed(full_api, button_body(f"mit_approve:{mid}", value, user="UCAROL003", channel=channel)
                       ).status_code == 200

    def decided() -> bool:
        with transaction(full_runtime.sessions) as s:
            return s.get(Mitigation, mid).status != "proposed"  # type: ignore[union-attr]

    fake_slack.wait_for(decided, timeout=60)
    assert [c.args["usergroup"] for c in fake_slack.calls_of("usergroups.users.list")] == ["SONCALL01"]
    with transaction(full_runtime.sessions) as s:
        mitigation = s.get(Mitigation, mid)
        assert mitigation is not None and mitigation.approved_by == "slack:UCAROL003"
        refused = s.scalars(select(AuditRecord).where(AuditRecord.outcome == "refused")).all()
        assert refused == []
    assert full_runtime.parts[ChatPart].worker.drain(20)
    card = fake_slack.calls_of("chat.update")[-1].args["blocks"]
    assert not any(b.get("block_id") == f"mitigation-{mid}" for b in card)  # the buttons are gone


@pytest.mark.skipif(not HAS_RUNBOOKS, reason="the runbook domain is not in this tree yet")
def test_reject_by_a_listed_approver_rejects_through_the_engine(
    full_api: TestClient, full_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    from bot.incidents import log_event
    from bot.models import Mitigation

    channel = open_incident(full_runtime)
    with transaction(full_runtime.sessions) as s:
        m = Mitigation(incident_id=1, idempotency_key="1:chat-reject", action="naive_model", target="churn-model",
                       status="proposed", approval="required", plan={"summary": "serve the naive model"})
        s.add(m)
        s.flush()
        log_event(s, get_incident(s, 1), "mitigation_proposed", "naive model proposed",
                  data={"mitigation_id": m.id, "action": "naive_model", "target": "churn-model", "plan": m.plan})
        mid = m.id
    assert full_runtime.parts[ChatPart].worker.drain(20)
    card = fake_slack.calls_of("chat.update")[-1].args["blocks"]
    value = next(b["value"] for block in card if block["type"] == "actions" for b in block["elements"]
                 if b["action_id"] == f"mit_reject:{mid}")
    assert post_signed(full_api, button_body(f"mit_reject:{mid}", value, user="UALICE01", channel=channel)
                       ).status_code == 200

    def rejected() -> bool:
        with transaction(full_runtime.sessions) as s:
            return s.get(Mitigation, mid).status == "rejected"  # type: ignore[union-attr]

    fake_slack.wait_for(rejected, timeout=60)
    assert fake_slack.calls_of("usergroups.users.list") == []  # a listed user id needs no group lookup
