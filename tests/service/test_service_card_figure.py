"""The incident card shows the service diagnosis' series figure: the runbook's diagnosis draws the
PNG (the culprit in red), the chat uploads it into the card's thread through Slack's external
upload (files.getUploadURLExternal, the bytes, files.completeUploadExternal: the postmortem's one
path) and redraws the card with the file as an image block. Against a real Prometheus and the
local recording Slack server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from svc_support import History, open_service_incident

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chat"))

from bot.chat.part import ChatPart  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db import transaction  # noqa: E402
from bot.incidents import get_incident, record_diagnosis  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from runbooks.executor import run_diagnose  # noqa: E402
from tests.support.fake_slack import FAST_OUTBOX, FakeSlack, chat_only_runtime  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def slack_runtime(tmp_path: Path, fake_slack: FakeSlack, prometheus_history: History) -> Iterator[Runtime]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'chat.db'}",
        scheduler_enabled=False,
        postmortem_dir=str(tmp_path / "incidents"),
        slack_bot_token=fake_slack.token,
        slack_signing_secret="test-signing-secret-13",
        slack_api_url=fake_slack.url,
        prometheus_url=prometheus_history.url,
        extra={"chat_outbox": dict(FAST_OUTBOX)},
    )
    with chat_only_runtime(settings) as rt:
        yield rt


def test_the_card_shows_the_series_figure_uploaded_in_its_thread(
    slack_runtime: Runtime, fake_slack: FakeSlack, prometheus_history: History
) -> None:
    worker = slack_runtime.parts[ChatPart].worker
    incident_id = open_service_incident(slack_runtime, prometheus_history.scenarios["dependency_latency"])
    assert worker.drain(20)
    with transaction(slack_runtime.sessions) as s:
        incident = get_incident(s, incident_id)
        channel, card_ts, ref = incident.chat_channel_id, incident.chat_card_ts, incident.ref
    assert channel and card_ts and ref == "INC-1"
    posted_card = next(c.args["blocks"] for c in fake_slack.calls_of("chat.postMessage") if c.args.get("blocks"))
    assert not [b for b in posted_card if b["type"] == "image"]  # nothing diagnosed yet: no figure

    # what the runbook's diagnose step does: diagnose the catalog service, record the diagnosis
    d = run_diagnose(slack_runtime, incident_id, "", series=True)
    assert d["culprit"] == {"kind": "dependency", "name": "feature-store"}
    png = Path(d["series_figure"]["png"])
    assert png.parent == (Path(slack_runtime.settings.postmortem_dir) / ref).resolve()
    assert png.name.startswith("INC-1-diagnosis-") and png.name.endswith("-series.png")
    content = png.read_bytes()
    assert content.startswith(PNG_MAGIC)
    before = len(fake_slack.calls)
    # Slack rate-limits the first upload ticket: the card's own update for the diagnosis goes out
    # before the figure is up, and the card is drawn again once it is
    fake_slack.fail_next(method="files.getUploadURLExternal", status=429, error="ratelimited", retry_after=3)
    with transaction(slack_runtime.sessions) as s:
        record_diagnosis(s, get_incident(s, incident_id), d)
    assert worker.drain(40)
    fake_slack.wait_for(lambda: any(
        b["type"] == "image" for c in fake_slack.calls_of("chat.update") for b in c.args.get("blocks", [])
    ), timeout=20)

    # one upload, the postmortem's way: a ticket, the bytes to its URL, the completion in the card's thread
    tickets = fake_slack.calls_of("files.getUploadURLExternal")
    assert [(t.args["filename"], int(t.args["length"])) for t in tickets] == [(png.name, len(content))]
    completions = fake_slack.calls_of("files.completeUploadExternal")
    assert len(completions) == 1
    complete = completions[0].args
    file_id = complete["files"][0]["id"]
    assert complete["files"] == [{"id": file_id, "title": "INC-1: series around the onset"}]
    assert (complete["channel_id"], complete["thread_ts"]) == (channel, card_ts)
    assert complete["initial_comment"] == "INC-1: the service's series around the onset, the culprit in red"
    assert fake_slack.uploads[file_id] == content or content in fake_slack.uploads[file_id]

    # the card, redrawn after the upload, shows the file right under the diagnosis
    methods = [c.method for c in fake_slack.calls[before:]]
    completed_at = methods.index("files.completeUploadExternal")
    assert methods.index("files.getUploadURLExternal") < completed_at
    early = [c.args["blocks"] for c in fake_slack.calls[before:][:completed_at] if c.method == "chat.update"]
    assert early and not any(b["type"] == "image" for b in early[-1])  # the diagnosis, no figure yet
    shown = [
        c.args for c in fake_slack.calls[before:][completed_at:]
        if c.method == "chat.update" and any(b["type"] == "image" for b in c.args["blocks"])
    ]
    assert shown and shown[-1]["channel"] == channel and shown[-1]["ts"] == card_ts
    card = shown[-1]["blocks"]
    images = [b for b in card if b["type"] == "image"]
    assert images == [{
        "type": "image",
        "block_id": f"series-figure-{file_id}",
        "slack_file": {"id": file_id},
        "title": {"type": "plain_text", "text": "The service's series around the onset"},
        "alt_text": "Top series of the service and its dependencies around the onset; culprit: dependency "
                    "feature-store (in red).",
    }]
    diagnosis_block = card[card.index(images[0]) - 1]
    assert diagnosis_block["text"]["text"].startswith(":mag: *Diagnosis:* cause *service*, culprit dependency")
    # the thread has the diagnosis; the server's path to the PNG is never posted
    assert not any(str(png.parent) in str(c.args) for c in fake_slack.calls if c.method == "chat.postMessage")
