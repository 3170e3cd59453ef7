"""Deduplication and grouping under concurrent deliveries, over a real `mlresponder serve`.

Alertmanager re-sends, several Alertmanager replicas send the same group, and the server handles
requests on many threads at once: "never a second incident" must hold when the same payload
races itself, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from intake_support import ServiceProcess, am_alert, am_payload, store_counts


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """One server per backend for the module; tests use their own services and group keys."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('concurrency') / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_server").new_database()
    service = ServiceProcess(url).start()
    yield service
    service.close()


def post_all_at_once(url: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    """Post every body from its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(bodies))
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=len(bodies))
    with httpx.Client(limits=limits, timeout=60) as client:

        def send(body: dict[str, Any]) -> httpx.Response:
            barrier.wait()
            return client.post(url + "/alerts/alertmanager", json=body)

        with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
            return list(pool.map(send, bodies))


def incidents_of(server: ServiceProcess, **filters: str) -> list[dict[str, Any]]:
    response = httpx.get(server.url + "/incidents", params={**filters, "limit": "1000"}, timeout=30)
    assert response.status_code == 200, response.text
    return list(response.json()["incidents"])


def incident(server: ServiceProcess, ref: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/incidents/{ref}", timeout=30)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_same_payload_posted_200_times_at_once_opens_exactly_one_incident(served: ServiceProcess) -> None:
    body = am_payload(am_alert("fp-race-200", service="race-200"), group_key='{}:{service="race-200"}')
    before = store_counts(served.database_url)

    responses = post_all_at_once(served.url, [body] * 200)

    assert [r.status_code for r in responses].count(201) == 1, [r.text for r in responses if r.status_code >= 300]
    assert all(r.status_code in (201, 202) for r in responses)
    results = [r.json() for r in responses]
    assert sum(r["opened"] for r in results) == 1
    assert sum(r["duplicates"] for r in results) == 199
    refs = {ref for r in results for ref in r["incidents"]}
    assert len(refs) == 1
    opened = incidents_of(served, service="race-200")
    assert [i["id"] for i in opened] == list(refs)
    detail = incident(served, opened[0]["id"])
    assert len(detail["alerts"]) == 1
    assert detail["alerts"][0]["deliveries"] == 200
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds.count("incident_opened") == 1 and kinds.count("alert_fired") == 1
    after = store_counts(served.database_url)
    assert after["incidents"] == before["incidents"] + 1
    assert after["alerts"] == before["alerts"] + 1
    assert after["dedup_keys"] == before["dedup_keys"] + 2  # the fingerprint and the group


def test_different_fingerprints_of_one_group_racing_join_one_incident(served: ServiceProcess) -> None:
    group = '{}:{alertname="FeatureDrift"}'
    # Different services too, so that only the group can bring them together.
    bodies = [am_payload(am_alert(f"fp-group-{i}", alertname="FeatureDrift", service=f"drift-svc-{i}"),
                      group_key=group) for i in range(30)]

    responses = post_all_at_once(served.url, bodies)

    assert all(r.status_code in (201, 202) for r in responses), [r.text for r in responses]
    refs = {ref for r in responses for ref in r.json()["incidents"]}
    assert len(refs) == 1
    detail = incident(served, refs.pop())
    assert sorted(a["fingerprint"] for a in detail["alerts"]) == sorted(f"fp-group-{i}" for i in range(30))
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds.count("incident_opened") == 1
    assert kinds.count("alert_fired") == 1 and kinds.count("alert_joined") == 29
    joined = [e for e in detail["timeline"] if e["kind"] == "alert_joined"]
    assert all("(group)" in e["message"] for e in joined)


def test_alerts_of_one_service_racing_within_the_window_join_one_incident(served: ServiceProcess) -> None:
    # Each alert its own group (as with group_by: [alertname]), one service.
    bodies = [am_payload(am_alert(f"fp-svc-{i}", alertname=f"Check{i}", service="same-service"),
                      group_key=f'{{}}:{{alertname="Check{i}"}}') for i in range(20)]

    responses = post_all_at_once(served.url, bodies)

    assert all(r.status_code in (201, 202) for r in responses), [r.text for r in responses]
    assert sum(r.json()["opened"] for r in responses) == 1
    opened = incidents_of(served, service="same-service")
    assert len(opened) == 1
    detail = incident(served, opened[0]["id"])
    assert len(detail["alerts"]) == 20


def test_one_delivery_with_several_alerts_opens_one_incident(served: ServiceProcess) -> None:
    body = am_payload(*[am_alert(f"fp-multi-{i}", service=f"multi-{i}") for i in range(5)],
                      group_key='{}:{alertname="Multi"}')
    response = httpx.post(served.url + "/alerts/alertmanager", json=body, timeout=30)
    assert response.status_code == 201
    result = response.json()
    assert result["opened"] == 1 and result["joined"] == 4 and len(result["incidents"]) == 1
    assert len(incident(served, result["incidents"][0])["alerts"]) == 5
