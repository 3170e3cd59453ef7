"""Every bad input a 4xx naming the field, nothing stored, on SQLite and PostgreSQL; the intake
fuzzed with hypothesis (valid and invalid payloads): never a 5xx, nothing stored from a 4xx."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from intake_support import am_alert, am_payload, store_counts

from bot.api import create_app
from bot.config import Settings
from bot.runtime import Runtime
from bot.wiring import create_runtime

LOCAL = ("127.0.0.1", 50000)
GENERIC = {"title": "accuracy drop", "source": "custom", "severity": "high", "labels": {"service": "ranker"},
           "annotations": {}, "starts_at": "2026-11-27T03:00:00Z"}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, Runtime]]:
    url = (f"sqlite:///{tmp_path / 'store.db'}" if request.param == "sqlite"
           else str(request.getfixturevalue("postgres_url")))
    runtime = create_runtime(Settings(database_url=url, scheduler_enabled=False,
                                      postmortem_dir=str(tmp_path / "pm")), install_parts=False)
    client = TestClient(create_app(runtime), client=LOCAL)
    assert client.post("/alerts", json=GENERIC).status_code == 201  # INC-1, service ranker
    yield client, runtime
    runtime.close()


def _am(**alert_changes: Any) -> dict[str, Any]:
    payload = am_payload(am_alert("fp-bad", service="checkout"))
    payload["alerts"][0].update(alert_changes)
    return payload


def _generic(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(GENERIC), **changes}


CASES: list[tuple[str, str, Any, int, str]] = [
    # id, route, body (dict or raw bytes), status, words the message must contain
    ("deep-json", "/alerts", b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
    ("5000-digit-number", "/alerts", b'{"title": "x", "starts_at": ' + b"9" * 5000 + b"}", 400, "out of range"),
    ("5000-digit-starts-at", "/alerts", _generic(starts_at=int("9" * 300)), 422, "starts_at"),
    ("year-1-with-offset", "/alerts/alertmanager", _am(startsAt="0001-01-01T00:00:00+01:00"), 422,
     "alerts[0].startsAt"),
    ("year-9999-with-offset", "/alerts/alertmanager", _am(startsAt="9999-12-31T23:59:59-01:00"), 422,
     "alerts[0].startsAt"),
    ("year-1", "/alerts", _generic(starts_at="0001-01-01T00:00:00Z"), 422, "1970-2200"),
    ("before-1970", "/alerts", _generic(starts_at="1969-12-31T23:59:59Z"), 422, "1970-2200"),
    ("after-2200", "/alerts", _generic(starts_at="2200-01-01T00:00:00Z"), 422, "1970-2200"),
    ("long-service", "/alerts", _generic(labels={"service": "s" * 201}), 422, "labels.service"),
    ("long-service-am", "/alerts/alertmanager", _am(labels={"alertname": "A", "service": "s" * 300}), 422,
     "alerts[0].labels.service"),
    ("long-group-key", "/alerts/alertmanager", {**_am(), "groupKey": "g" * 600}, 422, "groupKey"),
    ("nul-in-summary", "/alerts/alertmanager",
     _am(annotations={"summary": "accuracy\x00drop"}), 422, "alerts[0].annotations.summary"),
    ("nul-in-label-key", "/alerts", _generic(labels={"serv\x00ice": "x"}), 422, "NUL"),
    ("nul-in-title", "/alerts", _generic(title="a\x00b"), 422, "title"),
    ("long-fingerprint", "/alerts/alertmanager", _am(fingerprint="f" * 201), 422, "fingerprint"),
    ("long-generator-url", "/alerts/alertmanager", _am(generatorURL="http://x/" + "u" * 2000), 422,
     "generatorURL"),
    ("nul-in-change", "/changes", {"timestamp": "2026-11-27T03:00:00Z", "kind": "other", "service": "x",
                                   "description": "a\x00b"}, 422, "description"),
    ("change-year-1", "/changes", {"timestamp": "0001-01-01T00:00:00Z", "kind": "other", "service": "x",
                                   "description": "d"}, 422, "timestamp"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_4xx_naming_the_field_and_stores_nothing(store: tuple[TestClient, Runtime],
                                                                case: tuple[str, str, Any, int, str]) -> None:
    client, runtime = store
    _, route, body, status, words = case
    before = store_counts(runtime.settings.database_url)
    if isinstance(body, bytes):
        response = client.post(route, content=body, headers={"content-type": "application/json"})
    else:
        response = client.post(route, content=json.dumps(body).encode(), headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]
    assert store_counts(runtime.settings.database_url) == before


@pytest.mark.parametrize("ref", ["INC-99999999999999999999999", "99999999999999999999999", "INC-x", "INC--1"])
def test_incident_refs_are_validated(store: tuple[TestClient, Runtime], ref: str) -> None:
    client, _ = store
    response = client.get(f"/incidents/{ref}")
    assert response.status_code == 404
    assert "incident" in response.json()["detail"]


def test_an_old_alert_joining_an_incident_never_moves_its_start(store: tuple[TestClient, Runtime]) -> None:
    client, _ = store
    start = client.get("/incidents/INC-1").json()["started_at"]
    assert start == "2026-11-27T03:00:00Z"
    refused = client.post("/alerts", json=_generic(title="other", starts_at="0001-01-01T00:00:00Z"))
    assert refused.status_code == 422
    joined = client.post("/alerts", json=_generic(title="long firing", starts_at="1975-01-01T00:00:00Z"))
    assert joined.status_code == 202 and joined.json()["joined"] == 1
    earlier = client.post("/alerts", json=_generic(title="a bit earlier", starts_at="2026-11-27T02:58:00Z"))
    assert earlier.json()["joined"] == 1
    detail = client.get("/incidents/INC-1")
    assert detail.status_code == 200
    # Within the grouping window it moves back; a years-old start does not.
    assert detail.json()["started_at"] == "2026-11-27T02:58:00Z"


def test_a_malformed_slack_timestamp_header_is_a_400(tmp_path: Path) -> None:
    from slack_bolt import App

    from bot.chat.bolt_app import mount_events

    runtime = create_runtime(Settings(database_url=f"sqlite:///{tmp_path / 's.db'}", scheduler_enabled=False),
                             install_parts=False)
    try:
        app = create_app(runtime)
        mount_events(app, App(token="xoxb-test", signing_secret="secret-1234", token_verification_enabled=False))
        client = TestClient(app, client=LOCAL)
        for stamp in ("abc", "1e9", "-1", "9" * 40):
            response = client.post("/slack/events", content=b"command=%2Fincident",
                                   headers={"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=00"})
            assert response.status_code == 400, stamp
        response = client.post("/slack/events", content=b"command=%2Fincident",
                               headers={"X-Slack-Request-Timestamp": "1700000000", "X-Slack-Signature": "v0=00"})
        assert response.status_code == 401
    finally:
        runtime.close()


# ---------------------------------------------------------------- fuzzing the intake

text = st.text(st.characters(codec="utf-8"), max_size=60)
huge_text = st.one_of(text, st.text(min_size=190, max_size=700))
timestamps = st.one_of(
    st.builds(lambda d, zone: d.isoformat() + zone, st.datetimes(), st.sampled_from(["Z", "+01:00", "-12:00", ""])),
    st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59-01:00", "abc", "", "2026-11-27T03:00:00Z",
                     "1970-01-01T00:00:00Z", "2199-12-31T23:59:59+14:00"]),
    st.integers(min_value=-10**30, max_value=10**30), st.floats(allow_nan=True), st.booleans(), st.none(),
)
json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), text),
                           lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(text, inner, max_size=3)), max_leaves=8)
labels = st.one_of(st.dictionaries(huge_text, huge_text, max_size=4), json_values)
severities = st.one_of(st.sampled_from(["critical", "high", "warning", "info", "sev1", "p2"]), text, json_values)

generic_alerts = st.fixed_dictionaries(
    {"title": st.one_of(huge_text, json_values), "source": st.one_of(text, json_values), "severity": severities,
     "labels": labels, "annotations": labels, "starts_at": timestamps},
    optional={"fingerprint": st.one_of(huge_text, json_values), "status": st.sampled_from(["firing", "resolved", "x"]),
              "ends_at": timestamps, "extra": json_values},
)
am_alerts = st.fixed_dictionaries(
    {"status": st.sampled_from(["firing", "resolved", "x"]), "labels": labels, "annotations": labels,
     "startsAt": timestamps},
    optional={"endsAt": timestamps, "fingerprint": st.one_of(huge_text, json_values),
              "generatorURL": st.one_of(huge_text, json_values)},
)
am_payloads = st.fixed_dictionaries(
    {"version": st.sampled_from(["4", "3", 4]), "status": st.sampled_from(["firing", "resolved"]),
     "alerts": st.lists(am_alerts, max_size=3)},
    optional={"groupKey": st.one_of(huge_text, json_values), "receiver": text, "commonLabels": labels},
)


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Runtime]]:
    folder = tmp_path_factory.mktemp("fuzz")
    runtime = create_runtime(Settings(database_url=f"sqlite:///{folder / 'fuzz.db'}", scheduler_enabled=False,
                                      postmortem_dir=str(folder / "pm")), install_parts=False)
    yield TestClient(create_app(runtime), client=LOCAL), runtime
    runtime.close()


def _check_delivery(client: TestClient, runtime: Runtime, route: str, body: Any) -> None:
    before = store_counts(runtime.settings.database_url)
    response = client.post(route, content=json.dumps(body, allow_nan=True).encode(),
                           headers={"content-type": "application/json"})
    assert response.status_code < 500, (body, response.text)
    if response.status_code >= 400:
        assert response.json()["detail"]
        assert store_counts(runtime.settings.database_url) == before, body
    else:
        assert response.status_code in (201, 202)
        assert client.get("/incidents?limit=5").status_code == 200


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(body=st.one_of(generic_alerts, json_values))
def test_fuzzed_generic_alerts_never_5xx_and_store_nothing_when_refused(fuzz_target: tuple[TestClient, Runtime],
                                                                       body: Any) -> None:
    _check_delivery(*fuzz_target, "/alerts", body)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(body=am_payloads)
def test_fuzzed_alertmanager_payloads_never_5xx_and_store_nothing_when_refused(
        fuzz_target: tuple[TestClient, Runtime], body: Any) -> None:
    _check_delivery(*fuzz_target, "/alerts/alertmanager", body)


@pytest.mark.integration
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(body=st.one_of(generic_alerts, am_payloads))
def test_fuzzed_intake_on_postgresql(pg_fuzz_target: tuple[TestClient, Runtime], body: Any) -> None:
    route = "/alerts/alertmanager" if "alerts" in body else "/alerts"
    _check_delivery(*pg_fuzz_target, route, body)


@pytest.fixture(scope="module")
def pg_fuzz_target(postgres_server: Any,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Runtime]]:
    url = postgres_server.new_database()
    folder = tmp_path_factory.mktemp("pgfuzz")
    runtime = create_runtime(Settings(database_url=url, scheduler_enabled=False, postmortem_dir=str(folder)),
                             install_parts=False)
    yield TestClient(create_app(runtime), client=LOCAL), runtime
    runtime.close()
