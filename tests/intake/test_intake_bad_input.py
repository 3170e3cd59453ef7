"""Bad input: a 4xx whose message names the field at fault, and nothing stored.

Every case runs against a store that already holds an incident, an alert and a change, and
compares the row count of every table before and after the refused delivery.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from intake_support import ServiceProcess, am_alert, am_payload, store_counts

from bot.api import create_app
from bot.config import Settings
from bot.wiring import create_runtime

VALID_GENERIC = {
    "title": "feature null rate above 5%", "source": "great-expectations", "severity": "high",
    "labels": {"service": "ranker"}, "annotations": {"runbook": "data-quality"},
    "starts_at": "2026-11-27T03:00:00Z",
}
VALID_CHANGE = {
    "timestamp": "2026-11-27T02:55:00Z", "kind": "model_deploy", "service": "ranker",
    "description": "ranker v42 rolled out", "from_version": "41", "to_version": "42",
}


def _am(mutate: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    payload = am_payload(am_alert("fp-bad", service="checkout"))
    mutate(payload)
    return payload


def _generic(**changes: Any) -> dict[str, Any]:
    body = {**copy.deepcopy(VALID_GENERIC), **changes}
    return {k: v for k, v in body.items() if v is not _DROP}


def _change(**changes: Any) -> dict[str, Any]:
    body = {**VALID_CHANGE, **changes}
    return {k: v for k, v in body.items() if v is not _DROP}


_DROP = object()


def _body_for(route: str) -> dict[str, Any]:
    """A valid body for the route: a refusal is then about the request, not about the body."""
    if route == "/changes":
        return dict(VALID_CHANGE)
    if route == "/alerts":
        return _generic()
    if route == "/alerts/grafana":
        return {"status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "x"},
                                                "startsAt": "2026-11-27T03:00:00Z"}]}
    return am_payload()


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(payload: dict[str, Any]) -> None:
        target: Any = payload
        for key in path[:-1]:
            target = target[key]
        if value is _DROP:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return mutate


# (route, body: raw bytes or a JSON-able object, expected status, text the message must contain)
CASES: list[tuple[str, str, Any, int, str]] = [
    ("malformed-json", "/alerts/alertmanager", b'{"version": "4", "alerts": [', 400, "body: malformed JSON"),
    ("trailing-garbage", "/alerts", b'{"title": "x"} extra', 400, "body: malformed JSON"),
    ("empty-body", "/alerts/alertmanager", b"", 400, "body: empty"),
    ("not-an-object", "/alerts/alertmanager", [1, 2], 422, "body: expected a JSON object, got list"),
    ("alerts-not-a-list", "/alerts/alertmanager", _am(_set(["alerts"], {"0": {}})), 422, "alerts:"),
    ("alerts-empty", "/alerts/alertmanager", _am(_set(["alerts"], [])), 422, "alerts:"),
    ("missing-startsAt", "/alerts/alertmanager", _am(_set(["alerts", 0, "startsAt"], _DROP)), 422,
     "alerts[0].startsAt: Field required"),
    ("missing-labels", "/alerts/alertmanager", _am(_set(["alerts", 0, "labels"], _DROP)), 422,
     "alerts[0].labels: Field required"),
    ("label-not-a-string", "/alerts/alertmanager", _am(_set(["alerts", 0, "labels", "replicas"], 3)), 422,
     "alerts[0].labels.replicas"),
    ("unknown-alert-status", "/alerts/alertmanager", _am(_set(["alerts", 0, "status"], "pending")), 422,
     "alerts[0].status"),
    ("unknown-severity", "/alerts/alertmanager", _am(_set(["alerts", 0, "labels", "severity"], "catastrophic")),
     422, "alerts[0].labels.severity: unknown severity 'catastrophic'"),
    ("unparseable-startsAt", "/alerts/alertmanager", _am(_set(["alerts", 0, "startsAt"], "yesterday")), 422,
     "alerts[0].startsAt: cannot parse timestamp 'yesterday'"),
    ("impossible-date", "/alerts/alertmanager", _am(_set(["alerts", 0, "startsAt"], "2026-13-45T00:00:00Z")),
     422, "alerts[0].startsAt: cannot parse timestamp"),
    ("unparseable-endsAt", "/alerts/alertmanager", _am(_set(["alerts", 0, "endsAt"], "soon")), 422,
     "alerts[0].endsAt: cannot parse timestamp 'soon'"),
    ("wrong-version", "/alerts/alertmanager", _am(_set(["version"], "3")), 422,
     "version: unsupported Alertmanager webhook version '3'"),
    ("missing-version", "/alerts/alertmanager", _am(_set(["version"], _DROP)), 422, "version: Field required"),
    # the second alert is bad: the first (valid) one must not be stored either
    ("one-bad-alert-of-two", "/alerts/alertmanager",
     am_payload(am_alert("fp-good", service="checkout"), am_alert("fp-bad2", severity="urgent!")), 422,
     "alerts[1].labels.severity: unknown severity 'urgent!'"),
    ("grafana-missing-startsAt", "/alerts/grafana",
     {"status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "x"}}]}, 422,
     "alerts[0].startsAt: Field required"),
    ("grafana-bad-severity", "/alerts/grafana",
     {"status": "firing", "alerts": [{"status": "firing", "labels": {"severity": "meh"},
                                      "startsAt": "2026-11-27T03:00:00Z"}]}, 422,
     "alerts[0].labels.severity: unknown severity 'meh'"),
    ("generic-unknown-field", "/alerts", _generic(labelz={"service": "x"}), 422,
     "labelz: Extra inputs are not permitted"),
    ("generic-unknown-severity", "/alerts", _generic(severity="apocalyptic"), 422,
     "severity: unknown severity 'apocalyptic'"),
    ("generic-missing-title", "/alerts", _generic(title=_DROP), 422, "title: Field required"),
    ("generic-bad-timestamp", "/alerts", _generic(starts_at="3 minutes ago"), 422,
     "starts_at: cannot parse timestamp '3 minutes ago'"),
    ("generic-boolean-timestamp", "/alerts", _generic(starts_at=True), 422, "starts_at: expected an ISO-8601"),
    ("generic-epoch-out-of-range", "/alerts", _generic(starts_at=1e20), 422, "starts_at: epoch seconds out of range"),
    ("generic-missing-timestamp", "/alerts", _generic(starts_at=_DROP), 422, "starts_at: Field required"),
    ("change-unknown-kind", "/changes", _change(kind="deploy"), 422, "kind: unknown change kind 'deploy'"),
    ("change-bad-timestamp", "/changes", _change(timestamp="after lunch"), 422,
     "timestamp: cannot parse timestamp 'after lunch'"),
    ("change-missing-description", "/changes", _change(description=_DROP), 422, "description: Field required"),
    ("change-unknown-field", "/changes", _change(author="me"), 422, "author: Extra inputs are not permitted"),
    ("change-not-an-object", "/changes", "model_deploy", 422, "body: expected a JSON object, got str"),
]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    """A client on a store that already holds one incident, one alert and one change.

    Shared by the module: refused deliveries leave it as it was (which is what the cases check)."""
    folder = tmp_path_factory.mktemp("bad-input")
    runtime = create_runtime(Settings(database_url=f"sqlite:///{folder / 'store.db'}", scheduler_enabled=False,
                                      postmortem_dir=str(folder / "postmortems")))
    client = TestClient(create_app(runtime), client=("127.0.0.1", 50000))
    assert client.post("/alerts", json=VALID_GENERIC).status_code == 201
    assert client.post("/changes", json=VALID_CHANGE).status_code == 201
    yield client, runtime.settings.database_url
    client.close()
    runtime.close()


@pytest.mark.parametrize(("route", "body", "status", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_the_field_named_and_nothing_stored(
    seeded: tuple[TestClient, str], route: str, body: Any, status: int, message: str
) -> None:
    client, url = seeded
    before = store_counts(url)
    assert before["incidents"] >= 1 and before["alerts"] >= 1 and before["change_events"] >= 1
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = client.post(route, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert message in detail
    assert store_counts(url) == before


def test_a_valid_delivery_after_the_refusals_is_stored(seeded: tuple[TestClient, str]) -> None:
    """The counterpart of the cases above: the same routes do store good input (the check can fail)."""
    client, url = seeded
    before = store_counts(url)
    assert client.post("/alerts/alertmanager", json=am_payload(am_alert("fp-ok", service="search"))).status_code == 201
    assert client.post("/changes", json=_change(service="search")).status_code == 201
    after = store_counts(url)
    assert after["incidents"] == before["incidents"] + 1
    assert after["alerts"] == before["alerts"] + 1
    assert after["change_events"] == before["change_events"] + 1


@pytest.mark.parametrize("route", ["/alerts/alertmanager", "/alerts/grafana", "/alerts", "/changes"])
def test_without_a_token_a_client_not_on_loopback_is_refused(settings: Settings, route: str) -> None:
    runtime = create_runtime(settings)
    try:
        client = TestClient(create_app(runtime, bind_host="0.0.0.0"), client=("192.0.2.10", 40000))
        before = store_counts(settings.database_url)
        response = client.post(route, json=_body_for(route))
        assert response.status_code == 401
        assert "MLRESPONDER_API_TOKEN" in response.json()["detail"]
        assert store_counts(settings.database_url) == before
        assert client.get("/healthz").status_code == 200
        assert client.get("/incidents").status_code == 401
    finally:
        runtime.close()


def test_with_a_token_a_server_not_on_loopback_accepts_intake(settings: Settings) -> None:
    runtime = create_runtime(settings.with_(api_token="s3cr3t-intake"))
    try:
        client = TestClient(create_app(runtime, bind_host="0.0.0.0"), client=("192.0.2.10", 40000))
        response = client.post("/alerts", json=VALID_GENERIC, headers={"Authorization": "Bearer s3cr3t-intake"})
        assert response.status_code == 201
    finally:
        runtime.close()


# ---------------------------------------------------------------- over a real server: token, body size

TOKEN = "tok-intake-7f3a"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """`mlresponder serve` with MLRESPONDER_API_TOKEN set, on SQLite."""
    db = tmp_path_factory.mktemp("guarded") / "store.db"
    # No runbooks: an accepted alert's runbook would otherwise still be writing while a later test
    # checks that a refused body stored nothing.
    no_runbooks = tmp_path_factory.mktemp("no-runbooks")
    service = ServiceProcess(f"sqlite:///{db}", api_token=TOKEN,
                             extra_env={"MLRESPONDER_RUNBOOKS": str(no_runbooks)}).start()
    yield service
    service.close()


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Basic {TOKEN}"},
     {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": "Bearer"}],
    ids=["missing", "wrong", "wrong-scheme", "longer", "empty"],
)
@pytest.mark.parametrize("route", ["/alerts/alertmanager", "/alerts", "/changes"])
def test_missing_or_wrong_bearer_token_is_refused(guarded: ServiceProcess, route: str,
                                                  headers: dict[str, str]) -> None:
    before = store_counts(guarded.database_url)
    response = httpx.post(guarded.url + route, json=_body_for(route), headers=headers, timeout=10)
    assert response.status_code == 401
    assert "authorization" in response.json()["detail"]
    assert TOKEN not in response.text
    assert store_counts(guarded.database_url) == before


def test_the_right_bearer_token_is_accepted_and_never_logged(guarded: ServiceProcess) -> None:
    before = store_counts(guarded.database_url)
    response = httpx.post(guarded.url + "/alerts/alertmanager", json=am_payload(am_alert("fp-token-ok")),
                          headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert response.status_code == 201, response.text
    assert store_counts(guarded.database_url)["incidents"] == before["incidents"] + 1
    assert TOKEN not in guarded.log()


MIB = 1024 * 1024


def _padded_payload(size: int) -> bytes:
    """A valid Alertmanager delivery of exactly ``size`` bytes (padding in an annotation)."""
    payload = am_payload(am_alert("fp-size", service="padded"), group_key="{}:{service=\"padded\"}")
    payload["alerts"][0]["annotations"]["padding"] = ""
    bare = len(json.dumps(payload).encode())
    payload["alerts"][0]["annotations"]["padding"] = "x" * (size - bare)
    raw = json.dumps(payload).encode()
    assert len(raw) == size
    return raw


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_bodies_over_one_mib_are_refused_with_413(guarded: ServiceProcess, chunked: bool) -> None:
    before = store_counts(guarded.database_url)
    raw = _padded_payload(MIB + 1)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    if chunked:
        def chunks() -> Iterator[bytes]:
            for i in range(0, len(raw), 64 * 1024):
                yield raw[i : i + 64 * 1024]

        response = httpx.post(guarded.url + "/alerts/alertmanager", content=chunks(), headers=headers, timeout=30)
        assert "content-length" not in {k.lower() for k in response.request.headers}
    else:
        response = httpx.post(guarded.url + "/alerts/alertmanager", content=raw, headers=headers, timeout=30)
    assert response.status_code == 413
    assert response.json()["detail"] == f"body: larger than {MIB} bytes"
    assert store_counts(guarded.database_url) == before


def test_a_body_of_exactly_one_mib_is_accepted(guarded: ServiceProcess) -> None:
    response = httpx.post(guarded.url + "/alerts/alertmanager", content=_padded_payload(MIB),
                          headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 201, response.text
