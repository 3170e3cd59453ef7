"""Each check fires on its own injected fault, the localizer names it, and a healthy log gets "none"."""

from __future__ import annotations

import numpy as np
import pytest
from diag_synth import make_case

from diagnostics import Categorical, ChangeRecord, Diagnosis, PredictionLog, diagnose
from diagnostics.engine import DiagnosisInputError
from diagnostics.findings import iso_utc
from tests.support.contract import DIAGNOSIS_KEYS

EXPECTED = {
    # fault: (cause, culprit kind, culprit name, mitigation, a check that must be among the findings)
    "drift": ("data", "feature", "x0", "naive_model", "drift"),
    "missing": ("data", "feature", "x0", "naive_model", "missing_rate"),
    "stuck": ("data", "feature", "x0", "naive_model", "stuck_values"),
    "unit": ("data", "feature", "x0", "naive_model", "unit_change"),
    "unseen": ("data", "feature", "tier", "naive_model", "unseen_categories"),
    "emptied": ("data", "feature", "x0", "naive_model", "schema_change"),
    "bad_version": ("model", "model_version", "v2", "rollback", "version_change"),
    "bad_version_canary": ("model", "model_version", "v2", "rollback", "version_change"),
    "concept": ("model", "concept", "concept", "retrain", "concept_drift"),
    "segment": ("model", "segment", "region=apac", "retrain", "segment"),
    "latency": ("service", "latency", "latency_ms", "escalate_service", "latency"),
    "errors": ("service", "errors", "error", "escalate_service", "error_rate"),
    "traffic": ("service", "traffic", "traffic", "escalate_service", "traffic"),
    "gap": ("service", "traffic", "traffic", "escalate_service", "traffic_gap"),
    "confounded_deploy_during_drift": ("data", "feature", "x0", "naive_model", "drift"),
    "confounded_drift_during_bad_deploy": ("model", "model_version", "v2", "rollback", "version_change"),
}


def _verdict(d: Diagnosis) -> tuple[str, str, str, str]:
    return d.cause, d.culprit_kind, d.culprit_name, d.recommended_mitigation


# the categorical path does not depend on the task: "unseen" runs once
CASES = [
    (f, t) for f in sorted(EXPECTED) for t in ("classification", "regression") if (f, t) != ("unseen", "regression")
]


@pytest.mark.parametrize(("fault", "task"), CASES)
def test_each_fault_is_localized(fault: str, task: str) -> None:
    case = make_case(fault, task=task, seed=3)
    d = diagnose(case.log, changes=case.changes, onset=case.onset)
    cause, kind, name, mitigation, check = EXPECTED[fault]
    assert _verdict(d) == (cause, kind, name, mitigation), [f.to_dict() for f in d.findings[:5]]
    assert d.findings[0].check == check or any(f.check == check for f in d.findings[:3])
    assert 0.3 <= d.confidence <= 1.0


@pytest.mark.parametrize("fault", ["drift", "bad_version", "latency", "unseen"])
def test_onset_is_detected_when_not_given(fault: str) -> None:
    case = make_case(fault, seed=5)
    d = diagnose(case.log, changes=case.changes)
    assert d.onset_detected
    assert abs(d.onset - case.onset) <= 600.0
    assert _verdict(d)[:2] == EXPECTED[fault][:2]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("fault", ["healthy", "healthy_deploy"])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_healthy_logs_get_none(fault: str, seed: int, task: str) -> None:
    case = make_case(fault, seed=seed, task=task)
    d = diagnose(case.log, changes=case.changes, onset=case.onset)
    assert _verdict(d) == ("none", "none", "", "none"), [f.to_dict() for f in d.findings[:5]]
    d2 = diagnose(case.log, changes=case.changes)  # and with the onset left to detection
    assert d2.cause == "none", [f.to_dict() for f in d2.findings[:5]]


def test_unused_feature_drift_alone_is_not_a_cause() -> None:
    case = make_case("healthy", seed=1)
    log = case.log
    after = log.timestamp >= case.onset
    noise = np.asarray(log.features["noise"]).copy()
    noise[after] = noise[after] * 3.0 + 60.0
    log.features["noise"] = noise
    d = diagnose(log, onset=case.onset)
    assert d.cause == "none"
    drift = [f for f in d.findings if f.subject == "noise" and f.check in ("drift", "out_of_range")]
    assert drift and drift[0].score < 0.3  # reported, but weighed by (lack of) influence
    assert drift[0].details["influence"] < 0.2


def test_schema_change_against_a_reference() -> None:
    case = make_case("healthy", seed=2)
    log = case.log
    before = log.timestamp < case.onset
    ref = log.take(np.flatnonzero(before))
    cur = log.take(np.flatnonzero(~before))
    # the current payload ships x0 as text with a unit suffix
    text = np.array([f"{v:.2f} mm" for v in np.asarray(cur.features["x0"])], dtype=object)
    cur.features["x0"] = Categorical(*_encode(text))
    d = diagnose(cur, reference=ref, onset=case.onset)
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("data", "feature", "x0")
    assert d.findings[0].check == "schema_change"
    # and with the column dropped altogether
    del cur.features["x0"]
    d = diagnose(cur, reference=ref, onset=case.onset)
    assert (d.cause, d.culprit_name, d.findings[0].check) == ("data", "x0", "schema_change")


def _encode(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cats, codes = np.unique(values.astype(str), return_inverse=True)
    return codes.astype(np.int32), cats.astype(object)


def test_problems_in_the_input_become_findings_not_failures() -> None:
    case = make_case("healthy", seed=4)
    log = case.log
    n = len(log)
    log.features["all_nan"] = np.full(n, np.nan)
    log.features["user_id"] = np.array([f"u{i}" for i in range(n)], dtype=object)  # one category per row
    log.features = {k: v for k, v in log.features.items()}
    log2 = PredictionLog(
        timestamp=log.timestamp,
        model_version=log.model_version,
        prediction=log.prediction,
        label=log.label,
        latency_ms=log.latency_ms,
        error=log.error,
        features=log.features,
        name="odd",
    )
    d = diagnose(log2, onset=case.onset)
    assert d.cause == "none"
    checks = {(f.check, f.subject) for f in d.findings}
    assert ("input_quality", "all_nan") in checks
    assert ("high_cardinality", "user_id") in checks


def test_empty_windows_are_input_errors() -> None:
    case = make_case("healthy", n=500)
    with pytest.raises(DiagnosisInputError, match="no rows at or after the onset"):
        diagnose(case.log, onset=case.log.timestamp[-1] + 60)
    with pytest.raises(DiagnosisInputError, match="no rows before the onset"):
        diagnose(case.log, onset=case.log.timestamp[0] - 60)


def test_to_dict_matches_the_contract() -> None:
    case = make_case("bad_version", seed=1)
    deploys = [
        ChangeRecord(case.onset - 30.0, "model_deploy", "ml", "deployed v2", "v1", "v2"),
        ChangeRecord(case.onset - 5.0, "model_deploy", "ml", "deployed v3 to staging", "v2", "v3"),
    ]
    d = diagnose(case.log, changes=case.changes + deploys, onset=case.onset)
    out = d.to_dict()
    assert set(out) == DIAGNOSIS_KEYS
    assert set(out["culprit"]) == {"kind", "name"}
    # the trigger is the deploy that introduced the culprit version, not the hourly pipeline run
    assert out["trigger"] is not None
    assert {k: out["trigger"][k] for k in ("kind", "service", "description")} == {
        "kind": "model_deploy",
        "service": "ml",
        "description": "deployed v2",
    }
    assert out["trigger"]["timestamp"] == iso_utc(case.onset - 30.0)
    assert out["onset"].endswith("Z")
    for f in out["findings"]:
        assert set(f) == {"cause", "check", "subject", "score", "severity", "evidence"}
        assert f["cause"] in {"data", "model", "service", "none"}
        assert 0.0 <= f["score"] <= 1.0
    detailed = d.to_dict(include_details=True)
    assert "details" in detailed["findings"][0]
    scores = [f.score for f in d.findings]
    assert d.findings[0].check == "version_change"
    assert scores[1:] == sorted(scores[1:], reverse=True)


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("bad_version", ("model", "v2")),
        ("bad_version_canary", ("model", "v2")),
        ("confounded_drift_during_bad_deploy", ("model", "v2")),
        ("healthy_deploy", ("none", "")),
        ("confounded_deploy_during_drift", ("data", "x0")),
    ],
)
def test_versions_without_labels(fault: str, expected: tuple[str, str], task: str) -> None:
    """No labels: a version is judged by how it maps the same inputs, not by its histogram
    (the synthetic bad model's predictions have the same distribution as the good one's)."""
    case = make_case(fault, task=task, seed=11)
    case.log.label = None
    d = diagnose(case.log, changes=case.changes, onset=case.onset)
    assert (d.cause, d.culprit_name) == expected, [f.to_dict() for f in d.findings[:4]]


def test_reference_with_other_column_types() -> None:
    case = make_case("healthy", seed=6, task="regression")
    log = case.log
    ref = make_case("healthy", seed=7, task="classification").log  # class names, not numbers
    with pytest.raises(DiagnosisInputError, match="'prediction' holds class names"):
        diagnose(log, reference=ref, onset=case.onset)
    ref_labels_text = make_case("healthy", seed=8, task="regression").log
    ref_labels_text.label = Categorical(np.zeros(len(ref_labels_text), dtype=np.int32), np.array(["x"], dtype=object))
    d = diagnose(log, reference=ref_labels_text, onset=case.onset)
    assert d.cause in {"none", "data", "model", "service"}
