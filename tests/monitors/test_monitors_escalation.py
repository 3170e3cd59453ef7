"""Escalation: unacknowledged incidents page the next tier on time; reminders; postmortem review.

The clock is simulated: `decide` is pure and `EscalationService.check` takes ``now``. One test
runs the real scheduler with a short delay to show the job path works end to end.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from mon_helpers import write_config

from bot.config import Settings
from bot.db import transaction
from bot.incidents import add_note, create_incident, get_incident, incident_to_dict, transition
from bot.monitors.escalation import EscalationService, IncidentState, decide
from bot.monitors.schema import EscalationSpec
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.wiring import create_runtime

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
POLICY = {
    "severities": {
        "sev1": {
            "tiers": [
                {"after": "5m", "notify": ["U01PRIMARY"]},
                {"after": "15m", "notify": ["S02SECONDARY"], "webhook": True},
                {"after": "30m", "notify": ["U03MANAGER"]},
            ],
            "reminder_every": "30m",
        },
        "sev3": {"reminder_every": "2h"},
    },
    "postmortem_review_after": "3d",
    "postmortem_reminders": 2,
}


def _state(**overrides: Any) -> IncidentState:
    base: dict[str, Any] = dict(
        ref="INC-1", severity="sev1", status="triggered", title="accuracy dropped", service="fraud-scorer",
        commander=None, unacknowledged_since=T0, last_update_at=T0, tiers_paged=frozenset(), last_reminder_at=None,
        resolved_at=None, postmortem_reviewed=False, postmortem_reminders=0, last_postmortem_reminder_at=None,
    )
    base.update(overrides)
    return IncidentState(**base)


def test_decide_pages_each_tier_on_time() -> None:
    policy = EscalationSpec.model_validate(POLICY)
    early = decide(_state(), T0 + timedelta(minutes=4, seconds=59), policy)
    assert early.actions == () and early.next_check == T0 + timedelta(minutes=5)
    first = decide(_state(), T0 + timedelta(minutes=5), policy)
    assert [(a.kind, a.tier, a.who) for a in first.actions] == [("escalation", 1, ("U01PRIMARY",))]
    assert first.next_check == T0 + timedelta(minutes=15)
    # after tier 1 was recorded, tier 2 (with the webhook) is next
    second = decide(_state(tiers_paged=frozenset({1})), T0 + timedelta(minutes=15), policy)
    assert [(a.tier, a.webhook) for a in second.actions] == [(2, True)]
    # a process that was down for 40 minutes pages every overdue tier once, and reminds
    late = decide(_state(), T0 + timedelta(minutes=40), policy)
    assert [(a.kind, a.tier) for a in late.actions] == [("escalation", 1), ("escalation", 2), ("escalation", 3),
                                                       ("reminder", None)]
    done = decide(_state(tiers_paged=frozenset({1, 2, 3}), last_reminder_at=T0 + timedelta(minutes=40)),
                  T0 + timedelta(minutes=41), policy)
    assert done.actions == () and done.next_check == T0 + timedelta(minutes=70)


def test_decide_acknowledged_stops_paging_but_reminds_without_updates() -> None:
    policy = EscalationSpec.model_validate(POLICY)
    acked = _state(status="acknowledged", commander="U09IC", last_update_at=T0 + timedelta(minutes=3))
    assert decide(acked, T0 + timedelta(minutes=20), policy).actions == ()
    reminder = decide(acked, T0 + timedelta(minutes=33), policy)
    assert [(a.kind, a.reason, a.who) for a in reminder.actions] == [("reminder", "no_updates", ("U09IC",))]
    # sev3 has no tiers: never paged, reminded every 2 h
    sev3 = _state(severity="sev3")
    assert decide(sev3, T0 + timedelta(hours=1), policy).next_check == T0 + timedelta(hours=2)
    # a severity without a policy has nothing ever due
    assert decide(_state(severity="sev4"), T0 + timedelta(days=9), policy).next_check is None


def test_decide_postmortem_review_reminders() -> None:
    policy = EscalationSpec.model_validate(POLICY)
    resolved = _state(status="resolved", resolved_at=T0, commander="U09IC")
    assert decide(resolved, T0 + timedelta(days=2), policy).next_check == T0 + timedelta(days=3)
    due = decide(resolved, T0 + timedelta(days=3), policy)
    assert [(a.reason, a.who) for a in due.actions] == [("postmortem_review", ("U09IC",))]
    assert due.next_check == T0 + timedelta(days=6)
    last = _state(status="resolved", resolved_at=T0, postmortem_reminders=1,
                  last_postmortem_reminder_at=T0 + timedelta(days=3))
    final = decide(last, T0 + timedelta(days=6), policy)
    assert len(final.actions) == 1 and final.next_check is None  # at most postmortem_reminders reminders
    assert decide(_state(status="resolved", resolved_at=T0, postmortem_reviewed=True), T0 + timedelta(days=9),
                  policy).actions == ()


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(202)
        self.end_headers()
        self.wfile.write(b'{"status":"success"}')

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook_url() -> Iterator[str]:
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v2/enqueue"
    server.shutdown()


def _open(rt: Runtime, severity: str = "sev1") -> int:
    with transaction(rt.sessions) as session:
        incident = create_incident(session, title="accuracy dropped", severity=severity, service="fraud-scorer",
                                   source="monitor", actor="test")
        return incident.id


def _timeline(rt: Runtime, incident_id: int) -> list[dict[str, Any]]:
    with transaction(rt.sessions) as session:
        return list(incident_to_dict(session, get_incident(session, incident_id))["timeline"])


def _pages(rt: Runtime) -> list[dict[str, Any]]:
    """The PagerDuty rows of the outbox (what is stored: never the routing key)."""
    from bot.chat.models import OutboxMessage

    with transaction(rt.sessions) as session:
        return [dict(r.payload) for r in session.query(OutboxMessage).filter(OutboxMessage.op == "pagerduty")
                .order_by(OutboxMessage.id)]


def test_unacknowledged_incident_escalates_on_time_with_simulated_clock(
    settings: Settings, tmp_path: Path, hook_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLR_TEST_PD_KEY", "routing-key-123")
    policy = {**POLICY, "webhook": {"kind": "pagerduty", "url": hook_url, "routing_key_env": "MLR_TEST_PD_KEY"}}
    rt = create_runtime(settings.with_(monitors=write_config(tmp_path / "e.yaml", [], policy)))
    try:
        rt.start()  # the outbox worker sends the pages; the test drives the escalation clock
        escalation = rt.parts[EscalationService]
        incident_id = _open(rt)
        # The matched runbook runs in the background and writes its steps to the timeline, which count as
        # updates: let it finish first, or under load a late step lands after the note and moves the reminder.
        _poll(lambda: any(e["kind"] == "runbook_step" and e["data"].get("status") == "completed"
                          for e in _timeline(rt, incident_id)))
        with transaction(rt.sessions) as session:
            opened = get_incident(session, incident_id).created_at
        assert escalation.check(incident_id, opened + timedelta(minutes=4)).actions == ()
        assert escalation.check(incident_id, opened + timedelta(minutes=5)).actions[0].tier == 1
        assert escalation.check(incident_id, opened + timedelta(minutes=6)).actions == ()  # never twice
        second = escalation.check(incident_id, opened + timedelta(minutes=15))
        assert [a.tier for a in second.actions] == [2]
        # (the built-in runbook for "accuracy dropped" escalates too, to the service's catalog owners)
        events = [e for e in _timeline(rt, incident_id) if e["kind"] == "escalation" and "tier" in e["data"]]
        assert [e["data"]["tier"] for e in events] == [1, 2]
        assert events[0]["data"]["who"] == ["U01PRIMARY"] and "unacknowledged after 5 min" in events[0]["message"]
        # Tier 2 pages PagerDuty, through the outbox like every page (tier 1 has no webhook: no page).
        assert "page" not in events[0]["data"]
        assert events[1]["data"]["page"] == {"routing_key_env": "MLR_TEST_PD_KEY", "url": hook_url}
        _poll(lambda: len(_Hook.received) == 1)
        [page] = _Hook.received
        assert page["routing_key"] == "routing-key-123" and page["event_action"] == "trigger"
        assert page["dedup_key"] == f"INC-{incident_id}" and page["payload"]["severity"] == "critical"
        assert page["payload"]["component"] == "fraud-scorer"
        assert "routing-key-123" not in json.dumps(_timeline(rt, incident_id)) + json.dumps(_pages(rt))
        assert not [e for e in _timeline(rt, incident_id) if e["kind"] == "escalation_webhook"]
        # acknowledged: no more pages; a note counts as an update for the reminder clock
        with transaction(rt.sessions) as session:
            incident = get_incident(session, incident_id)
            transition(session, incident, "acknowledged", actor="U01PRIMARY")
            add_note(session, incident, "looking at the feature pipeline", actor="U01PRIMARY")
        # PagerDuty follows: the page it raised is acknowledged there too (same dedup key)
        _poll(lambda: len(_Hook.received) == 2)
        assert _Hook.received[-1] == {"routing_key": "routing-key-123", "event_action": "acknowledge",
                                      "dedup_key": f"INC-{incident_id}"}
        quiet = escalation.check(incident_id, opened + timedelta(minutes=29))
        assert quiet.actions == ()
        note_at = next(datetime.fromisoformat(e["at"].replace("Z", "+00:00"))
                       for e in _timeline(rt, incident_id) if e["kind"] == "note")
        assert quiet.next_check == note_at + timedelta(minutes=30)
        assert [p["event_action"] for p in _pages(rt)] == ["trigger", "acknowledge"]  # each once
    finally:
        rt.close()


def test_a_generic_webhook_is_a_notification_posted_once_not_a_page(
    settings: Settings, tmp_path: Path, hook_url: str
) -> None:
    policy = {**POLICY, "webhook": {"kind": "generic", "url": hook_url}}
    rt = create_runtime(settings.with_(monitors=write_config(tmp_path / "e.yaml", [], policy)))
    try:
        escalation = rt.parts[EscalationService]
        incident_id = _open(rt)
        with transaction(rt.sessions) as session:
            opened = get_incident(session, incident_id).created_at
        escalation.check(incident_id, opened + timedelta(minutes=15))
        escalation.check(incident_id, opened + timedelta(minutes=16))  # nothing new is due: nothing sent
        [posted] = _Hook.received
        assert (posted["incident"], posted["tier"], posted["who"]) == (f"INC-{incident_id}", 2, ["S02SECONDARY"])
        [outcome] = [e for e in _timeline(rt, incident_id) if e["kind"] == "escalation_webhook"]
        assert outcome["data"]["ok"] is True and outcome["data"]["tier"] == 2
        assert _pages(rt) == []  # not a PagerDuty page
    finally:
        rt.close()


def test_real_scheduler_pages_after_a_short_delay(settings: Settings, tmp_path: Path, hook_url: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLR_TEST_PD_KEY", "routing-key-456")
    policy = {"severities": {"sev2": {"tiers": [{"after": "2s", "notify": ["U01PRIMARY"], "webhook": True}]}},
              "sweep_every": "1h",
              "webhook": {"kind": "pagerduty", "url": hook_url, "routing_key_env": "MLR_TEST_PD_KEY"}}
    rt = create_runtime(settings.with_(scheduler_enabled=True,
                                       monitors=write_config(tmp_path / "e.yaml", [], policy)))
    try:
        rt.start()
        incident_id = _open(rt, "sev2")  # incident_opened → the bus listener schedules the check job
        job = rt.parts[Scheduler].aps.get_job(f"escalation:INC-{incident_id}")
        assert job is not None
        _poll(lambda: _Hook.received)
        # (the built-in runbook for "accuracy dropped" escalates too, to the service's catalog owners)
        events = [e for e in _timeline(rt, incident_id) if e["kind"] == "escalation" and "tier" in e["data"]]
        assert [e["data"]["tier"] for e in events] == [1]
        assert [p["event_action"] for p in _Hook.received] == ["trigger"]
        # acknowledging: nothing is left scheduled, and PagerDuty hears of it (through the outbox)
        with transaction(rt.sessions) as session:
            transition(session, get_incident(session, incident_id), "acknowledged", actor="U01PRIMARY")
        _poll(lambda: len(_Hook.received) == 2)
        assert _Hook.received[1]["event_action"] == "acknowledge"
        assert _Hook.received[1]["dedup_key"] == _Hook.received[0]["dedup_key"] == f"INC-{incident_id}"
        _poll(lambda: rt.parts[Scheduler].aps.get_job(f"escalation:INC-{incident_id}") is None)
    finally:
        rt.close()


def _poll(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_acknowledging_cancels_the_pending_page(settings: Settings, tmp_path: Path) -> None:
    policy = {"severities": {"sev2": {"tiers": [{"after": "1h", "notify": ["U01PRIMARY"]}]}}}
    rt = create_runtime(settings.with_(scheduler_enabled=True,
                                       monitors=write_config(tmp_path / "e.yaml", [], policy)))
    try:
        scheduler = rt.parts[Scheduler]
        incident_id = _open(rt, "sev2")
        job = scheduler.aps.get_job(f"escalation:INC-{incident_id}")
        assert job is not None and job.next_run_time > datetime.now(UTC) + timedelta(minutes=59)
        with transaction(rt.sessions) as session:
            transition(session, get_incident(session, incident_id), "acknowledged", actor="U01PRIMARY")
        assert scheduler.aps.get_job(f"escalation:INC-{incident_id}") is None
    finally:
        rt.close()


def test_sweep_catches_incidents_opened_without_a_scheduler(settings: Settings, tmp_path: Path) -> None:
    rt = create_runtime(settings.with_(monitors=write_config(tmp_path / "e.yaml", [], POLICY)))
    try:
        first, second = _open(rt), _open(rt, "sev3")
        with transaction(rt.sessions) as session:
            transition(session, get_incident(session, second), "resolved", actor="U01PRIMARY")
        with transaction(rt.sessions) as session:
            opened = get_incident(session, first).created_at
        assert rt.parts[EscalationService].sweep(opened + timedelta(minutes=16)) == 2
        assert rt.parts[EscalationService].sweep(opened + timedelta(minutes=17)) == 2  # idempotent
        paged = [e["data"]["tier"] for e in _timeline(rt, first) if e["kind"] == "escalation"]
        assert paged == [1, 2]
        assert not [e for e in _timeline(rt, second) if e["kind"] in ("escalation", "reminder")]
        rt.parts[EscalationService].sweep(opened + timedelta(days=3, minutes=1))
        [pm] = [e for e in _timeline(rt, second) if e["kind"] == "reminder"]
        assert pm["data"]["reason"] == "postmortem_review"
    finally:
        rt.close()
