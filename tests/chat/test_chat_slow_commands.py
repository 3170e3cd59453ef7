"""Slow commands run after the acknowledgement and post their result through the timeline."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
from chat_fake_slack import FakeSlack
from chat_support import button_body, post_signed, slash_body
from fastapi.testclient import TestClient

from bot.db import transaction
from bot.incidents import create_incident, get_incident
from bot.runtime import Runtime

HAS_RUNBOOKS = importlib.util.find_spec("runbooks.service") is not None


def open_incident(runtime: Runtime) -> str:
    with transaction(runtime.sessions) as s:
        create_incident(s, title="Churn AUC dropped", severity="sev2", service="churn", source="test", actor="t")
    assert runtime.parts["chat"].worker.drain(20)
    with transaction(runtime.sessions) as s:
        channel = get_incident(s, 1).chat_channel_id
    assert channel
    return channel


def command(api: TestClient, text: str, channel: str) -> dict[str, Any]:
    response = post_signed(api, slash_body(text, channel=channel))
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_postmortem_is_drafted_after_the_ack_and_lands_in_the_thread(
    api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    channel = open_incident(chat_runtime)
    reply = command(api, "postmortem", channel)
    assert reply == {"text": ":page_facing_up: Drafting the postmortem of INC-1.", "response_type": "ephemeral"}

    def drafted() -> bool:
        return any(":page_facing_up:" in c.args.get("text", "") and c.args.get("thread_ts")
                   for c in fake_slack.calls_of("chat.postMessage"))

    fake_slack.wait_for(drafted, timeout=60)
    message = next(c.args["text"] for c in fake_slack.calls_of("chat.postMessage")
                   if ":page_facing_up:" in c.args.get("text", ""))
    assert ".md`" in message and "```" in message
    with transaction(chat_runtime.sessions) as s:
        incident = get_incident(s, 1)
        assert [e.actor for e in incident.events if e.kind == "postmortem_drafted"] == ["slack:UALICE01"]


@pytest.mark.skipif(HAS_RUNBOOKS, reason="the runbook domain is present: see the tests below")
def test_without_the_runbook_domain_diagnose_and_mitigate_say_so(
    api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    channel = open_incident(chat_runtime)
    assert command(api, "diagnose", channel)["text"].startswith(":mag: Running the diagnosis of INC-1")
    assert command(api, "mitigate naive_model", channel)["text"].startswith(":bulb: Proposing `naive_model`")
    fake_slack.wait_for(lambda: len(fake_slack.calls_of("chat.postEphemeral")) == 2)
    texts = sorted(c.args["text"] for c in fake_slack.calls_of("chat.postEphemeral"))
    assert texts == [
        ":warning: diagnosis is not available here (runbooks.service).",
        ":warning: mitigate naive_model is not available here (runbooks.service).",
    ]


@pytest.mark.skipif(not HAS_RUNBOOKS, reason="the runbook domain is not in this tree yet")
def test_diagnose_button_and_command_reach_the_runbook_engine(
    api: TestClient, chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    channel = open_incident(chat_runtime)
    assert command(api, "diagnose", channel)["text"].startswith(":mag: Running the diagnosis of INC-1")
    diag_value = next(
        b["value"] for c in fake_slack.calls_of("chat.postMessage") if c.args.get("blocks")
        for block in c.args["blocks"] if block["type"] == "actions" for b in block["elements"]
        if b["action_id"] == "inc_diagnose"
    )
    assert post_signed(api, button_body("inc_diagnose", diag_value, channel=channel)).status_code == 200

    def outcome_seen() -> bool:
        with transaction(chat_runtime.sessions) as s:
            kinds = [e.kind for e in get_incident(s, 1).events]
        return kinds.count("diagnosis") >= 1 or len(fake_slack.calls_of("chat.postEphemeral")) >= 2

    fake_slack.wait_for(outcome_seen, timeout=60)
