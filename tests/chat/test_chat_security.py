"""Chat authorization and replays: only an incident's responders, owners and approvers change it
from Slack (every refusal audited), and a replayed signed request acts once."""

from __future__ import annotations

from chat_support import button_body, post_signed, sign, slash_body
from fastapi.testclient import TestClient
from sqlalchemy import select
from test_chat_slack_events import command, counts, drain, incident, open_incident

from bot.chat.part import ChatPart
from bot.chat.signing import ButtonSigner
from bot.db import transaction
from bot.models import AuditRecord
from bot.runtime import Runtime


def _refusals(runtime: Runtime) -> list[tuple[str, str, str]]:
    with transaction(runtime.sessions) as s:
        rows = s.scalars(select(AuditRecord).where(AuditRecord.outcome == "refused")).all()
        return [(r.actor, r.action, r.subject) for r in rows]


def test_an_outsider_cannot_resolve_assign_or_change_an_incident(api: TestClient, chat_runtime: Runtime) -> None:
    _, channel = open_incident(chat_runtime)
    for text in ("resolve", "assign S0WHOLEORG", "assign <@UMALLORY1>", "severity sev4", "note pwned", "ack",
                 "mitigate rollback", "postmortem", "diagnose"):
        reply = command(api, text, channel=channel, user="UMALLORY1")["text"]
        assert reply.startswith(":no_entry: Only the responders, owners and approvers of INC-1"), (text, reply)
    found = incident(chat_runtime)
    assert (found.status, found.commander, found.severity) == ("triggered", None, "sev2")
    assert [k for k in (e.kind for e in found.events)] == ["incident_opened"]
    refused = _refusals(chat_runtime)
    assert len(refused) == 9 and {r[0] for r in refused} == {"slack:UMALLORY1"}
    assert ("slack:UMALLORY1", "chat.resolve", "INC-1") in refused
    # Reading is open to the workspace.
    assert "*INC-1*" in command(api, "status", channel=channel, user="UMALLORY1")["text"]


def test_responders_commanders_and_approvers_may_act(api: TestClient, chat_runtime: Runtime) -> None:
    _, channel = open_incident(chat_runtime)
    assert command(api, "ack", channel=channel, user="UBOB0002")["text"] == "INC-1 is now acknowledged."  # responder
    assert command(api, "assign <@UCAROL003>", channel=channel)["text"].endswith("<@UCAROL003>.")
    assert command(api, "note on it", channel=channel, user="UCAROL003")["text"] == "Noted on INC-1's timeline."
    # A user group is not a commander.
    assert "not a user group" in command(api, "assign S0WHOLEORG", channel=channel)["text"]


def test_an_outsiders_ack_button_is_refused_and_audited(api: TestClient, chat_runtime: Runtime) -> None:
    number, channel = open_incident(chat_runtime)
    signer: ButtonSigner = chat_runtime.parts[ChatPart].signer
    value = signer.sign("ack", number)
    assert post_signed(api, button_body("inc_ack", value, user="UMALLORY1", channel=channel)).status_code == 200
    drain(chat_runtime)
    assert incident(chat_runtime).status == "triggered"
    assert ("slack:UMALLORY1", "chat.ack", "INC-1") in _refusals(chat_runtime)


def test_a_replayed_slash_command_acts_once(api: TestClient, chat_runtime: Runtime) -> None:
    body = slash_body("declare sev2 replayed declaration")
    headers = sign(body)
    for _ in range(3):  # the same signed request, within Slack's five-minute window
        assert api.post("/slack/events", content=body.encode(), headers=headers).status_code == 200
    drain(chat_runtime)
    assert counts(chat_runtime)[0] == 1
    with transaction(chat_runtime.sessions) as s:
        replays = s.scalars(select(AuditRecord).where(AuditRecord.action == "slack.replay")).all()
    assert len(replays) == 2
    # A new interaction (its own trigger id) is not a replay.
    command(api, "declare sev3 another one")
    drain(chat_runtime)
    assert counts(chat_runtime)[0] == 2


def test_the_services_catalog_owner_may_act(slack_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient as Client

    from bot.api import create_app
    from bot.wiring import create_runtime

    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("services:\n  - name: churn\n    owners: {slack: UOWNER001}\n")
    runtime = create_runtime(slack_settings.with_(catalog=str(catalog)))
    runtime.start()
    try:
        with Client(create_app(runtime), client=("127.0.0.1", 50000)) as api:
            _, channel = open_incident(runtime)
            with transaction(runtime.sessions) as s:
                from bot.incidents import get_incident

                get_incident(s, 1).catalog_service = "churn"
            assert command(api, "ack", channel=channel, user="UOWNER001")["text"] == "INC-1 is now acknowledged."
            assert command(api, "resolve", channel=channel, user="UMALLORY1")["text"].startswith(":no_entry:")
    finally:
        runtime.close()
