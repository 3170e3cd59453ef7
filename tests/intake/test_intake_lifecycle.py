"""Incident lifecycle, change events on the timeline, the incident list filters and /metrics."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from intake_support import am_alert, am_payload
from prometheus_client.parser import text_string_to_metric_families

from bot.api import create_app
from bot.catalog import load_catalog
from bot.config import Settings
from bot.db import transaction, utcnow
from bot.incidents import IllegalTransition, create_incident, get_incident, transition
from bot.models import STATUSES, TRANSITIONS, TimelineEvent
from bot.runtime import Runtime
from bot.timeparse import iso
from bot.wiring import create_runtime


def path_to(status: str) -> list[str]:
    """The shortest chain of legal transitions from `triggered` to ``status``."""
    queue: deque[list[str]] = deque([["triggered"]])
    while queue:
        chain = queue.popleft()
        if chain[-1] == status:
            return chain[1:]
        queue.extend(chain + [nxt] for nxt in TRANSITIONS[chain[-1]] if nxt not in chain)
    raise AssertionError(f"{status} cannot be reached")


def new_incident_in(runtime: Runtime, status: str) -> int:
    with transaction(runtime.sessions) as session:
        incident = create_incident(session, title="latency regression", severity="sev2", service="ranker",
                                   source="test", actor="test")
        for step in path_to(status):
            transition(session, incident, step, actor="walker")
        return incident.id


@pytest.fixture(scope="module")
def shared_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """One store for the transition tables: each case makes an incident of its own."""
    folder = tmp_path_factory.mktemp("lifecycle")
    runtime = create_runtime(Settings(database_url=f"sqlite:///{folder / 'store.db'}", scheduler_enabled=False,
                                      postmortem_dir=str(folder / "postmortems")))
    yield runtime
    runtime.close()


LEGAL = [(src, dst) for src, targets in TRANSITIONS.items() for dst in targets]
ILLEGAL = [(src, dst) for src in STATUSES for dst in STATUSES if dst not in TRANSITIONS[src]]


@pytest.mark.parametrize(("src", "dst"), LEGAL, ids=[f"{s}->{d}" for s, d in LEGAL])
def test_every_legal_transition_is_a_timeline_event_with_actor_and_time(shared_runtime: Runtime, src: str,
                                                                        dst: str) -> None:
    runtime = shared_runtime
    incident_id = new_incident_in(runtime, src)
    before = utcnow()
    with transaction(runtime.sessions) as session:
        incident = get_incident(session, incident_id)
        event = transition(session, incident, dst, actor="U024BE7LH", note="checked the dashboards")
    with transaction(runtime.sessions) as session:
        incident = get_incident(session, incident_id)
        assert incident.status == dst
        last = incident.events[-1]
        assert last.id == event.id and last.kind == "status_changed"
        assert last.actor == "U024BE7LH"
        assert before - timedelta(seconds=1) <= last.occurred_at <= utcnow()
        assert last.data == {"from": src, "to": dst, "note": "checked the dashboards"}
        assert f"{src} → {dst}" in last.message
        stamp = {"acknowledged": incident.acknowledged_at, "mitigated": incident.mitigated_at,
                 "resolved": incident.resolved_at}.get(dst)
        if dst in ("mitigated", "resolved"):
            assert stamp is not None and stamp >= before - timedelta(seconds=1)
        if dst == "acknowledged":
            assert incident.acknowledged_at is not None
        if dst == "reopened":
            assert incident.resolved_at is None


@pytest.mark.parametrize(("src", "dst"), ILLEGAL, ids=[f"{s}->{d}" for s, d in ILLEGAL])
def test_illegal_transitions_are_refused_with_a_clear_message(shared_runtime: Runtime, src: str, dst: str) -> None:
    runtime = shared_runtime
    incident_id = new_incident_in(runtime, src)
    with transaction(runtime.sessions) as session:
        incident = get_incident(session, incident_id)
        events_before = len(incident.events)
        with pytest.raises(IllegalTransition) as raised:
            transition(session, incident, dst, actor="someone")
        message = str(raised.value)
        assert f"INC-{incident_id} is {src}" in message and f"cannot move to {dst}" in message
        for allowed in TRANSITIONS[src]:
            assert allowed in message
        assert incident.status == src
        assert len(incident.events) == events_before


def test_unknown_status_is_refused(shared_runtime: Runtime) -> None:
    incident_id = new_incident_in(shared_runtime, "triggered")
    with transaction(shared_runtime.sessions) as session, \
            pytest.raises(IllegalTransition, match="unknown status 'closed'"):
        transition(session, get_incident(session, incident_id), "closed", actor="someone")


def test_resolve_reopen_and_resolve_again(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime), client=("127.0.0.1", 50000))
    assert client.post("/alerts/alertmanager", json=am_payload(am_alert("fp-reopen"))).status_code == 201
    with transaction(runtime.sessions) as session:
        incident = get_incident(session, "INC-1")
        for step, actor in [("acknowledged", "alice"), ("mitigating", "alice"), ("mitigated", "bot"),
                            ("resolved", "alice"), ("reopened", "bob"), ("acknowledged", "bob"), ("resolved", "bob")]:
            transition(session, incident, step, actor=actor)
    detail = client.get("/incidents/INC-1").json()
    changes = [(e["data"]["from"], e["data"]["to"], e["actor"]) for e in detail["timeline"]
               if e["kind"] == "status_changed"]
    assert changes == [("triggered", "acknowledged", "alice"), ("acknowledged", "mitigating", "alice"),
                       ("mitigating", "mitigated", "bot"), ("mitigated", "resolved", "alice"),
                       ("resolved", "reopened", "bob"), ("reopened", "acknowledged", "bob"),
                       ("acknowledged", "resolved", "bob")]
    assert detail["status"] == "resolved" and detail["resolved_at"] is not None
    # Resolved for good: the same alert firing again is a new incident, not a silent join.
    again = client.post("/alerts/alertmanager", json=am_payload(am_alert("fp-reopen")))
    assert again.status_code == 201 and again.json()["incidents"] == ["INC-2"]


def test_alerts_join_a_reopened_incident(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime), client=("127.0.0.1", 50000))
    client.post("/alerts/alertmanager", json=am_payload(am_alert("fp-a", service="payments")))
    with transaction(runtime.sessions) as session:
        incident = get_incident(session, "INC-1")
        transition(session, incident, "resolved", actor="alice")
        transition(session, incident, "reopened", actor="alice")
    response = client.post("/alerts/alertmanager", json=am_payload(am_alert("fp-b", service="payments")))
    assert response.json()["incidents"] == ["INC-1"] and response.json()["joined"] == 1


# ---------------------------------------------------------------- change events on the timeline


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), client=("127.0.0.1", 50000)) as c:
        yield c


def test_changes_inside_the_incident_window_appear_on_its_timeline(client: TestClient, runtime: Runtime,
                                                                   tmp_path: Path) -> None:
    # The ranker calls the feature store (its catalog dependency), so the store's changes count too;
    # another service's change does not.
    (tmp_path / "catalog.yaml").write_text(
        "services:\n  - name: ranker\n    dependencies: [{name: feature-store}]\n")
    runtime.catalog = load_catalog(tmp_path / "catalog.yaml")
    now = datetime.now(UTC).replace(microsecond=0)
    started = now - timedelta(minutes=10)
    client.post("/alerts/alertmanager", json=am_payload(am_alert("fp-change", service="ranker",
                                                                 starts_at=iso(started) or "")))

    def change(at: datetime, description: str, **extra: str) -> None:
        body = {"timestamp": iso(at), "kind": "model_deploy", "service": "ranker", "description": description,
                **extra}
        response = client.post("/changes", json=body)
        assert response.status_code == 201, response.text

    change(now - timedelta(minutes=30), "ranker v42 rolled out", from_version="41", to_version="42")
    change(now - timedelta(hours=3), "ranker v41 rolled out (long before)")
    change(now + timedelta(hours=2), "scheduled v43 (not yet)")
    # epoch seconds are a timestamp too
    client.post("/changes", json={"timestamp": (now - timedelta(minutes=5)).timestamp(), "kind": "config_change",
                                  "service": "feature-store", "description": "TTL 1h → 10m"})
    client.post("/changes", json={"timestamp": (now - timedelta(minutes=4)).timestamp(), "kind": "model_deploy",
                                  "service": "search", "description": "another service's deploy"})

    detail = client.get("/incidents/INC-1").json()
    shown = [e for e in detail["timeline"] if e["kind"] == "change"]
    assert [e["data"]["description"] for e in shown] == ["ranker v42 rolled out", "TTL 1h → 10m"]
    deploy = shown[0]
    assert deploy["at"] == iso(now - timedelta(minutes=30))
    assert deploy["data"]["from_version"] == "41" and deploy["data"]["to_version"] == "42"
    assert deploy["actor"] == "api" and "model_deploy on ranker" in deploy["message"]
    ats = [e["at"] for e in detail["timeline"]]
    assert ats == sorted(ats)  # one timeline, in time order

    # Once the incident is resolved, later changes are outside its window.
    with transaction(runtime.sessions) as session:
        transition(session, get_incident(session, "INC-1"), "resolved", actor="alice")
    change(datetime.now(UTC) + timedelta(minutes=1), "ranker v43 rolled out (after the incident)")
    after = [e["data"]["description"] for e in client.get("/incidents/INC-1").json()["timeline"]
             if e["kind"] == "change"]
    assert after == ["ranker v42 rolled out", "TTL 1h → 10m"]


# ---------------------------------------------------------------- GET /incidents filters


def test_incident_list_filters(client: TestClient, runtime: Runtime) -> None:
    for i, (service, severity) in enumerate([("ranker", "critical"), ("fraud", "warning"), ("search", "info")]):
        body = am_payload(am_alert(f"fp-f{i}", service=service, severity=severity),
                          group_key=f'{{}}:{{service="{service}"}}')
        assert client.post("/alerts/alertmanager", json=body).status_code == 201
    with transaction(runtime.sessions) as session:
        transition(session, get_incident(session, "INC-2"), "resolved", actor="alice")

    def ids(**params: str) -> list[str]:
        response = client.get("/incidents", params=params)
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["incidents"]]

    assert ids() == ["INC-3", "INC-2", "INC-1"]
    assert ids(status="open") == ["INC-3", "INC-1"]
    assert ids(status="resolved") == ["INC-2"]
    assert ids(status="triggered") == ["INC-3", "INC-1"]
    assert ids(service="fraud") == ["INC-2"]
    assert ids(service="nothing-here") == []
    assert ids(severity="sev1") == ["INC-1"] and ids(severity="critical") == ["INC-1"]
    assert ids(severity="info") == ["INC-3"]
    assert ids(since=iso(utcnow() - timedelta(hours=1)) or "") == ["INC-3", "INC-2", "INC-1"]
    assert ids(since=iso(utcnow() + timedelta(hours=1)) or "") == []
    assert ids(status="open", severity="sev3") == []
    assert ids(limit="1") == ["INC-3"]


@pytest.mark.parametrize(
    ("params", "message"),
    [({"status": "closed"}, "status: unknown status 'closed'"),
     ({"severity": "huge"}, "severity: unknown severity 'huge'"),
     ({"since": "last tuesday"}, "since: cannot parse timestamp 'last tuesday'"),
     ({"limit": "0"}, "limit: must be between 1 and 1000"),
     ({"limit": "5000"}, "limit: must be between 1 and 1000")],
)
def test_bad_filter_values_are_422_naming_the_filter(client: TestClient, params: dict[str, str], message: str) -> None:
    response = client.get("/incidents", params=params)
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_a_non_numeric_limit_is_422_naming_it(client: TestClient) -> None:
    response = client.get("/incidents", params={"limit": "many"})
    assert response.status_code == 422
    assert "limit" in str(response.json()["detail"])


def test_unknown_incident_is_404(client: TestClient) -> None:
    assert client.get("/incidents/INC-999").status_code == 404
    assert "no incident INC-999" in client.get("/incidents/INC-999").json()["detail"]
    assert "not an incident id" in client.get("/incidents/banana").json()["detail"]


# ---------------------------------------------------------------- /metrics


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_alerts_incidents_dedup_hits_and_latency(client: TestClient) -> None:
    first = am_payload(am_alert("fp-m1", severity="warning", service="m1"), group_key="g-m1")
    second = am_payload(am_alert("fp-m2", severity="critical", service="m2"), group_key="g-m2")
    for body in (first, first, first, second):
        assert client.post("/alerts/alertmanager", json=body).status_code in (201, 202)
    assert client.post("/alerts/alertmanager", json=am_payload(am_alert("fp-m1", status="resolved", service="m1"),
                                                               group_key="g-m1")).status_code == 202
    assert client.post("/alerts/alertmanager", content=b"{").status_code == 400
    m = samples(client)
    assert m[("mlresponder_alerts_received_total", (("source", "alertmanager"), ("status", "firing")))] == 4
    assert m[("mlresponder_alerts_received_total", (("source", "alertmanager"), ("status", "resolved")))] == 1
    assert m[("mlresponder_incidents_opened_total", (("severity", "sev3"),))] == 1
    assert m[("mlresponder_incidents_opened_total", (("severity", "sev1"),))] == 1
    assert m[("mlresponder_alert_dedup_hits_total", ())] == 2

    def latency_count(status: str) -> float:
        key = ("mlresponder_http_request_duration_seconds_count",
               (("method", "POST"), ("route", "/alerts/alertmanager"), ("status", status)))
        return m.get(key, 0.0)

    assert latency_count("201") == 2 and latency_count("202") == 3 and latency_count("400") == 1
    buckets = [v for (name, labels), v in m.items() if name == "mlresponder_http_request_duration_seconds_bucket"
               and ("status", "202") in labels and ("le", "+Inf") in labels]
    assert buckets == [3.0]


def test_timeline_events_are_committed_with_the_delivery(runtime: Runtime) -> None:
    """The event log is written in the delivery's transaction: one delivery, its events, nothing else."""
    client = TestClient(create_app(runtime), client=("127.0.0.1", 50000))
    client.post("/alerts/alertmanager", json=am_payload(am_alert("fp-ev1"), am_alert("fp-ev2", service="other")))
    with transaction(runtime.sessions) as session:
        kinds = [e.kind for e in session.query(TimelineEvent).order_by(TimelineEvent.id)]
    assert kinds == ["incident_opened", "alert_fired", "alert_joined"]
