"""The small pieces: escaping, signed button values, channel names, Slack error classification."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.chat import blocks
from bot.chat.commands import handle_command
from bot.chat.port import FinalChatError, RetryableChatError
from bot.chat.signing import BadSignature, ButtonAction, ButtonSigner
from bot.chat.slack_client import SlackClient
from bot.chat.views import IncidentView, TimelineLine, channel_name
from tests.support.fake_slack import FakeSlack


def test_escape_neutralises_slack_control_characters_once() -> None:
    assert blocks.escape("<!channel> & <@U123|x> <https://e.vil|click>") == (
        "&lt;!channel&gt; &amp; &lt;@U123|x&gt; &lt;https://e.vil|click&gt;"
    )
    assert blocks.escape("&lt;") == "&amp;lt;"  # already-escaped input cannot smuggle a "<"


def test_user_ref_mentions_only_validated_ids() -> None:
    assert blocks.user_ref("slack:UALICE01") == "<@UALICE01>"
    assert blocks.user_ref("SONCALL01", groups=True) == "<!subteam^SONCALL01>"  # escalation targets only
    assert blocks.user_ref("SONCALL01") == "SONCALL01"
    assert blocks.user_ref("<!channel>") == "&lt;!channel&gt;"
    assert blocks.user_ref("slack:<!here>") == "slack:&lt;!here&gt;"
    assert blocks.user_ref(None) == "_unassigned_"


def test_channel_names_are_slack_safe_and_short() -> None:
    assert channel_name(12, "Churn model: AUC dropped (v8 → v9)!") == "inc-12-churn-model-auc-dropped-v8-v9"
    long = channel_name(7, "a very long title " * 20)
    assert len(long) <= 80 and long.startswith("inc-7-a-very-long-title") and not long.endswith("-")
    assert channel_name(3, "<!channel> ☃") == "inc-3-channel"
    assert channel_name(4, "☃☃") == "inc-4"


def test_button_values_round_trip_and_refuse_tampering() -> None:
    signer = ButtonSigner("secret-1")
    value = signer.sign("approve", 12, 5)
    assert signer.verify(value) == ButtonAction("approve", 12, 5)
    assert signer.verify(signer.sign("ack", 3)) == ButtonAction("ack", 3, None)
    action, incident, mitigation, mac = value.split(":")
    for forged in (
        f"reject:{incident}:{mitigation}:{mac}",
        f"{action}:{incident}:6:{mac}",
        f"{action}:13:{mitigation}:{mac}",
        ButtonSigner("secret-2").sign("approve", 12, 5),
        value + "0", "", "approve:12:5",
    ):
        with pytest.raises(BadSignature):
            signer.verify(forged)
    with pytest.raises(ValueError):
        signer.sign("delete_everything", 1)


def _view(**changes: object) -> IncidentView:
    base: dict[str, object] = dict(
        id=1, ref="INC-1", title="t", severity="sev2", status="triggered", service="svc",
        started_at=datetime(2026, 11, 27, 4, 0, tzinfo=UTC), commander=None,
    )
    base.update(changes)
    return IncidentView(**base)  # type: ignore[arg-type]


def test_card_buttons_follow_the_incident_state() -> None:
    signer = ButtonSigner("s")

    def action_ids(view: IncidentView) -> list[str]:
        return [e["action_id"] for b in blocks.card_blocks(view, signer) if b["type"] == "actions"
                for e in b["elements"]]

    assert action_ids(_view()) == ["inc_ack", "inc_diagnose"]
    assert action_ids(_view(status="mitigating")) == ["inc_diagnose"]
    assert action_ids(_view(status="resolved")) == []
    assert blocks.card_blocks(_view(), None)[-1]["type"] == "context"  # no signer: no buttons


def test_diagnosis_and_escalation_lines_escape_their_evidence() -> None:
    diagnosis = {
        "cause": "data", "culprit": {"kind": "feature", "name": "<!channel>"}, "confidence": 0.91,
        "recommended_mitigation": "naive_model",
        "findings": [{"evidence": "feature <@U1> shifted: PSI 0.4"}],
    }
    text = blocks.diagnosis_text(diagnosis)
    assert "cause *data*" in text and "`&lt;!channel&gt;`" in text and "confidence 91%" in text
    assert "&lt;@U1&gt; shifted" in text
    with_trigger = {**diagnosis, "cause": "service", "culprit": {"kind": "dependency", "name": "feature-store"},
                    "trigger": {"timestamp": "2026-11-27T03:01:00Z", "kind": "infra", "service": "feature-store",
                                "description": "node pool moved <!here>"}}
    text = blocks.diagnosis_text(with_trigger)
    assert "Trigger: infra of `feature-store` at 2026-11-27T03:01:00Z: node pool moved &lt;!here&gt;" in text
    line = TimelineLine(event_id=1, kind="escalation", actor="runbook", message="m",
                        at=datetime(2026, 11, 27, tzinfo=UTC),
                        data={"who": ["UONCALL01", "<!channel>"], "message": "please look <!here>"})
    rendered = blocks.timeline_text(line)
    assert "<@UONCALL01>" in rendered and "<!channel>" not in rendered and "&lt;!here&gt;" in rendered


def test_slack_client_classifies_errors(fake_slack: FakeSlack) -> None:
    client = SlackClient(fake_slack.token, base_url=fake_slack.url)
    fake_slack.fail_next(status=429, retry_after=7)
    with pytest.raises(RetryableChatError) as rate:
        client.call("chat.postMessage", channel="C1", text="x")
    assert rate.value.code == "ratelimited" and rate.value.retry_after == 7.0
    fake_slack.fail_next(status=503)
    with pytest.raises(RetryableChatError) as server:
        client.call("chat.postMessage", channel="C1", text="x")
    assert server.value.code == "http_503" and server.value.retry_after is None
    fake_slack.fail_next(error="internal_error")
    with pytest.raises(RetryableChatError):
        client.call("chat.postMessage", channel="C1", text="x")
    for error in ("user_not_found", "is_archived", "missing_scope", "invalid_auth"):
        fake_slack.fail_next(error=error)
        with pytest.raises(FinalChatError) as final:
            client.call("conversations.invite", channel="C1", users="U1")
        assert final.value.code == error
    fake_slack.down()
    with pytest.raises(RetryableChatError) as down:
        client.call("chat.postMessage", channel="C1", text="x")
    assert down.value.code == "unreachable" and fake_slack.token not in str(down.value)
    assert fake_slack.calls == []


def test_slack_client_never_sends_a_configured_secret(fake_slack: FakeSlack) -> None:
    client = SlackClient(fake_slack.token, base_url=fake_slack.url, secrets=["signing-s3cret"])
    client.call("chat.postMessage", channel="C1", text=f"token {fake_slack.token} and signing-s3cret",
                blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "signing-s3cret"}}])
    sent = fake_slack.calls[0].args
    assert sent["text"] == "token *** and ***" and sent["blocks"][0]["text"]["text"] == "***"
    assert fake_slack.calls[0].authorized  # the token still authenticates the call


def test_help_lists_every_subcommand() -> None:
    from types import SimpleNamespace

    from bot.wiring import chat_responder

    part = SimpleNamespace(responder=chat_responder())  # help needs no runtime, only the mitigations
    usage = handle_command(part, "help", "U1", "C1").text  # type: ignore[arg-type]
    for sub in ("declare", "list", "status", "ack", "assign", "severity", "note", "diagnose", "mitigate",
                "postmortem", "resolve", "help"):
        assert f"`{sub}" in usage, sub
    assert "`mitigate rollback|naive_model`" in usage  # from the action registry


def test_the_series_figure_rides_on_the_diagnosis_card_and_console() -> None:
    """The figure is queued for upload when the diagnosis carries a drawn PNG; the Slack card shows
    the uploaded file under the diagnosis, the console card the PNG's path."""
    import io

    from bot.chat.console import ConsolePort, render_card
    from bot.chat.flows import ops_for
    from bot.config import Settings
    from bot.events import EventNotice

    diagnosis = {"cause": "service", "culprit": {"kind": "traffic", "name": "requests_per_s"}, "confidence": 0.8,
                 "recommended_mitigation": "escalate_service", "findings": [],
                 "series_figure": {"png": "/srv/incidents/INC-1/INC-1-diagnosis-20261127T040000-series.png"}}
    settings = Settings(database_url="sqlite://", scheduler_enabled=False)
    ops = [r.op for r in ops_for(EventNotice(1, 7, "diagnosis", {"diagnosis": diagnosis}), settings)]
    assert ops == ["thread", "upload_figure", "update_card"]
    no_png = {**diagnosis, "series_figure": {"series": []}}
    assert [r.op for r in ops_for(EventNotice(1, 8, "diagnosis", {"diagnosis": no_png}), settings)] == [
        "thread", "update_card"]

    card = blocks.card_blocks(_view(diagnosis=diagnosis, figure_file="F0042"), None)
    image = next(b for b in card if b["type"] == "image")
    assert image["slack_file"] == {"id": "F0042"} and "traffic requests_per_s" in image["alt_text"]
    assert not [b for b in blocks.card_blocks(_view(diagnosis=diagnosis), None) if b["type"] == "image"]

    view = _view(diagnosis=diagnosis, figure_path=diagnosis["series_figure"]["png"])  # type: ignore[index]
    assert "  series figure: /srv/incidents/INC-1/INC-1-diagnosis-20261127T040000-series.png" in render_card(view)
    out = io.StringIO()
    ConsolePort(out).post_card("C1", view)
    assert "series figure: /srv/incidents/INC-1/" in out.getvalue()
