"""Verdicts that weigh evidence: moderate but certain regressions, never-seen categories, a
reference from another period, local regressions and sentences that match the data.

The logs are independent draws of a known regression model (no resampled pool), the shape of
the prediction logs outside checks build: 20,000 rows over eight hours, onset at 60%.
"""

from __future__ import annotations

import numpy as np
import pytest

from diagnostics import ChangeRecord, PredictionLog, diagnose

START = 1_795_000_000.0
SPAN = 8 * 3600.0
N = 20_000


def _log(
    ts: np.ndarray,
    x: np.ndarray,
    pred: np.ndarray,
    label: np.ndarray,
    versions: np.ndarray,
    cat: np.ndarray,
    *,
    name: str = "log",
) -> PredictionLog:
    rng = np.random.default_rng(7)
    return PredictionLog(
        timestamp=ts,
        model_version=versions,
        prediction=pred,
        label=label,
        latency_ms=20.0 * rng.lognormal(0.0, 0.3, ts.shape[0]),
        error=np.zeros(ts.shape[0]),
        features={**{f"x{i}": x[:, i] for i in range(x.shape[1])}, "channel": cat},
        name=name,
    )


def _world(seed: int, n: int = N, start: float = START, span: float = SPAN) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    ts = start + np.sort(rng.uniform(0.0, span, n))
    x = rng.uniform(size=(n, 5))
    truth = 10 * np.sin(np.pi * x[:, 0] * x[:, 1]) + 20 * (x[:, 2] - 0.5) ** 2 + 10 * x[:, 3] + 5 * x[:, 4]
    label = truth + rng.normal(0.0, 1.0, n)
    pred = truth + rng.normal(0.0, 0.3, n)  # a good model: its error is mostly the label noise
    cat = rng.choice(np.array(["web", "ios", "android", "api"], dtype=object), size=n)
    return ts, x, pred, label, cat, rng


def _onset(ts: np.ndarray) -> float:
    return float(ts[int(0.6 * ts.shape[0])])


@pytest.mark.parametrize("seed", [0, 1])
def test_moderate_certain_version_regression_is_the_verdict(seed: int) -> None:
    """A new version 5-7% worse in MAE on ~8,000 labelled rows is far beyond noise: rollback."""
    ts, x, pred, label, cat, rng = _world(seed)
    onset = _onset(ts)
    after = ts >= onset
    versions = np.where(after, "v2", "v1").astype(object)
    worse = pred + rng.normal(0.0, 0.42, N)  # MAE about 6% higher than v1's
    pred = np.where(after, worse, pred)
    d = diagnose(_log(ts, x, pred, label, versions, cat), onset=onset)
    v = next(f for f in d.findings if f.check == "version_change")
    assert (d.cause, d.culprit_kind, d.culprit_name, d.recommended_mitigation) == (
        "model",
        "model_version",
        "v2",
        "rollback",
    ), [f.to_dict() for f in d.findings[:3]]
    rel = v.details["loss_version"] / v.details["loss_others"] - 1
    assert 0.04 < rel < 0.08
    assert d.confidence >= 0.4


@pytest.mark.parametrize("seed", range(4))
def test_small_equivalent_canary_stays_quiet(seed: int) -> None:
    ts, x, pred, label, cat, rng = _world(100 + seed)
    onset = _onset(ts)
    canary = (ts >= onset) & (rng.random(N) < 0.1)
    versions = np.where(canary, "v2", "v1").astype(object)
    pred = np.where(canary, pred + rng.normal(0.0, 0.05, N), pred)  # an equivalent retrain
    d = diagnose(_log(ts, x, pred, label, versions, cat), onset=onset)
    assert d.cause == "none", [f.to_dict() for f in d.findings[:3]]


def test_bad_canary_on_a_tenth_of_traffic_is_rolled_back() -> None:
    ts, x, pred, label, cat, rng = _world(3)
    onset = _onset(ts)
    canary = (ts >= onset) & (rng.random(N) < 0.1)
    versions = np.where(canary, "v2", "v1").astype(object)
    pred = np.where(canary, pred + rng.normal(0.0, 0.8, N), pred)
    d = diagnose(_log(ts, x, pred, label, versions, cat), onset=onset)
    assert (d.cause, d.culprit_name, d.recommended_mitigation) == ("model", "v2", "rollback")


def test_never_seen_categories_on_a_weak_feature_are_a_data_cause() -> None:
    """45% of rows carry channel values the reference never had; the model handles them badly."""
    ts, x, pred, label, cat, rng = _world(4)
    onset = _onset(ts)
    new = (ts >= onset) & (rng.random(N) < 0.45)
    cat = cat.copy()
    cat[new] = rng.choice(np.array(["tv", "kiosk"], dtype=object), size=int(new.sum()))
    pred = np.where(new, pred + 1.0, pred)
    d = diagnose(_log(ts, x, pred, label, np.full(N, "v1", dtype=object), cat), onset=onset)
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("data", "feature", "channel")
    top = d.findings[0]
    assert top.check == "unseen_categories"
    assert "never seen in the reference" in top.evidence and "'kiosk'" in top.evidence


def test_harmless_never_seen_categories_on_an_unused_feature_stay_quiet() -> None:
    """New values of a logged-but-unused column whose rows do no worse: no incident."""
    ts, x, pred, label, cat, rng = _world(5)
    onset = _onset(ts)
    new = (ts >= onset) & (rng.random(N) < 0.45)
    cat = cat.copy()
    cat[new] = "tv"
    d = diagnose(_log(ts, x, pred, label, np.full(N, "v1", dtype=object), cat), onset=onset)
    assert d.cause == "none", [f.to_dict() for f in d.findings[:3]]


def test_service_checks_ignore_a_reference_from_another_period() -> None:
    """Last year's sparse training log as --reference: no traffic verdict, the drift wins."""
    ts, x, pred, label, cat, _ = _world(6)
    x = x.copy()
    x[:, 3] += 0.35  # the top feature moved for the whole log
    pred = pred + 3.5
    r_ts, r_x, r_pred, r_label, r_cat, _ = _world(7, n=3000, start=START - 365 * 86400.0, span=300 * SPAN)
    reference = _log(r_ts, r_x, r_pred, r_label, np.full(3000, "v1", dtype=object), r_cat, name="training")
    d = diagnose(_log(ts, x, pred, label, np.full(N, "v1", dtype=object), cat), reference=reference)
    service = [f.to_dict() for f in d.findings if f.cause == "service"]
    assert not service, service
    assert (d.cause, d.culprit_name) == ("data", "x3")


def test_service_checks_with_a_reference_still_see_a_latency_step_inside_the_log() -> None:
    ts, x, pred, label, cat, rng = _world(8)
    r_ts, r_x, r_pred, r_label, r_cat, _ = _world(9, n=3000, start=START - 365 * 86400.0, span=300 * SPAN)
    reference = _log(r_ts, r_x, r_pred, r_label, np.full(3000, "v1", dtype=object), r_cat, name="training")
    log = _log(ts, x, pred, label, np.full(N, "v1", dtype=object), cat)
    onset = _onset(ts)
    assert log.latency_ms is not None
    log.latency_ms[ts >= onset] *= 2.5
    d = diagnose(log, reference=reference)
    assert d.onset_detected and abs(d.onset - onset) < 900
    assert (d.cause, d.culprit_kind) == ("service", "latency")


@pytest.mark.parametrize("seed", [0, 1])
def test_local_concept_drift_onset_is_detected(seed: int) -> None:
    """2% of inputs get very large errors (RMSE about +50%): the extreme-loss share steps up."""
    ts, x, pred, label, cat, rng = _world(20 + seed)
    onset = _onset(ts)
    region = (ts >= onset) & (x[:, 4] > 0.98)
    label = np.where(region, label + rng.normal(0.0, 6.0, N), label)
    d = diagnose(_log(ts, x, pred, label, np.full(N, "v1", dtype=object), cat))
    assert d.onset_detected
    assert abs(d.onset - onset) <= 0.05 * SPAN, (d.onset - onset) / 60
    assert d.cause == "model"


def test_concept_sentence_names_a_version_that_changed() -> None:
    """The labels changed everywhere while an equivalent v2 rolled out: never 'the version stayed put'."""
    ts, x, pred, label, cat, rng = _world(30)
    onset = _onset(ts)
    after = ts >= onset
    versions = np.where(ts >= onset - 300.0, "v2", "v1").astype(object)
    label = np.where(after, label + 2.5, label)
    changes = [ChangeRecord(onset - 300.0, "model_deploy", "ml", "deployed v2", "v1", "v2")]
    d = diagnose(_log(ts, x, pred, label, versions, cat), onset=onset, changes=changes)
    concept = next(f for f in d.findings if f.check == "concept_drift")
    assert "did not change" not in concept.evidence and "stayed put" not in concept.evidence
    assert "v2" in concept.evidence or "model-version findings explain" in concept.evidence


def test_never_seen_categories_on_a_used_feature_are_a_data_cause_even_when_labels_show_no_harm_yet() -> None:
    """45% of the rows of a channel the model reads carry values it never learned; those rows
    happen to do no worse so far. A fifth of a used feature's rows moved is a fault (the issue's
    target), and the labels cannot clear a column the model reads: the answer is still data."""
    ts, x, pred, label, cat, rng = _world(8)
    onset = _onset(ts)
    effect = np.where(cat == "ios", 1.5, np.where(cat == "api", -1.5, 0.0))  # read, weakly
    label, pred = label + effect, pred + effect  # the model reads the channel
    new = (ts >= onset) & (rng.random(N) < 0.45)
    cat = cat.copy()
    cat[new] = rng.choice(np.array(["tv", "kiosk"], dtype=object), size=int(new.sum()))
    label = np.where(new, label - effect, label)  # the new channels behave like the baseline one ...
    pred = np.where(new, pred - effect, pred)  # ... and the model falls back to it: no worse so far
    d = diagnose(_log(ts, x, pred, label, np.full(N, "v1", dtype=object), cat), onset=onset)
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("data", "feature", "channel"), [
        f.evidence for f in d.findings[:2]
    ]
    top = d.findings[0]
    assert top.check == "unseen_categories" and top.details["loss_z"] < 2.0
