"""Revert from Slack (command and button, behind a confirmation) and from the CLI, on a real MLflow registry.

The CLI runs in its own process, like a responder's terminal: what it records reaches the
incident channel through the outbox, sent by the running service's worker (this test's runtime).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chat"))

from chat_support import SIGNING_SECRET, button_body, post_signed, slash_body  # noqa: E402
from rb_support import open_incident, record_deploy  # noqa: E402

from bot.chat.part import ChatPart
from bot.config import Settings  # noqa: E402
from bot.db import transaction, utcnow  # noqa: E402
from bot.incidents import get_incident  # noqa: E402
from bot.models import AuditRecord, Mitigation  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from runbooks.service import approve_mitigation, propose_mitigation  # noqa: E402
from tests.support.fake_slack import FAST_OUTBOX, FakeSlack  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def slack_rt(tmp_path: Path, mlflow_store: Any, fake_slack: FakeSlack) -> Iterator[Runtime]:
    from bot.wiring import create_runtime, install_chat, install_runbooks

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'revert.db'}", scheduler_enabled=False,
        mlflow_registry_uri=mlflow_store.uri, postmortem_dir=str(tmp_path / "pm"),
        slack_bot_token=fake_slack.token, slack_signing_secret=SIGNING_SECRET, slack_api_url=fake_slack.url,
        slack_alerts_channel="ml-alerts", slack_responders="UALICE01", slack_approvers="UALICE01",
        extra={"chat_outbox": dict(FAST_OUTBOX)},
    )
    rt = create_runtime(settings, install_parts=False)
    install_chat(rt)
    install_runbooks(rt)
    rt.start()
    try:
        yield rt
    finally:
        rt.close()


def drain(rt: Runtime) -> None:
    assert rt.parts[ChatPart].worker.drain(20)


def executed_rollback(rt: Runtime, mlflow_store: Any) -> tuple[int, int, str, str]:
    model = mlflow_store.new_model()
    iid = open_incident(rt, "ModelAccuracyDrop", model=model)
    record_deploy(rt, model, utcnow() - timedelta(minutes=60))
    mid = propose_mitigation(rt, iid, "rollback", "slack:UALICE01", target=model)
    drain(rt)
    with transaction(rt.sessions) as s:
        channel = get_incident(s, iid).chat_channel_id
    assert channel
    return iid, mid, model, channel


def buttons(fake: FakeSlack) -> dict[str, dict[str, Any]]:
    latest = fake.calls_of("chat.update")[-1].args["blocks"]
    return {b["action_id"]: b for block in latest if block["type"] == "actions" for b in block["elements"]}


def test_approve_and_revert_buttons_ask_for_confirmation_and_revert_by_command_and_button(
    slack_rt: Runtime, mlflow_store: Any, fake_slack: FakeSlack
) -> None:
    iid, mid, model, channel = executed_rollback(slack_rt, mlflow_store)
    approve = buttons(fake_slack)[f"mit_approve:{mid}"]
    assert approve["confirm"] == {
        "title": {"type": "plain_text", "text": f"Approve mitigation #{mid}?"},
        "text": {"type": "mrkdwn", "text": f"This runs rollback on `{model}` in production: "
                 f"{approve['confirm']['text']['text'].split(': ', 1)[1]}"},
        "confirm": {"type": "plain_text", "text": "Approve"},
        "deny": {"type": "plain_text", "text": "Cancel"},
        "style": "primary",
    }
    assert "from version 2 to version 1" in approve["confirm"]["text"]["text"]
    approve_mitigation(slack_rt, mid, "slack:UALICE01")
    assert mlflow_store.serving(model) == "1"
    drain(slack_rt)
    revert = buttons(fake_slack)[f"mit_revert:{mid}"]
    assert (revert["text"]["text"], revert["style"]) == (f"Revert #{mid}", "danger")
    assert revert["confirm"]["title"]["text"] == f"Revert mitigation #{mid}?"
    assert revert["confirm"]["text"]["text"] == (
        f"This undoes rollback on `{model}` in production (the previous version serves again).")

    from bot.api import create_app

    with TestClient(create_app(slack_rt)) as api:
        # someone outside the approver list: refused, audited, nothing changes
        reply = post_signed(api, slash_body(f"revert {mid}", user="UMALLORY1", channel=channel)).json()
        assert reply["text"].startswith(":no_entry: You are not allowed to revert mitigations")
        assert "has no mitigation #99" in post_signed(api, slash_body("revert 99", channel=channel)).json()["text"]
        assert mlflow_store.serving(model) == "1"
        assert post_signed(api, button_body(f"mit_revert:{mid}", revert["value"], user="UALICE01",
                                            channel=channel)).status_code == 200
        fake_slack.wait_for(lambda: any(":rewind:" in c.args.get("text", "") and c.args.get("thread_ts")
                                        for c in fake_slack.calls_of("chat.postMessage")), timeout=30)
    assert mlflow_store.serving(model) == "2"
    drain(slack_rt)
    thread = [c.args["text"] for c in fake_slack.calls_of("chat.postMessage") if c.args.get("thread_ts")]
    assert any(t.startswith(f":rewind: mitigation {mid} (rollback {model}) reverted by <@UALICE01>\n_<@UALICE01>")
               for t in thread)
    with transaction(slack_rt.sessions) as s:
        incident = get_incident(s, iid)
        # nothing mitigates it any more: back to acknowledged, by the person who reverted
        assert incident.status == "acknowledged"
        moved = [e for e in incident.events if e.kind == "status_changed"][-1]
        assert (moved.actor, moved.data["to"]) == ("slack:UALICE01", "acknowledged")
        refused = s.query(AuditRecord).filter_by(action="mitigation_revert", outcome="refused").all()
        assert [a.actor for a in refused] == ["slack:UMALLORY1"]
    assert f"mit_revert:{mid}" not in buttons(fake_slack)  # reverted: no Revert button any more


def test_cli_revert_and_resolve_reach_the_channel_through_the_running_service(
    slack_rt: Runtime, mlflow_store: Any, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    iid, mid, model, channel = executed_rollback(slack_rt, mlflow_store)
    approve_mitigation(slack_rt, mid, "slack:UALICE01")
    drain(slack_rt)
    before = len(fake_slack.calls)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLRESPONDER_DATABASE_URL": slack_rt.settings.database_url,
           "MLRESPONDER_MLFLOW_REGISTRY_URI": mlflow_store.uri, "MLFLOW_DISABLE_TELEMETRY": "true"}
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "MLRESPONDER_CONFIG"):
        env.pop(name, None)
    for argv in (["mitigation", "revert", str(mid), "--actor", "slack:UALICE01"],
                 ["incidents", "resolve", f"INC-{iid}", "--actor", "slack:UALICE01", "--note", "v2 fixed"]):
        done = subprocess.run([sys.executable, "-m", "bot.cli", *argv], env=env, capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    assert mlflow_store.serving(model) == "2"
    # this process's worker (the "server") delivers what the CLI queued
    fake_slack.wait_for(lambda: any("v2 fixed" in c.args.get("text", "") for c in fake_slack.calls[before:]),
                        timeout=30)
    drain(slack_rt)
    new = fake_slack.calls[before:]
    texts = [c.args.get("text", "") for c in new if c.method == "chat.postMessage"]
    assert any(t.startswith(f":rewind: mitigation {mid} (rollback {model}) reverted by <@UALICE01>") for t in texts)
    assert any("acknowledged → resolved: v2 fixed" in t for t in texts)
    assert any(c.method == "chat.update" and c.args["channel"] == channel for c in new)
    assert any(c.args.get("channel") == "ml-alerts" and "*resolved*" in c.args.get("text", "") for c in new)
    with transaction(slack_rt.sessions) as s:
        assert s.get(Mitigation, mid).status == "reverted"  # type: ignore[union-attr]
        assert get_incident(s, iid).status == "resolved"


def test_reopen_from_slack(slack_rt: Runtime, mlflow_store: Any, fake_slack: FakeSlack) -> None:
    iid, _mid, _model, channel = executed_rollback(slack_rt, mlflow_store)
    from bot.api import create_app

    with TestClient(create_app(slack_rt)) as api:
        assert post_signed(api, slash_body("resolve", channel=channel)).json()["text"] == f"INC-{iid} is now resolved."
        assert post_signed(api, slash_body("reopen", channel=channel)).json()["text"] == f"INC-{iid} is now reopened."
        assert "cannot move to reopened" in post_signed(api, slash_body("reopen", channel=channel)).json()["text"]
    drain(slack_rt)
    topic = fake_slack.calls_of("conversations.setTopic")[-1].args["topic"]
    assert topic.startswith(f"INC-{iid} · sev2 · reopened")
    with transaction(slack_rt.sessions) as s:
        assert get_incident(s, iid).resolved_at is None
