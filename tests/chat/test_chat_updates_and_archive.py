"""Status updates to stakeholders, their reminders by severity, and archiving resolved incidents' channels."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from chat_support import post_signed, slash_body
from fastapi.testclient import TestClient

from bot.chat.archive import archive_if_due
from bot.chat.part import ChatPart
from bot.config import Settings
from bot.db import transaction
from bot.incidents import create_incident, get_incident, log_event, transition
from bot.roles import assign_role
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.updates import check as check_reminder
from bot.updates import parse_cadence
from tests.support.fake_slack import FakeSlack, chat_only_runtime


def drain(runtime: Runtime) -> None:
    assert runtime.parts[ChatPart].worker.drain(20), "the outbox did not empty"


@pytest.fixture
def stake_runtime(slack_settings: Settings) -> Iterator[Runtime]:
    with chat_only_runtime(slack_settings.with_(slack_stakeholders_channel="CSTAKE001")) as rt:
        yield rt


@pytest.fixture
def stake_api(stake_runtime: Runtime) -> Iterator[TestClient]:
    from bot.api import create_app

    with TestClient(create_app(stake_runtime)) as client:
        yield client


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


def test_status_update_is_posted_in_the_channel_and_to_stakeholders(
    stake_api: TestClient, stake_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    channel = open_incident(stake_runtime)
    reply = command(stake_api, "update rollback done, AUC recovering <!channel>", channel=channel, user="UBOB0002")
    assert reply["text"] == "Status update of INC-1 posted to its channel and to <#CSTAKE001>."
    drain(stake_runtime)
    posts = fake_slack.calls_of("chat.postMessage")
    in_thread = [c.args["text"] for c in posts if c.args["channel"] == channel and c.args.get("thread_ts")]
    assert in_thread[-1].startswith(
        ":mega: *Status update:* rollback done, AUC recovering &lt;!channel&gt;\n_<@UBOB0002> · ")
    stakeholders = [c.args for c in posts if c.args["channel"] == "CSTAKE001"]
    assert len(stakeholders) == 1 and "thread_ts" not in stakeholders[0]
    lines = stakeholders[0]["text"].split("\n")
    assert lines[0] == ":mega: *INC-1 status update* [sev2] *triggered*: Churn AUC dropped (churn) · <#C00001>"
    assert lines[1] == "rollback done, AUC recovering &lt;!channel&gt;"
    assert lines[2].startswith("_<@UBOB0002> · ")
    assert "`update` needs the update" in command(stake_api, "update", channel=channel)["text"]


def test_update_reminders_follow_the_severity_until_mitigated(chat_runtime: Runtime, fake_slack: FakeSlack) -> None:
    assert parse_cadence("sev1=30, high=60") == {"sev1": timedelta(minutes=30), "sev2": timedelta(minutes=60)}
    with pytest.raises(ValueError, match="'sev1=soon' is not SEVERITY=MINUTES"):
        parse_cadence("sev1=soon")
    open_incident(chat_runtime, severity="sev1")  # default cadence: sev1 every 30 min
    with transaction(chat_runtime.sessions) as s:
        incident = get_incident(s, 1)
        opened = incident.created_at
        assign_role(s, incident, "comms", "slack:UCAROL01", actor="slack:UALICE01")
    assert check_reminder(chat_runtime, 1, now=opened + timedelta(minutes=29)) == opened + timedelta(minutes=30)
    due = check_reminder(chat_runtime, 1, now=opened + timedelta(minutes=31))
    assert due == opened + timedelta(minutes=61)
    assert check_reminder(chat_runtime, 1, now=opened + timedelta(minutes=45)) == due  # not twice
    posted = opened + timedelta(minutes=40)
    with transaction(chat_runtime.sessions) as s:
        incident = get_incident(s, 1)
        log_event(s, incident, "status_update", "status update: on it", actor="slack:UCAROL01",
                  data={"text": "on it", "stakeholder_channels": []}, at=posted)
        transition(s, incident, "mitigating", actor="slack:UALICE01")
    assert check_reminder(chat_runtime, 1, now=posted + timedelta(minutes=29)) == posted + timedelta(minutes=30)
    with transaction(chat_runtime.sessions) as s:
        transition(s, get_incident(s, 1), "mitigated", actor="slack:UALICE01")
    assert check_reminder(chat_runtime, 1, now=posted + timedelta(hours=5)) is None  # mitigated: no more
    drain(chat_runtime)
    with transaction(chat_runtime.sessions) as s:
        reminders = [e for e in get_incident(s, 1).events if e.kind == "reminder"]
    assert len(reminders) == 1 and reminders[0].data == {"reason": "status_update", "who": ["UCAROL01"]}
    text = next(c.args["text"] for c in fake_slack.calls_of("chat.postMessage") if ":alarm_clock:" in c.args["text"])
    assert text.startswith(":alarm_clock: <@UCAROL01>: INC-1 (sev1) has had no status update for 31 min: post one "
                           "with `/incident update &lt;text&gt;`.")


def test_reminder_job_is_scheduled_where_a_scheduler_runs(slack_settings: Settings) -> None:
    from bot.wiring import create_runtime

    rt = create_runtime(slack_settings.with_(scheduler_enabled=True, update_reminders="sev2=20"))
    try:
        with transaction(rt.sessions) as s:
            opened = create_incident(s, title="x", severity="sev2", service="s", source="test", actor="t").created_at
        job = rt.parts[Scheduler].aps.get_job("status-update:INC-1")
        assert job is not None and job.trigger.run_date == opened + timedelta(minutes=20)
        with transaction(rt.sessions) as s:
            transition(s, get_incident(s, 1), "mitigating", actor="t")
            transition(s, get_incident(s, 1), "mitigated", actor="t")
        assert rt.parts[Scheduler].aps.get_job("status-update:INC-1") is None
    finally:
        rt.close()


def test_channel_is_archived_a_set_time_after_resolution_once_the_postmortem_is_drafted(
    chat_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    channel = open_incident(chat_runtime)
    with transaction(chat_runtime.sessions) as s:
        incident = get_incident(s, 1)
        transition(s, incident, "resolved", actor="slack:UALICE01")
        resolved = incident.resolved_at
    assert resolved is not None
    assert not archive_if_due(chat_runtime, 1, now=resolved + timedelta(days=2))  # no postmortem yet
    with transaction(chat_runtime.sessions) as s:
        get_incident(s, 1).postmortem_path = "/tmp/INC-1-postmortem.md"
    assert not archive_if_due(chat_runtime, 1, now=resolved + timedelta(hours=23))  # default: after 24 h
    assert archive_if_due(chat_runtime, 1, now=resolved + timedelta(hours=25))
    assert not archive_if_due(chat_runtime, 1, now=resolved + timedelta(hours=26))  # once
    drain(chat_runtime)
    methods = [c.method for c in fake_slack.calls if c.args.get("channel") == channel]
    assert methods[-2:] == ["chat.postMessage", "conversations.archive"]
    last = fake_slack.calls_of("chat.postMessage")[-1].args["text"]
    assert "archiving this channel" in last and channel in fake_slack.archived


def test_a_reopened_incident_keeps_its_channel(chat_runtime: Runtime, fake_slack: FakeSlack) -> None:
    open_incident(chat_runtime)
    with transaction(chat_runtime.sessions) as s:
        incident = get_incident(s, 1)
        transition(s, incident, "resolved", actor="t")
        incident.postmortem_path = "/tmp/x.md"
        resolved = incident.resolved_at
        transition(s, incident, "reopened", actor="slack:UALICE01")
    assert resolved is not None
    assert not archive_if_due(chat_runtime, 1, now=resolved + timedelta(days=3))
    drain(chat_runtime)
    assert fake_slack.calls_of("conversations.archive") == []


def test_a_catalog_service_sends_its_updates_to_its_own_stakeholders_channel(
    slack_settings: Settings, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    pytest.importorskip("bot.catalog", reason="the service catalog (issue 10) is not in this tree yet")
    from bot.wiring import create_runtime, install_chat

    spec = tmp_path / "catalog.yaml"
    spec.write_text("services:\n  - name: churn\n    stakeholders_channel: CCHURNNEWS\n")
    rt = create_runtime(slack_settings.with_(slack_stakeholders_channel="CSTAKE001", catalog=str(spec)),
                        install_parts=False)
    install_chat(rt)
    rt.start()
    try:
        from bot.api import create_app

        channel = open_incident(rt)
        with TestClient(create_app(rt)) as api:
            reply = command(api, "update mitigated, watching", channel=channel)
        assert reply["text"] == "Status update of INC-1 posted to its channel and to <#CCHURNNEWS>."
        drain(rt)
        assert [c.args["channel"] for c in fake_slack.calls_of("chat.postMessage")
                if "status update*" in c.args["text"]] == ["CCHURNNEWS"]
    finally:
        rt.close()
