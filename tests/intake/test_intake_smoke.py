from __future__ import annotations

from fastapi.testclient import TestClient

from bot.api import create_app
from bot.runtime import Runtime


def am_payload(fp: str = "abc", status: str = "firing", group: str = "{}:{alertname=\"X\"}") -> dict:
    return {
        "version": "4", "groupKey": group, "status": status, "receiver": "mlr",
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
        "alerts": [{
            "status": status, "labels": {"alertname": "AccuracyDrop", "service": "fraud", "severity": "critical"},
            "annotations": {"summary": "accuracy dropped"}, "startsAt": "2026-11-27T03:02:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prom", "fingerprint": fp,
        }],
    }


def test_alert_opens_one_incident_and_dedups(runtime: Runtime) -> None:
    client = TestClient(create_app(runtime), client=("127.0.0.1", 50000))
    r = client.post("/alerts/alertmanager", json=am_payload())
    assert r.status_code == 201, r.text
    assert r.json()["incidents"] == ["INC-1"]
    r2 = client.post("/alerts/alertmanager", json=am_payload())
    assert r2.status_code == 202 and r2.json()["duplicates"] == 1
    r3 = client.post("/alerts/alertmanager", json=am_payload(status="resolved"))
    assert r3.json()["resolved"] == 1
    inc = client.get("/incidents/INC-1").json()
    assert inc["severity"] == "sev1" and inc["service"] == "fraud" and inc["alerts_resolved"] is True
    assert inc["status"] == "triggered"
    kinds = [e["kind"] for e in inc["timeline"]]
    assert kinds == ["incident_opened", "alert_fired", "alert_resolved", "alerts_all_resolved"]
    assert len(client.get("/incidents").json()["incidents"]) == 1


def test_intake_answer_is_exactly_the_documented_shape(runtime: Runtime) -> None:
    """The route sends `IngestResult.to_dict()` as it is (no per-delivery validation): it must be
    the `IngestAnswer` shape, with no key missing and none added."""
    from bot.api.schemas import IngestAnswer

    client = TestClient(create_app(runtime), client=("127.0.0.1", 50000))
    for body, status in ((am_payload("shape"), 201), (am_payload("shape"), 202)):
        r = client.post("/alerts/alertmanager", json=body)
        assert r.status_code == status, r.text
        assert set(r.json()) == set(IngestAnswer.model_fields)
        assert IngestAnswer.model_validate(r.json()).model_dump() == r.json()


def test_resends_counted_without_a_session_still_follow_the_alert_lifecycle(runtime: Runtime) -> None:
    """A fingerprint this process has seen is first counted as a re-send in one statement
    (`count_resends`); whenever that is not what it is, the delivery is routed in full."""
    from bot.db import transaction
    from bot.incidents import get_incident, transition
    from bot.intake import RecentFingerprints

    client = TestClient(create_app(runtime), client=("127.0.0.1", 50000))
    assert client.post("/alerts/alertmanager", json=am_payload("fast")).status_code == 201
    assert "fast" in runtime.parts[RecentFingerprints]  # the hint is installed and holds it
    for _ in range(3):
        r = client.post("/alerts/alertmanager", json=am_payload("fast"))
        assert r.status_code == 202 and r.json() == {"incidents": ["INC-1"], "opened": 0, "joined": 0,
                                                      "duplicates": 1, "resolved": 0, "ignored": 0}
    assert client.post("/alerts/alertmanager", json=am_payload("fast", status="resolved")).json()["resolved"] == 1
    # Seen, but resolved: the one-statement count finds nothing, routing sees it fire again.
    r = client.post("/alerts/alertmanager", json=am_payload("fast"))
    assert r.status_code == 202 and r.json()["duplicates"] == 1
    inc = client.get("/incidents/INC-1").json()
    assert inc["alerts"][0]["deliveries"] == 6 and inc["alerts"][0]["status"] == "firing"
    assert [e["kind"] for e in inc["timeline"]][-2:] == ["alerts_all_resolved", "alert_refired"]
    with transaction(runtime.sessions) as s:
        transition(s, get_incident(s, "INC-1"), "resolved", actor="test")
    # Seen, but its incident is closed: a new incident, never a count on the closed one.
    r = client.post("/alerts/alertmanager", json=am_payload("fast"))
    assert r.status_code == 201 and r.json()["incidents"] == ["INC-2"]
    assert client.get("/incidents/INC-1").json()["alerts"][0]["deliveries"] == 6
