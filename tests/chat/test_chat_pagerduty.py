"""Escalations page the catalog's owners: a Slack mention and PagerDuty Events API v2 through the outbox.

PagerDuty is a local recording server at `MLRESPONDER_PAGERDUTY_URL`. A 20 s outage (nothing
listening) loses no page and doubles none: the trigger is retried until accepted once, and the
acknowledge and resolve follow it in order with the same dedup_key (the incident ref).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.chat.models import OutboxMessage
from bot.config import Settings
from bot.db import transaction
from bot.incidents import create_incident, get_incident, transition
from bot.runtime import Runtime
from bot.wiring import create_runtime, install_chat
from runbooks import mitigations
from tests.support.fake_slack import FakeSlack, free_port

ROUTING_KEY = "R0UT1NGKEYfraudscorer"
CATALOG = """\
services:
  - name: fraud-scorer
    owners:
      slack: S0FRAUDOPS
      pagerduty_routing_key: ${MLRESPONDER_SECRET_PD_FRAUD}
  - name: quiet-service
    owners: {slack: U0QUIET01}
"""


class PagerDuty:
    """Records every accepted Events API v2 call; started late to simulate an outage."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.events: list[dict[str, Any]] = []
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                outer.events.append({"path": self.path, **body})
                raw = json.dumps({"status": "success", "message": "Event processed",
                                  "dedup_key": body.get("dedup_key")}).encode()
                self.send_response(202)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def paging(tmp_path: Path, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Runtime,
                                                                                                   PagerDuty]]:
    monkeypatch.setenv("MLRESPONDER_SECRET_PD_FRAUD", ROUTING_KEY)
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    pd = PagerDuty(free_port())
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'pd.db'}", scheduler_enabled=False, catalog=str(catalog),
        slack_bot_token=fake_slack.token, slack_api_url=fake_slack.url, slack_alerts_channel="",
        pagerduty_url=f"http://127.0.0.1:{pd.port}",
        extra={"chat_outbox": {"poll_interval": 0.05, "base_delay": 0.2, "max_delay": 2.0}},
    )
    rt = create_runtime(settings, install_parts=False)
    install_chat(rt)
    rt.start()
    try:
        yield rt, pd
    finally:
        rt.close()
        pd.stop()


def _incident(rt: Runtime, service: str) -> int:
    with transaction(rt.sessions) as s:
        incident = create_incident(s, title="fraud precision dropped", severity="sev2", service=service,
                                   source="test", actor="test", catalog_service=service)
        return incident.id


def _escalate(rt: Runtime, incident_id: int, who: list[str]) -> None:
    with transaction(rt.sessions) as s:
        mitigations.escalate(s, get_incident(s, incident_id), who, "please take over", catalog=rt.catalog)


def _move(rt: Runtime, incident_id: int, *statuses: str) -> None:
    for status in statuses:
        with transaction(rt.sessions) as s:
            transition(s, get_incident(s, incident_id), status, actor="UALICE01")


def _wait(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_owners_are_mentioned_and_paged_through_a_20s_pagerduty_outage(paging, fake_slack: FakeSlack) -> None:
    rt, pd = paging
    iid = _incident(rt, "fraud-scorer")
    _escalate(rt, iid, ["owners"])
    _move(rt, iid, "acknowledged")
    _move(rt, iid, "resolved")
    # The mention reaches Slack at once, although PagerDuty is down.
    fake_slack.wait_for(lambda: "<!subteam^S0FRAUDOPS>" in fake_slack.raw())
    time.sleep(20.0)  # PagerDuty is down for 20 s: nothing listens on its port
    assert pd.events == []
    pd.start()
    _wait(lambda: len(pd.events) >= 3)
    time.sleep(1.0)  # anything doubled would arrive now
    assert [(e["path"], e["event_action"], e["dedup_key"], e["routing_key"]) for e in pd.events] == [
        ("/v2/enqueue", "trigger", f"INC-{iid}", ROUTING_KEY),
        ("/v2/enqueue", "acknowledge", f"INC-{iid}", ROUTING_KEY),
        ("/v2/enqueue", "resolve", f"INC-{iid}", ROUTING_KEY),
    ]
    trigger = pd.events[0]["payload"]
    assert (trigger["summary"], trigger["severity"], trigger["component"], trigger["source"]) == \
        (f"INC-{iid}: fraud precision dropped", "error", "fraud-scorer", "mlresponder")
    with transaction(rt.sessions) as s:
        rows = s.query(OutboxMessage).filter(OutboxMessage.op == "pagerduty").order_by(OutboxMessage.id).all()
        assert [(r.status, r.key) for r in rows] == [("sent", f"pd:{iid}")] * 3
        assert all(r.attempts > 1 for r in rows[:1])  # the trigger was retried through the outage
        stored = json.dumps([r.payload for r in rows] + [r.result for r in rows]) + json.dumps(
            [e.data for e in get_incident(s, iid).events])
    assert ROUTING_KEY not in stored and ROUTING_KEY not in fake_slack.raw()


def test_a_service_without_a_routing_key_is_mentioned_and_not_paged(paging, fake_slack: FakeSlack) -> None:
    rt, pd = paging
    pd.start()
    quiet = _incident(rt, "quiet-service")
    _escalate(rt, quiet, ["owners", "UBOB0002"])
    fake_slack.wait_for(lambda: "<@U0QUIET01>" in fake_slack.raw())
    assert "<@UBOB0002>" in fake_slack.raw()
    with transaction(rt.sessions) as s:
        assert [e.data["who"] for e in get_incident(s, quiet).events if e.kind == "escalation"] == \
            [["U0QUIET01", "UBOB0002"]]
        assert s.query(OutboxMessage).filter(OutboxMessage.op == "pagerduty").count() == 0
    _move(rt, quiet, "acknowledged")  # an incident never paged sends no acknowledge either
    time.sleep(0.5)
    assert pd.events == []


def test_the_escalation_policys_page_takes_the_same_path_and_each_route_hears_the_follow_ups(
        paging, monkeypatch: pytest.MonkeyPatch) -> None:
    """One way to page: the catalog owners' page and the escalation policy's (its routing key from
    the variable its configuration names) are both outbox rows; acknowledging reaches both."""
    from bot.incidents import escalate

    rt, pd = paging
    monkeypatch.setenv("MLR_POLICY_PD_KEY", "P0L1CYKEYsecondtier")
    pd.start()
    iid = _incident(rt, "fraud-scorer")
    _escalate(rt, iid, ["owners"])
    with transaction(rt.sessions) as s:
        escalate(s, get_incident(s, iid), ["S02SECONDARY"], "tier 2", tier=2,
                 page={"routing_key_env": "MLR_POLICY_PD_KEY"})
    _wait(lambda: len(pd.events) >= 2)
    _move(rt, iid, "acknowledged")
    _wait(lambda: len(pd.events) >= 4)
    time.sleep(1.0)  # anything doubled would arrive now
    assert [(e["event_action"], e["routing_key"], e["dedup_key"]) for e in pd.events] == [
        ("trigger", ROUTING_KEY, f"INC-{iid}"), ("trigger", "P0L1CYKEYsecondtier", f"INC-{iid}"),
        ("acknowledge", ROUTING_KEY, f"INC-{iid}"), ("acknowledge", "P0L1CYKEYsecondtier", f"INC-{iid}")]
    assert pd.events[1]["payload"]["component"] == "fraud-scorer"
    with transaction(rt.sessions) as s:
        stored = json.dumps([r.payload for r in s.query(OutboxMessage).all()])
    assert "P0L1CYKEYsecondtier" not in stored and ROUTING_KEY not in stored
