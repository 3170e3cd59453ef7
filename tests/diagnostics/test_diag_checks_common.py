"""Properties every registered diagnostic check must have (in the style of scikit-learn's
metrics/tests/test_common.py): the registry is the single source of what a check means,
identical windows give no finding, scores stay in [0, 1], and the order of rows inside a
window does not change any data or model finding.
"""

from __future__ import annotations

import numpy as np
import pytest

from diagnostics import Diagnosis, PredictionLog, diagnose
from diagnostics.checks import CHECKS, CULPRITS, culprit_name, culprit_phrase, verdict_checks
from tests.diagnostics.diag_synth import Case, make_case

FAULTS = (
    "drift",
    "missing",
    "stuck",
    "unit",
    "unseen",
    "emptied",
    "bad_version",
    "bad_version_canary",
    "concept",
    "segment",
    "latency",
    "errors",
    "traffic",
    "gap",
)
# about the period, not the rows
TIME_CHECKS = {"latency", "error_rate", "traffic", "traffic_gap", "replayed_requests", "segment_traffic"}


def _all_findings() -> list[tuple[str, str, Diagnosis]]:
    out = []
    for fault in FAULTS:
        for task in ("classification", "regression"):
            case = make_case(fault, n=3000, seed=11, task=task)
            out.append((fault, task, diagnose(case.log, onset=case.onset, changes=case.changes)))
    return out


@pytest.fixture(scope="module")
def diagnoses() -> list[tuple[str, str, Diagnosis]]:
    return _all_findings()


def test_every_emitted_check_is_registered_and_scored_in_unit_interval(
    diagnoses: list[tuple[str, str, Diagnosis]],
) -> None:
    for fault, task, d in diagnoses:
        for f in d.findings:
            assert f.check in CHECKS, (fault, task, f.check)
            assert 0.0 <= f.score <= 1.0, (fault, task, f.check, f.score)
            assert f.cause == CHECKS[f.check].cause, (fault, task, f.check)
        assert 0.0 <= d.confidence <= 1.0


def test_every_verdict_check_is_exercised_and_its_verdict_matches_the_registry(
    diagnoses: list[tuple[str, str, Diagnosis]],
) -> None:
    """Each check that can win is seen winning on some fault, with the registry's cause,
    culprit kind, name and mitigation (out_of_range and traffic_gap may lose to their siblings)."""
    won = set()
    for _fault, _task, d in diagnoses:
        if not d.found:
            continue
        top = d.findings[0]
        spec = verdict_checks()[top.check]
        assert (d.cause, d.culprit_kind, d.recommended_mitigation) == (spec.cause, spec.culprit_kind, spec.mitigation)
        assert d.culprit_name == culprit_name(d.culprit_kind, top.subject)
        won.add(top.check)
    # relation_break and replayed_requests are exercised by test_diag_outside_shapes.py, value_grid
    # by test_diag_outside_round8.py (the synthetic faults here round nothing), segment_traffic by
    # test_diag_open_classes.py, and stale_values there too; answers_changed by test_diag_outside_round12.py,
    # population_shift by test_diag_population_shift.py
    optional = {
        "out_of_range", "traffic_gap", "drift", "unit_change", "relation_break", "replayed_requests", "value_grid",
        "segment_traffic", "stale_values", "answers_changed", "population_shift",
    }
    assert set(verdict_checks()) - optional <= won | {"schema_change", "stuck_values"}, won
    assert {"version_change", "concept_drift", "segment", "latency", "error_rate", "traffic", "missing_rate"} <= won


def test_registry_phrases_every_culprit_kind() -> None:
    for kind, spec in CULPRITS.items():
        text = culprit_phrase(kind, "x7", "model")
        assert text and "{" not in text, kind
        if spec.fixed_name is None:
            assert "x7" in text
    assert culprit_phrase("unknown_kind", "x", "service") == "a service issue"


def _identical_windows(case: Case) -> tuple[PredictionLog, float]:
    """The reference rows replayed after themselves: the current window is the reference."""
    log = case.log
    before = log.take(np.flatnonzero(log.timestamp < case.onset))
    span = float(before.timestamp[-1] - before.timestamp[0]) + 1.0
    later = before.take(slice(None))
    later.timestamp = before.timestamp + span
    both = PredictionLog(
        timestamp=np.concatenate([before.timestamp, later.timestamp]),
        model_version=np.concatenate([before.model_version.to_numpy(), later.model_version.to_numpy()]),  # type: ignore[union-attr]
        prediction=_cat(before.prediction, later.prediction),
        label=_cat(before.label, later.label),
        latency_ms=_cat(before.latency_ms, later.latency_ms),
        error=_cat(before.error, later.error),
        features={k: _cat(v, later.features[k]) for k, v in before.features.items()},
    )
    return both, float(later.timestamp[0])


def _cat(a: object, b: object) -> np.ndarray:
    def arr(v: object) -> np.ndarray:
        return v.to_numpy() if hasattr(v, "to_numpy") else np.asarray(v)

    return np.concatenate([arr(a), arr(b)])


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_identical_windows_give_no_finding(task: str) -> None:
    log, onset = _identical_windows(make_case("healthy", n=4000, seed=3, task=task))
    d = diagnose(log, onset=onset)
    # a current window that repeats the previous one request for request is, to the replay
    # check, exactly what a replay job produces: that check alone must speak, and say so
    assert d.cause == "none" or d.findings[0].check == "replayed_requests"
    loud = [f.to_dict() for f in d.findings if f.score >= 0.05 and f.check != "replayed_requests"]
    assert not loud, loud


@pytest.mark.parametrize("fault", ["drift", "unseen", "bad_version_canary", "concept", "segment", "missing"])
def test_row_order_inside_a_window_does_not_matter(fault: str) -> None:
    """Shuffling which row sits at which timestamp (inside each window) leaves every data and
    model finding unchanged: checks read distributions, not positions."""
    case = make_case(fault, n=3000, seed=5, task="regression")
    log = case.log
    rng = np.random.default_rng(0)
    split = int(np.searchsorted(log.timestamp, case.onset))
    order = np.concatenate([rng.permutation(split), split + rng.permutation(len(log) - split)])
    shuffled = log.take(order)
    shuffled.timestamp = log.timestamp.copy()  # same clock, rows moved within their window
    a = diagnose(log, onset=case.onset, changes=case.changes)
    b = diagnose(shuffled, onset=case.onset, changes=case.changes)
    assert (a.cause, a.culprit_kind, a.culprit_name) == (b.cause, b.culprit_kind, b.culprit_name)

    def scores(d: Diagnosis) -> dict[tuple[str, str], float]:
        return {(f.check, f.subject): round(f.score, 6) for f in d.findings if f.check not in TIME_CHECKS}

    assert scores(a) == pytest.approx(scores(b), abs=1e-6)


def test_diagnosis_round_trips_through_its_json_contract() -> None:
    case = make_case("bad_version", n=3000, seed=2)
    d = diagnose(case.log, onset=case.onset, changes=case.changes)
    back = Diagnosis.from_dict(d.to_dict())
    assert back.to_dict() == d.to_dict()
    with_trigger = {
        **d.to_dict(),
        "trigger": {
            "timestamp": "2026-11-18T03:00:00Z",
            "kind": "model_deploy",
            "service": "ml",
            "description": "deployed v2",
        },
    }
    assert Diagnosis.from_dict(with_trigger).to_dict() == with_trigger
    empty = Diagnosis.from_dict({})
    assert (empty.cause, empty.culprit_kind, empty.confidence, empty.findings) == ("none", "none", 0.0, [])
