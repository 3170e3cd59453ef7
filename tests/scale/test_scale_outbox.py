"""The chat outbox shared by two replicas: during a Slack outage both keep trying; afterwards every
message is delivered exactly once, in order per incident, alert lines queued together go out as
one message, and each card shows its last state.

Two real `mlresponder serve` processes on one PostgreSQL talk to a fake Slack Web API (a local
HTTP server that records every call), which goes down while alerts keep joining the incidents.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from scale_support import alertmanager_body, base_env, wait_until

from bot.chat.models import OutboxMessage
from bot.db import make_engine, upgrade
from bot.models import Incident, TimelineEvent
from tests.support.fake_slack import FakeSlack

INCIDENTS = 4
JOINS = 5


def _unsent(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status.in_(("pending", "sending")))).scalar() or 0)


@pytest.mark.integration
def test_slack_outage_while_two_replicas_deliver_loses_and_doubles_nothing(
    tmp_path: Path, postgres_url: str, fake_slack: FakeSlack, replicas: Any
) -> None:
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    config = tmp_path / "config.yaml"
    # Fast retries, and few heads per claim so that both replicas get keys to send.
    config.write_text(yaml.safe_dump({"extra": {"chat_outbox": {
        "poll_interval": 0.2, "base_delay": 0.2, "max_delay": 1.0, "claim": 2, "card_every": 1.0}}}))
    env = base_env(postgres_url, tmp_path, MLRESPONDER_SCHEDULER="false", MLRESPONDER_CONFIG=str(config),
                   SLACK_BOT_TOKEN=fake_slack.token, SLACK_SIGNING_SECRET="scale-signing-secret",
                   MLRESPONDER_SLACK_API_URL=fake_slack.url, MLRESPONDER_SLACK_ALERTS_CHANNEL="ml-alerts")
    a, b = replicas(env, "a"), replicas(env, "b")
    a.wait_ready(), b.wait_ready()
    both = (a, b)

    for n in range(INCIDENTS):
        response = both[n % 2].post("/alerts/alertmanager", alertmanager_body(f"open-{n}", f"svc-{n}"))
        assert response.status_code == 201, response.text
    fake_slack.wait_for(lambda: len(fake_slack.calls_of("pins.add")) == INCIDENTS, timeout=120)

    fake_slack.down()
    for j in range(JOINS):
        for n in range(INCIDENTS):
            body = alertmanager_body(f"join-{n}-{j}", f"svc-{n}", summary=f"svc-{n} join {j}")
            assert both[(n + j) % 2].post("/alerts/alertmanager", body).status_code == 202
    wait_until(lambda: all("retrying in" in r.log() for r in both), 60, "both replicas to retry during the outage")
    fake_slack.up()
    wait_until(lambda: _unsent(engine) == 0, 180, "the outbox to drain")

    with engine.connect() as conn:
        statuses = Counter(conn.execute(sa.select(OutboxMessage.status)).scalars())
        incidents = conn.execute(sa.select(Incident.id, Incident.chat_channel_id, Incident.chat_card_ts)).all()
        joined = conn.execute(sa.select(TimelineEvent.incident_id, TimelineEvent.message)
                              .where(TimelineEvent.kind == "alert_joined").order_by(TimelineEvent.id)).all()
    assert set(statuses) <= {"sent", "superseded"}, statuses
    assert len(fake_slack.calls_of("conversations.create")) == INCIDENTS
    assert len([c for c in fake_slack.calls_of("chat.postMessage") if c.args.get("blocks")
                and not c.args.get("thread_ts") and c.args["channel"] != "ml-alerts"]) == INCIDENTS
    assert len(fake_slack.calls_of("pins.add")) == INCIDENTS
    for incident_id, channel, card_ts in incidents:
        expected = [m for i, m in joined if i == incident_id]
        assert len(expected) == JOINS
        thread = [c.args["text"] for c in fake_slack.calls_of("chat.postMessage")
                  if c.args.get("channel") == channel and c.args.get("thread_ts") == card_ts]
        with_joins = [t for t in thread if re.search(r"svc-\d+ join \d+", t)]
        posted = [j for t in with_joins for j in re.findall(r"svc-\d+ join \d+", t)]
        # every joined alert once, in the order of the incident's timeline
        assert posted == [re.search(r"svc-\d+ join \d+", m).group(0) for m in expected]  # type: ignore[union-attr]
        # lines queued behind each other during the outage went out together, not one call each
        assert len(with_joins) < JOINS, with_joins
        updates = [c for c in fake_slack.calls_of("chat.update") if c.args.get("ts") == card_ts]
        assert updates, f"the card of incident {incident_id} was never refreshed"
        # the last refresh shows the last state: all six alerts firing
        assert f"{JOINS + 1} firing, 0 resolved" in str(updates[-1].args["blocks"])
    engine.dispose()
