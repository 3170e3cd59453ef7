"""Labels only in the training data, answers only in the log: a version is still judged.

A common set-up at 3 a.m.: the log's labels arrive weeks later (none yet, not even before the
onset), and the reference is the training set (inputs and labels, no predictions). Neither alone
can judge a new version: the training rows carry no answer of the version that was live, the
log's rows no label. Stacked (`engine._model_baseline`, `log.stack_logs`), the training labels
teach the label model and score the versions' answers at neighbouring inputs
(`matched.reverse_gap`), and the log's rows before the onset say how the live version answered.
Before, every such version read "No cause found" (a deploy 20-130% worse, 0/16 in a lead probe).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_friedman1
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from diagnostics import PredictionLog, diagnose
from diagnostics.log import Categorical, stack_logs
from tests.diagnostics.diag_synth import matrix_log

START = 1_795_000_000.0


def _fit(task: str, x: np.ndarray, y: np.ndarray, seed: int) -> object:
    if task == "regression":
        return HistGradientBoostingRegressor(max_iter=150, random_state=seed).fit(x, y)
    return HistGradientBoostingClassifier(max_iter=150, random_state=seed).fit(x, y)


def _answers(task: str, model: object, x: np.ndarray) -> np.ndarray:
    if task == "regression":
        return np.asarray(model.predict(x))  # type: ignore[attr-defined]
    return np.asarray(model.predict_proba(x)[:, 1])  # type: ignore[attr-defined]


@pytest.fixture(scope="module", params=["regression", "binary_score"])
def world(request: pytest.FixtureRequest) -> dict[str, object]:
    task = str(request.param)
    if task == "regression":
        x, y = make_friedman1(n_samples=13_000, n_features=8, noise=1.0, random_state=7)
        rng = np.random.default_rng(7)
        y_noisy = y + rng.normal(0.0, 4.0, y.shape[0])  # the bad version learned from corrupted labels
    else:
        x, y = make_classification(13_000, n_features=8, n_informative=5, weights=[0.8], random_state=7)
        flip = np.random.default_rng(7).random(y.shape[0]) < 0.3
        y_noisy = np.where(flip, 1 - y, y)
    train = slice(0, 4_000)
    good = _fit(task, x[train], y[train], 0)
    return {
        "task": task,
        "x": x,
        "y": y,
        "good": _answers(task, good, x[4_000:]),
        "retrain": _answers(task, _fit(task, x[train], y[train], 1), x[4_000:]),
        "bad": _answers(task, _fit(task, x[train], y_noisy[train], 1), x[4_000:]),
    }


def _training_set(w: dict[str, object]) -> PredictionLog:
    x, y = np.asarray(w["x"])[:4_000], np.asarray(w["y"])[:4_000]
    n = x.shape[0]
    return PredictionLog(
        timestamp=np.full(n, np.nan),
        model_version=np.full(n, None, dtype=object),
        prediction=np.full(n, np.nan),
        label=y.astype(np.float64),
        features={f"x{i}": x[:, i].copy() for i in range(x.shape[1])},
    )


def _unlabelled_log(w: dict[str, object], new: str) -> tuple[PredictionLog, float]:
    x = np.asarray(w["x"])[4_000:]
    n = x.shape[0]
    after = np.arange(n) >= int(0.6 * n)
    pred = np.where(after, np.asarray(w[new]), np.asarray(w["good"]))
    versions = np.where(after, "v2", "v1").astype(object)
    log = matrix_log(x, pred, np.full(n, np.nan), versions, START, step=4.0)
    log.label = None  # no label column at all: none has arrived yet
    return log, START + int(0.6 * n) * 4.0


def test_a_bad_version_is_found_with_labels_only_in_the_training_data(world: dict[str, object]) -> None:
    log, onset = _unlabelled_log(world, "bad")
    d = diagnose(log, reference=_training_set(world), onset=onset)
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("model", "model_version", "v2"), d.summary
    assert d.recommended_mitigation == "rollback"
    # the training labels scored both versions' answers (`matched.reverse_gap`), and leaned worse
    assert float(d.findings[0].details["reverse_z"]) > 0.0  # type: ignore[arg-type]


@pytest.mark.parametrize("new", ["good", "retrain"])
def test_a_harmless_redeploy_stays_quiet_with_labels_only_in_the_training_data(
    world: dict[str, object], new: str
) -> None:
    log, onset = _unlabelled_log(world, new)
    d = diagnose(log, reference=_training_set(world), onset=onset)
    assert d.cause == "none", d.summary


def test_stacked_logs_share_one_category_list_and_fill_what_a_side_lacks() -> None:
    first = PredictionLog(
        timestamp=np.array([1.0, 2.0]),
        model_version=np.array(["a", "b"], dtype=object),
        prediction=np.array([np.nan, np.nan]),
        label=np.array([1.0, 0.0]),
        features={"city": np.array(["Oslo", "Rome"], dtype=object), "t": np.array([3.0, 4.0])},
    )
    second = PredictionLog(
        timestamp=np.array([5.0]),
        model_version=np.array(["b"], dtype=object),
        prediction=np.array([0.7]),
        features={"city": np.array(["Lima"], dtype=object), "u": np.array([9.0])},
    )
    both = stack_logs(first, second, name="both")
    assert isinstance(both.model_version, Categorical) and isinstance(both.features["city"], Categorical)
    assert list(both.model_version.to_numpy()) == ["a", "b", "b"]
    assert list(both.features["city"].to_numpy()) == ["Oslo", "Rome", "Lima"]
    np.testing.assert_array_equal(both.prediction, [np.nan, np.nan, 0.7])
    np.testing.assert_array_equal(both.label, [1.0, 0.0, np.nan])  # type: ignore[arg-type]
    np.testing.assert_array_equal(both.features["t"], [3.0, 4.0, np.nan])
    np.testing.assert_array_equal(both.features["u"], [np.nan, np.nan, 9.0])
