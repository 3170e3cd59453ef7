"""Performance estimated without labels, checked against the realized performance.

Real scikit-learn models on datasets bundled with scikit-learn: each model is trained on one
part, the estimator is fitted on a labelled "reference" part, and its estimate on a held-out
"current" part (as served, and under a covariate shift: only rows where one input is high) is
compared with what the labels of that part say. Tolerances are averaged over a few splits, as
a single small split's realized figure is itself noisy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn import datasets
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from diagnostics import Categorical, PredictionLog, diagnose
from diagnostics.context import detect_task, row_loss
from diagnostics.estimate import Calibration, expected_calibration_error, fit_estimator

SPLITS = 4


def _log(x: np.ndarray, pred: np.ndarray | Categorical, y: np.ndarray | None, t0: float = 0.0) -> PredictionLog:
    n = x.shape[0]
    return PredictionLog(
        timestamp=t0 + np.arange(n, dtype=float),
        model_version=np.array(["v1"] * n, dtype=object),
        prediction=pred,
        label=y,
        features={f"f{i}": x[:, i] for i in range(x.shape[1])},
    )


def _errors(x: np.ndarray, y: np.ndarray, make: Callable[[], Any], kind: str, shift_col: int) -> dict[str, Any]:
    """Estimate minus realized (accuracy, or MAE relative to the realized MAE) per split and case."""
    out: dict[str, Any] = {"same": [], "shift": [], "naive_shift": [], "calibrated": []}
    for seed in range(SPLITS):
        strat = y if kind == "binary" else None
        x_tr, x_rest, y_tr, y_rest = train_test_split(x, y, test_size=0.6, random_state=seed, stratify=strat)
        x_ref, x_cur, y_ref, y_cur = train_test_split(
            x_rest, y_rest, test_size=0.5, random_state=seed + 100, stratify=y_rest if kind == "binary" else None
        )
        model = make().fit(x_tr, y_tr)

        def score(a: np.ndarray, model: Any = model) -> np.ndarray:
            return model.predict_proba(a)[:, 1] if kind == "binary" else model.predict(a)

        ref = _log(x_ref, score(x_ref), y_ref.astype(float))
        task = detect_task(ref.prediction, ref.label)
        assert task.kind == ("binary_score" if kind == "binary" else "regression")
        ref_loss = row_loss(ref.prediction, ref.label, task)
        est = fit_estimator(ref, ref_loss, task)
        assert est is not None
        out["calibrated"].append(est.calibrated)
        high = x_cur[:, shift_col] > np.quantile(x_cur[:, shift_col], 0.6)
        for case, rows in (("same", np.ones(len(y_cur), bool)), ("shift", high)):
            cur = _log(x_cur[rows], score(x_cur[rows]), None)
            truth_y = y_cur[rows].astype(float)
            pred = np.asarray(cur.prediction)
            if kind == "binary":
                realized = float(np.mean((pred >= 0.5) == (truth_y == 1)))
                estimate = float(est.expected_accuracy(cur).mean())
                naive = float(np.mean((np.asarray(ref.prediction) >= 0.5) == (y_ref == 1)))
            else:
                realized = float(np.abs(truth_y - pred).mean())
                estimate = float(est.expected_loss(cur).mean()) / realized
                naive = float(np.nanmean(ref_loss)) / realized
                realized = 1.0
            out[case].append(estimate - realized)
            if case == "shift":
                out["naive_shift"].append(naive - realized)
    return out


def _logistic() -> Any:
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=500))


def _mean_abs(values: list[float]) -> float:
    return float(np.mean(np.abs(values)))


def test_confidence_based_accuracy_of_a_calibrated_classifier_tracks_the_realized_one() -> None:
    digits = datasets.load_digits()
    y = np.isin(digits.target, [3, 5, 8]).astype(int)  # a 30% positive class
    errs = _errors(digits.data, y, _logistic, "binary", shift_col=36)
    assert _mean_abs(errs["same"]) <= 0.03, errs
    assert _mean_abs(errs["shift"]) <= 0.04, errs
    bc = datasets.load_breast_cancer()
    errs = _errors(bc.data, bc.target, _logistic, "binary", shift_col=0)
    assert _mean_abs(errs["same"]) <= 0.04, errs
    assert _mean_abs(errs["shift"]) <= 0.05, errs


def test_an_overconfident_classifier_is_recalibrated_on_the_reference_before_estimating() -> None:
    digits = datasets.load_digits()
    y = np.isin(digits.target, [3, 5, 8]).astype(int)
    errs = _errors(digits.data, y, GaussianNB, "binary", shift_col=36)
    # naive Bayes on 64 correlated pixels says 0 or 1: its raw confidence would claim ~100% accuracy
    assert all(errs["calibrated"]), errs
    assert _mean_abs(errs["same"]) <= 0.03, errs
    assert _mean_abs(errs["shift"]) <= 0.05, errs


def test_learned_loss_estimate_follows_a_covariate_shift_better_than_the_reference_figure() -> None:
    digits = datasets.load_digits()  # the digit as a number: a regression with input-dependent error
    errs = _errors(digits.data, digits.target.astype(float), lambda: Ridge(1.0), "regression", shift_col=36)
    assert _mean_abs(errs["same"]) <= 0.06, errs
    assert _mean_abs(errs["shift"]) <= 0.09, errs
    diabetes = datasets.load_diabetes()  # 442 rows: a small reference, looser tolerance
    errs = _errors(diabetes.data, diabetes.target, lambda: Ridge(0.1), "regression", shift_col=2)
    assert _mean_abs(errs["same"]) <= 0.10, errs
    assert _mean_abs(errs["shift"]) <= 0.14, errs
    assert _mean_abs(errs["shift"]) < _mean_abs(errs["naive_shift"]), errs


def test_calibration_map_is_monotone_and_lowers_the_calibration_error() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2, 6000)
    y = (rng.random(z.size) < 1 / (1 + np.exp(-z))).astype(float)
    over = 1 / (1 + np.exp(-2.5 * z))  # overconfident scores
    cal = Calibration.fit(over[:3000], y[:3000])
    assert np.all(np.diff(cal.y) >= 0)
    assert expected_calibration_error(cal(over[3000:]), y[3000:]) < 0.5 * expected_calibration_error(
        over[3000:], y[3000:]
    )


def test_class_names_without_probabilities_cannot_be_estimated() -> None:
    x = np.random.default_rng(0).normal(size=(500, 2))
    pred = np.where(x[:, 0] > 0, "yes", "no").astype(object)
    log = _log(x, pred, pred.copy())
    task = detect_task(log.prediction, log.label)
    assert fit_estimator(log, row_loss(log.prediction, log.label, task), task) is None


def _binary_score_log(shift: float, *, label_after_onset: bool, n: int = 8000, seed: int = 0) -> tuple[Any, float]:
    """A calibrated scorer p = sigmoid(3 x0); after the onset x0 moves towards the boundary by `shift`."""
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.uniform(0, 6 * 3600, n))
    onset = 4 * 3600.0
    after = ts >= onset
    x0 = rng.normal(0, 1.5, n)
    x0[after] = x0[after] * (1.0 - shift)  # inputs squeezed towards 0: the model is less sure
    x1 = rng.normal(size=n)
    p = 1 / (1 + np.exp(-3 * x0))
    y = (rng.random(n) < p).astype(float)
    if not label_after_onset:
        y[after] = np.nan
    log = PredictionLog(
        timestamp=ts,
        model_version=np.array(["v1"] * n, dtype=object),
        prediction=p,
        label=y,
        features={"x0": x0, "x1": x1},
    )
    return log, onset


def test_diagnose_reports_an_estimated_performance_drop_when_the_labels_are_late() -> None:
    log, onset = _binary_score_log(0.8, label_after_onset=False)
    d = diagnose(log, onset=onset)
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("data", "feature", "x0")
    [perf] = [f for f in d.findings if f.check == "performance"]
    assert perf.details["estimated"] is True and perf.details["method"] == "confidence"
    assert "estimated" in perf.evidence
    assert perf.details["labelled_current"] == 0
    # against the truth: what the labels, had they arrived, would have said
    full, _ = _binary_score_log(0.8, label_after_onset=True)
    after = full.timestamp >= onset
    truth = float(np.mean((np.asarray(full.prediction)[after] >= 0.5) == (np.asarray(full.label)[after] == 1)))
    assert abs(perf.details["current_estimate"]["accuracy"] - truth) <= 0.02
    assert perf.details["current_estimate"]["accuracy"] < perf.details["reference"]["accuracy"] - 0.1
    # the contract's six keys per finding are unchanged: the flag lives in the details only
    assert set(d.to_dict()["findings"][0]) == {"cause", "check", "subject", "score", "severity", "evidence"}


def test_realized_labels_win_over_the_estimate_and_a_healthy_late_window_stays_quiet() -> None:
    log, onset = _binary_score_log(0.8, label_after_onset=True)
    d = diagnose(log, onset=onset)
    assert all(not f.details.get("estimated") for f in d.findings)
    quiet, onset = _binary_score_log(0.0, label_after_onset=False, seed=3)
    d = diagnose(quiet, onset=onset)
    assert d.cause == "none"
    assert not [f for f in d.findings if f.check == "performance"]


def test_estimate_covers_every_current_row_of_a_large_log() -> None:
    log, onset = _binary_score_log(0.8, label_after_onset=False, n=200_000)
    d = diagnose(log, onset=onset)
    [perf] = [f for f in d.findings if f.check == "performance"]
    assert perf.details["current_estimate"]["rows"] == float(np.sum(log.timestamp >= onset))


def _class_names(log: PredictionLog) -> PredictionLog:
    """The same log as a classifier that logs class names only (no probability)."""
    score = np.asarray(log.prediction)
    label = np.asarray(log.label, dtype=np.float64)
    return PredictionLog(
        timestamp=log.timestamp,
        model_version=np.array(["v1"] * len(log), dtype=object),
        prediction=np.where(score >= 0.5, "yes", "no").astype(object),
        label=np.where(np.isfinite(label), np.where(label == 1.0, "yes", "no"), None).astype(object),
        features=dict(log.features),
    )


def test_class_names_get_an_estimated_accuracy_from_the_label_model_when_labels_are_late() -> None:
    """No probability to trust: the label model learned on the labelled reference says how likely
    each current row's label is, so the accuracy of the hard answers is estimated from the inputs."""
    log, onset = _binary_score_log(0.8, label_after_onset=False)
    d = diagnose(_class_names(log), onset=onset)
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("data", "feature", "x0")
    [perf] = [f for f in d.findings if f.check == "performance"]
    assert perf.details["estimated"] is True and perf.details["method"] == "label_model"
    assert "label model" in perf.evidence and "(estimated)" in perf.evidence
    full, _ = _binary_score_log(0.8, label_after_onset=True)
    after = full.timestamp >= onset
    truth = float(np.mean((np.asarray(full.prediction)[after] >= 0.5) == (np.asarray(full.label)[after] == 1)))
    assert abs(perf.details["current_estimate"]["accuracy"] - truth) <= 0.03
    assert perf.details["current_estimate"]["accuracy"] < perf.details["reference"]["accuracy"] - 0.1


def test_class_names_in_a_healthy_late_window_get_no_performance_finding() -> None:
    quiet, onset = _binary_score_log(0.0, label_after_onset=False, seed=3)
    d = diagnose(_class_names(quiet), onset=onset)
    assert d.cause == "none"
    assert not [f for f in d.findings if f.check == "performance"]
