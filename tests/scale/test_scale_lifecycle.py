"""Lifecycle changes made by another process: an incident resolved from a terminal
(`mlresponder incidents resolve`) gets its postmortem drafted, once, by the scheduler leader, and
its channel archived after that, as if it had been resolved in Slack.

Two real `mlresponder serve` replicas on one PostgreSQL and a fake Slack Web API; the command
runs as a process of its own, with no postmortem worker and no scheduler.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from scale_support import alertmanager_body, base_env, wait_until

from bot.db import make_engine, upgrade
from bot.models import Incident, TimelineEvent
from postmortems.worker import CATCH_UP_EVERY
from tests.support.fake_slack import FakeSlack


def _events(engine: sa.Engine, kind: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(TimelineEvent.message).where(TimelineEvent.kind == kind)).scalars())


@pytest.mark.integration
def test_an_incident_resolved_from_a_terminal_gets_one_postmortem_and_its_archive(
    tmp_path: Path, postgres_url: str, fake_slack: FakeSlack, replicas: Any
) -> None:
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    env = base_env(postgres_url, tmp_path, SLACK_BOT_TOKEN=fake_slack.token,
                   SLACK_SIGNING_SECRET="scale-signing-secret", MLRESPONDER_SLACK_API_URL=fake_slack.url,
                   MLRESPONDER_SLACK_ARCHIVE_AFTER_SECONDS="2", MLRESPONDER_RUNBOOKS=str(tmp_path / "none"))
    (tmp_path / "none").mkdir()
    a, b = replicas(env, "a"), replicas(env, "b")
    a.wait_ready(), b.wait_ready()
    wait_until(lambda: {a.leader(), b.leader()} == {True, False}, 30, "one leader")
    leader, follower = (a, b) if a.leader() else (b, a)

    assert follower.post("/alerts/alertmanager", alertmanager_body("pm-1", "svc-pm")).status_code == 201
    fake_slack.wait_for(lambda: len(fake_slack.calls_of("pins.add")) == 1, timeout=120)
    with engine.connect() as conn:
        incident_id, channel = conn.execute(sa.select(Incident.id, Incident.chat_channel_id)).one()

    done = subprocess.run([sys.executable, "-m", "bot.cli", "incidents", "resolve", f"INC-{incident_id}",
                           "--actor", "dana"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr

    wait_until(lambda: _events(engine, "postmortem_drafted"), 90, "the leader to draft the postmortem")
    fake_slack.wait_for(lambda: fake_slack.calls_of("conversations.archive"), timeout=90)
    time.sleep(2.5 * CATCH_UP_EVERY)  # more catch-up passes on the leader: nothing is drafted again
    assert len(_events(engine, "postmortem_drafted")) == 1
    assert len(_events(engine, "channel_archived")) == 1
    assert [c.args["channel"] for c in fake_slack.calls_of("conversations.archive")] == [channel]
    with engine.connect() as conn:
        path = conn.execute(sa.select(Incident.postmortem_path)).scalar()
    assert path and Path(path).exists()
    assert f"drafting for resolution(s) made elsewhere: INC-{incident_id}" in leader.log()
    assert "made elsewhere" not in follower.log()
    engine.dispose()
