"""Grafana and generic alerts, and grouping by service within the configurable window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from intake_support import am_alert, am_payload
from sqlalchemy import update

from bot.api import create_app
from bot.config import Settings
from bot.db import transaction, utcnow
from bot.models import Incident
from bot.runtime import Runtime
from bot.wiring import create_runtime


def grafana_payload(status: str = "firing", ends_at: str = "0001-01-01T00:00:00Z") -> dict[str, Any]:
    """What Grafana unified alerting's webhook contact point sends (version 1)."""
    labels = {"alertname": "Ranker p99 latency", "grafana_folder": "ML serving", "service": "ranker",
              "severity": "warning"}
    alert = {
        "status": status, "labels": labels,
        "annotations": {"summary": "ranker p99 latency 840 ms (SLO 300 ms)", "description": "since 03:02"},
        "startsAt": "2026-11-27T03:02:00Z", "endsAt": ends_at,
        "generatorURL": "http://grafana.local/alerting/grafana/bdzx1/view?orgId=1",
        "fingerprint": "57c6d9296de2ad39",
        "silenceURL": "http://grafana.local/alerting/silence/new?alertmanager=grafana",
        "dashboardURL": "http://grafana.local/d/ml-serving", "panelURL": "http://grafana.local/d/ml-serving?viewPanel=4",
        "values": {"B": 840.2, "C": 1}, "valueString": "[ var='B' labels={service=ranker} value=840.2 ]",
    }
    return {
        "receiver": "mlresponder", "status": status, "orgId": 1, "alerts": [alert],
        "groupLabels": {"alertname": "Ranker p99 latency", "grafana_folder": "ML serving"},
        "commonLabels": labels, "commonAnnotations": alert["annotations"], "externalURL": "http://grafana.local/",
        "version": "1", "groupKey": '{}/{}:{alertname="Ranker p99 latency"}', "truncatedAlerts": 0,
        "title": "[FIRING:1] Ranker p99 latency ML serving (ranker warning)", "state": "alerting",
        "message": "**Firing**\n\nValue: B=840.2\nLabels:\n - alertname = Ranker p99 latency\n",
    }


def test_a_grafana_alert_opens_an_incident_dedups_and_resolves(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime), client=("127.0.0.1", 50000))
    response = client.post("/alerts/grafana", json=grafana_payload())
    assert response.status_code == 201, response.text
    assert response.json()["incidents"] == ["INC-1"]
    assert client.post("/alerts/grafana", json=grafana_payload()).json()["duplicates"] == 1
    detail = client.get("/incidents/INC-1").json()
    assert detail["title"] == "ranker p99 latency 840 ms (SLO 300 ms)"
    assert detail["severity"] == "sev3" and detail["service"] == "ranker" and detail["source"] == "grafana"
    (alert,) = detail["alerts"]
    assert alert["fingerprint"] == "57c6d9296de2ad39" and alert["deliveries"] == 2
    assert alert["annotations"]["dashboardURL"] == "http://grafana.local/d/ml-serving"
    resolved = client.post("/alerts/grafana", json=grafana_payload("resolved", "2026-11-27T03:20:00Z"))
    assert resolved.json()["resolved"] == 1
    detail = client.get("/incidents/INC-1").json()
    assert detail["alerts_resolved"] is True and detail["alerts"][0]["ends_at"] == "2026-11-27T03:20:00Z"
    assert detail["status"] == "triggered"


def test_a_generic_alert_opens_an_incident_and_a_resend_is_a_duplicate(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime), client=("127.0.0.1", 50000))
    body = {"title": "nightly feature pipeline produced 0 rows", "source": "airflow", "severity": "high",
            "labels": {"service": "feature-store", "dag": "features_nightly"}, "annotations": {"run": "42"},
            "starts_at": 1795748400}
    first = client.post("/alerts", json=body)
    assert first.status_code == 201 and first.json()["incidents"] == ["INC-1"]
    second = client.post("/alerts", json=body)  # no fingerprint given: derived from source, labels and title
    assert second.status_code == 202 and second.json()["duplicates"] == 1
    detail = client.get("/incidents/INC-1").json()
    assert detail["severity"] == "sev2" and detail["service"] == "feature-store" and detail["source"] == "airflow"
    assert detail["started_at"] == "2026-11-27T03:00:00Z"
    other = client.post("/alerts", json={**body, "labels": {"dag": "other"}, "title": "another pipeline"})
    assert other.json()["incidents"] == ["INC-2"]  # no service label, other fingerprint: its own incident


def _post(client: TestClient, fingerprint: str, service: str, group: str) -> dict[str, Any]:
    response = client.post("/alerts/alertmanager", json=am_payload(am_alert(fingerprint, service=service),
                                                                   group_key=group))
    assert response.status_code in (201, 202), response.text
    return dict(response.json())


def test_same_service_within_the_window_joins_and_outside_it_opens_anew(settings: Settings) -> None:
    runtime = create_runtime(settings.with_(group_window_seconds=600))
    try:
        client = TestClient(create_app(runtime), client=("127.0.0.1", 50000))
        assert _post(client, "fp-w1", "ranker", "g1")["incidents"] == ["INC-1"]
        joined = _post(client, "fp-w2", "ranker", "g2")  # another group, same service, inside 10 minutes
        assert joined["incidents"] == ["INC-1"] and joined["joined"] == 1
        assert _post(client, "fp-w3", "search", "g3")["incidents"] == ["INC-2"]  # another service
        message = [e["message"] for e in client.get("/incidents/INC-1").json()["timeline"]
                   if e["kind"] == "alert_joined"]
        assert message == ["alert joined (service): AccuracyDrop on ranker"]
        # Eleven minutes later (the incident was opened 11 minutes ago), a new ranker alert is a new incident.
        with transaction(runtime.sessions) as session:
            session.execute(update(Incident).where(Incident.id == 1)
                            .values(created_at=utcnow() - timedelta(minutes=11)))
        assert _post(client, "fp-w4", "ranker", "g4")["incidents"] == ["INC-3"]
        # ...while alerts already routed to INC-1 (by fingerprint or group) still go there.
        assert _post(client, "fp-w2", "ranker", "g2")["incidents"] == ["INC-1"]
        assert _post(client, "fp-w5", "ranker", "g1")["incidents"] == ["INC-1"]
    finally:
        runtime.close()


def test_a_zero_window_turns_service_grouping_off(settings: Settings) -> None:
    runtime = create_runtime(settings.with_(group_window_seconds=0))
    try:
        client = TestClient(create_app(runtime), client=("127.0.0.1", 50000))
        assert _post(client, "fp-z1", "ranker", "z1")["incidents"] == ["INC-1"]
        assert _post(client, "fp-z2", "ranker", "z2")["incidents"] == ["INC-2"]
    finally:
        runtime.close()


def test_the_window_comes_from_the_environment() -> None:
    assert Settings.from_env({"MLRESPONDER_GROUP_WINDOW_SECONDS": "120"}).group_window_seconds == 120


def test_alerts_without_a_service_never_group_by_service(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime), client=("127.0.0.1", 50000))
    for i in range(2):
        body = am_payload(am_alert(f"fp-u{i}"), group_key=f"u{i}")
        body["alerts"][0]["labels"] = {"alertname": f"Orphan{i}"}
        assert client.post("/alerts/alertmanager", json=body).json()["incidents"] == [f"INC-{i + 1}"]


def test_a_resolved_alert_never_seen_firing_is_ignored(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime), client=("127.0.0.1", 50000))
    response = client.post("/alerts/alertmanager", json=am_payload(am_alert("fp-ghost", status="resolved")))
    assert response.status_code == 202 and response.json()["ignored"] == 1
    assert client.get("/incidents").json()["incidents"] == []


def test_all_alerts_resolved_only_when_the_last_one_resolves(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime), client=("127.0.0.1", 50000))
    client.post("/alerts/alertmanager", json=am_payload(am_alert("fp-r1"), am_alert("fp-r2")))
    client.post("/alerts/alertmanager", json=am_payload(am_alert("fp-r1", status="resolved")))
    assert client.get("/incidents/INC-1").json()["alerts_resolved"] is False
    client.post("/alerts/alertmanager", json=am_payload(am_alert("fp-r2", status="resolved")))
    detail = client.get("/incidents/INC-1").json()
    assert detail["alerts_resolved"] is True
    # It fires again while the incident is open: no longer all resolved, and the timeline says so.
    client.post("/alerts/alertmanager", json=am_payload(am_alert("fp-r2")))
    detail = client.get("/incidents/INC-1").json()
    assert detail["alerts_resolved"] is False
    assert [e["kind"] for e in detail["timeline"]][-1] == "alert_refired"
