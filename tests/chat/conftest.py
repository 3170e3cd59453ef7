"""Fixtures for the chat tests: a recording fake Slack, a runtime wired to it, signed requests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))

from chat_support import SIGNING_SECRET  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from bot.wiring import create_runtime
from tests.support.fake_slack import FAST_OUTBOX, FakeSlack, chat_only_runtime  # noqa: E402


@pytest.fixture
def slack_settings(tmp_path: Path, fake_slack: FakeSlack) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'chat.db'}",
        scheduler_enabled=False,
        postmortem_dir=str(tmp_path / "postmortems"),
        slack_bot_token=fake_slack.token,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake_slack.url,
        slack_alerts_channel="ml-alerts",
        slack_responders="UALICE01,UBOB0002",
        slack_approvers="UALICE01,SONCALL01",
        extra={"chat_outbox": dict(FAST_OUTBOX)},
    )


@pytest.fixture
def chat_runtime(slack_settings: Settings) -> Iterator[Runtime]:
    """Only the chat part: what Slack receives is then exactly what these tests caused."""
    with chat_only_runtime(slack_settings) as rt:
        yield rt


@pytest.fixture
def full_runtime(slack_settings: Settings) -> Iterator[Runtime]:
    """Every installed part (runbook engine, postmortems...), as `mlresponder serve` runs them."""
    rt = create_runtime(slack_settings)
    rt.start()
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def api(chat_runtime: Runtime) -> Iterator[TestClient]:
    from bot.api import create_app

    with TestClient(create_app(chat_runtime), client=("127.0.0.1", 50000)) as client:
        yield client


@pytest.fixture
def full_api(full_runtime: Runtime) -> Iterator[TestClient]:
    from bot.api import create_app

    with TestClient(create_app(full_runtime), client=("127.0.0.1", 50000)) as client:
        yield client
