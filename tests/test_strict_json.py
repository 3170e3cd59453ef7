"""Strict JSON everywhere: a diagnosis whose figures are not finite (a ratio against a zero rate)
is written as JSON that strict readers accept — the `diagnose` contract and its details, the
incident store on SQLite and PostgreSQL (whose `json` type refuses NaN), the HTTP API, the CLI.
A figure that is not finite is null; the contract's numbers (score, confidence) stay numbers."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from bot.api import create_app
from bot.commands import json_text
from bot.config import Settings
from bot.db import transaction
from bot.incidents import get_incident, log_event, record_diagnosis
from bot.wiring import create_runtime
from diagnostics.findings import Diagnosis, Finding
from diagnostics.series import Series, SeriesSet
from diagnostics.service_causes import diagnose_series
from diagnostics.service_diagnosis import from_series
from diagnostics.strict_json import dumps, jsonable

STEP = 15.0
N = 960
TIMES = 1_800_000_000.0 + STEP * np.arange(N)
ONSET_I = N - 240


def strict(text: str) -> Any:
    """Parse as a strict reader does: `NaN`, `Infinity` and `-Infinity` are not JSON."""

    def refuse(token: str) -> Any:
        raise AssertionError(f"non-standard JSON token {token} in {text[:200]}")

    return json.loads(text, parse_constant=refuse)


def queue_from_nothing() -> Diagnosis:
    """A real service diagnosis: a queue that was empty for hours fills up. Its ratio to the
    reference median (0) is infinite; that is the culprit's own finding."""
    rng = np.random.default_rng(3)
    rps = 40.0 * (1.0 + rng.normal(0.0, 0.05, N))
    latency = 120.0 * (1.0 + rng.normal(0.0, 0.05, N))
    queue = np.zeros(N)
    queue[ONSET_I:] = 30.0 + rng.normal(0.0, 2.0, N - ONSET_I)
    sset = SeriesSet("svc", TIMES.copy(), [
        Series("", "requests_per_s", "traffic", rps),
        Series("", "latency_p95_ms", "latency", latency),
        Series("", "queue_depth", "resource", queue),
    ])
    verdict = diagnose_series(sset, onset=float(TIMES[ONSET_I]))
    return from_series(verdict, "svc")


def test_a_ratio_against_a_zero_rate_is_null_in_strict_json() -> None:
    d = queue_from_nothing()
    assert (d.culprit_kind, d.culprit_name) == ("resource", "queue_depth")
    top = d.findings[0]
    assert math.isinf(top.details["ratio"]) and top.details["reference_median"] == 0.0
    for details in (False, True):
        text = json_text(d.to_dict(include_details=details))  # what `mlresponder diagnose` prints
        out = strict(text)
        assert set(out) == {"cause", "culprit", "trigger", "confidence", "onset", "recommended_mitigation",
                            "findings", "runtime_ms"} | ({"onset_detected", "summary"} if details else set())
        assert all(isinstance(f["score"], float) and math.isfinite(f["score"]) for f in out["findings"])
        if details:
            assert out["findings"][0]["details"]["ratio"] is None
            assert out["findings"][0]["details"]["reference_median"] == 0.0


def test_the_contracts_numbers_stay_numbers() -> None:
    """A confidence or score that came out NaN is written 0 (the contract says a number 0..1)."""
    finding = Finding("service", "series_traffic", "svc", math.inf, "x", {"z": -math.inf, "n": np.float64("nan")})
    d = Diagnosis("service", "traffic", "svc", math.nan, 1_800_000_000.0, "escalate_service", [finding],
                  runtime_ms=math.nan)
    out = strict(dumps(d.to_dict(include_details=True)))
    assert out["confidence"] == 0.0 and out["runtime_ms"] == 0.0 and out["findings"][0]["score"] == 0.0
    assert out["findings"][0]["details"] == {"z": None, "n": None}


def test_jsonable_and_the_string_form_for_the_projects_own_files() -> None:
    value = {"a": [math.inf, -math.inf, math.nan, 1.5], "b": np.array([1.0, np.nan]), 3: np.int64(7), "t": (1, 2)}
    assert jsonable(value) == {"a": [None, None, None, 1.5], "b": [1.0, None], "3": 7, "t": [1, 2]}
    back = strict(dumps(value, nonfinite="string"))
    assert back["a"][:3] == ["Infinity", "-Infinity", "NaN"]
    assert math.isinf(float(back["a"][0])) and math.isnan(float(back["a"][2]))  # float() reads them back
    with pytest.raises(TypeError):
        dumps({"x": object()})  # what is not a number or a container stays an error, as with json.dumps


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))


def test_the_store_and_the_api_keep_it_strict(database_url: str, tmp_path: Any) -> None:
    """PostgreSQL's `json` refuses NaN and Infinity: before, recording such a diagnosis failed the
    whole transaction there (and SQLite stored `Infinity` for strict readers to choke on)."""
    runtime = create_runtime(Settings(database_url=database_url, scheduler_enabled=False,
                                      postmortem_dir=str(tmp_path / "pm")))
    try:
        client = TestClient(create_app(runtime), client=("127.0.0.1", 50000))
        r = client.post("/alerts", json={"title": "queue filling", "source": "test", "severity": "critical",
                                         "labels": {"service": "svc"}, "annotations": {},
                                         "starts_at": "2027-01-15T08:00:00Z"})
        assert r.status_code == 201, r.text
        d = queue_from_nothing()
        ratio = d.findings[0].details["ratio"]
        with transaction(runtime.sessions) as s:
            incident = get_incident(s, "INC-1")
            record_diagnosis(s, incident, d.to_dict(include_details=True))
            log_event(s, incident, "note", "raw figures", data={"ratio": ratio, "nan": math.nan})
        with runtime.engine.connect() as conn:
            stored = [str(v) for v in conn.exec_driver_sql("SELECT diagnosis FROM incidents").scalars()]
            stored += [str(v) for v in conn.exec_driver_sql("SELECT data FROM timeline_events").scalars()]
        assert not any(token in text for text in stored for token in ("NaN", "Infinity"))
        r = client.get("/incidents/INC-1")
        assert r.status_code == 200
        body = strict(r.text)
        assert body["diagnosis"]["culprit"] == {"kind": "resource", "name": "queue_depth"}
        assert body["diagnosis"]["findings"][0]["details"]["ratio"] is None
        note = next(e for e in body["timeline"] if e["kind"] == "note")
        assert note["data"] == {"ratio": None, "nan": None}
    finally:
        runtime.close()
