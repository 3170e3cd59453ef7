"""Channel creation is idempotent across timeouts: when Slack created the channel but answered
after the client gave up, the retry adopts that channel instead of opening an orphan `-2`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "chat"))

from bot.chat.port import RetryableChatError  # noqa: E402
from bot.chat.slack_client import SlackClient  # noqa: E402
from bot.chat.slack_port import SlackPort  # noqa: E402
from bot.chat.views import IncidentView  # noqa: E402
from tests.support.fake_slack import FakeSlack  # noqa: E402


def _view() -> IncidentView:
    return IncidentView(id=7, ref="INC-7", title="accuracy drop", severity="sev2", status="triggered",
                        service="fraud", started_at=datetime(2026, 11, 27, 3, tzinfo=UTC), commander=None)


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    slack = FakeSlack().start()
    yield slack
    slack.stop()


def test_a_timed_out_create_is_adopted_on_retry(fake: FakeSlack) -> None:
    port = SlackPort(SlackClient(fake.token, base_url=fake.url, timeout=1), None)
    view = _view()
    fake.slow_next("conversations.create", 2.5)
    with pytest.raises(RetryableChatError):
        port.create_channel(view)  # Slack created it, the answer came too late
    fake.wait_for(lambda: len(fake.calls_of("conversations.create")) == 1)
    created = port.create_channel(view)  # the outbox's retry
    first = fake.calls_of("conversations.create")[0]
    assert created.name == first.args["name"] and created.channel_id == "C00001"
    assert created.taken == []
    assert len(fake.calls_of("conversations.create")) == 1  # no second channel


def test_a_name_taken_by_someone_else_still_moves_on(fake: FakeSlack) -> None:
    port = SlackPort(SlackClient(fake.token, base_url=fake.url, timeout=5), None)
    view = _view()
    from bot.chat.views import channel_name

    fake.taken_names.add(channel_name(view.id, view.title))
    created = port.create_channel(view)
    assert created.name.endswith("-2") and created.taken == [channel_name(view.id, view.title)]
