"""Concept drift against an explicit reference is checked by an independent fit of the labels.

A reference that is the model's own training data, scored by that model, has an in-sample error
no live traffic reaches: against it every healthy log used to read as "performance dropped
everywhere while the inputs held (concept drift)", critical, with "retrain". A real change of
the relation moves the independent fit's error too, and stays the verdict.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_friedman1
from sklearn.ensemble import HistGradientBoostingRegressor

from diagnostics import PredictionLog, diagnose
from diagnostics.model_checks import LossStats
from diagnostics.relation import RelationCheck

DAY = 86_400.0


def _log(x: np.ndarray, pred: np.ndarray, label: np.ndarray, start: float, step: float) -> PredictionLog:
    n = x.shape[0]
    return PredictionLog(
        timestamp=start + np.arange(n) * step,
        model_version=np.full(n, "2024.1", dtype=object),
        prediction=pred,
        label=label,
        latency_ms=np.full(n, 20.0),
        error=np.zeros(n, dtype=bool),
        features={f"f{i}": x[:, i].copy() for i in range(x.shape[1])},
    )


@pytest.fixture(scope="module")
def friedman() -> tuple[HistGradientBoostingRegressor, np.ndarray, np.ndarray]:
    x, y = make_friedman1(n_samples=24_000, n_features=10, noise=1.0, random_state=7)
    model = HistGradientBoostingRegressor(max_iter=150, random_state=7).fit(x[:8_000], y[:8_000])
    return model, x, y


def _reference(friedman: tuple, *, in_sample: bool) -> PredictionLog:
    model, x, y = friedman
    rows = slice(0, 4_000) if in_sample else slice(20_000, 24_000)
    return _log(x[rows], model.predict(x[rows]), y[rows], 1_790_000_000 - 365 * DAY, 900.0)


def _served(friedman: tuple, label_factor: float = 1.0) -> PredictionLog:
    model, x, y = friedman
    xs, ys = x[8_000:20_000], y[8_000:20_000]
    return _log(xs, model.predict(xs), ys * label_factor, 1_790_000_000, 5.0)


def test_training_data_reference_does_not_make_a_healthy_log_concept_drift(friedman: tuple) -> None:
    d = diagnose(_served(friedman), reference=_reference(friedman, in_sample=True))
    assert d.cause == "none", d.summary
    concept = next(f for f in d.findings if f.check == "concept_drift")
    assert concept.details["relation_held"] is True
    assert concept.score < 0.3
    assert "relation between inputs and labels held" in concept.evidence
    # the served model's gap is real and stated; the independent fit's is small
    fit_rise = concept.details["independent_fit_current"] - concept.details["independent_fit_reference"]
    assert fit_rise < 0.1


def test_a_changed_relation_is_concept_drift_against_the_same_reference(friedman: tuple) -> None:
    d = diagnose(_served(friedman, label_factor=1.2), reference=_reference(friedman, in_sample=True))
    assert (d.cause, d.culprit_kind) == ("model", "concept"), d.summary
    concept = next(f for f in d.findings if f.check == "concept_drift")
    assert "relation_held" not in concept.details


def test_predictions_that_break_inside_the_log_are_not_put_down_to_the_reference(friedman: tuple) -> None:
    """The labels' relation held, but the log's own rows before the onset were served better:
    a live change (here the served answers got noisy), which the far reference cannot explain."""
    served = _served(friedman)
    assert isinstance(served.prediction, np.ndarray)
    half = served.prediction.shape[0] // 2
    served.prediction[half:] += np.random.default_rng(3).normal(0.0, 2.0, served.prediction.shape[0] - half)
    d = diagnose(served, reference=_reference(friedman, in_sample=True))
    assert d.cause == "model", d.summary
    concept = next(f for f in d.findings if f.check == "concept_drift")
    assert "relation_held" not in concept.details


def test_held_out_reference_healthy_log_stays_quiet(friedman: tuple) -> None:
    d = diagnose(_served(friedman), reference=_reference(friedman, in_sample=False))
    assert d.cause == "none", d.summary


def _stats(mean: float, n: int = 4_000, sd: float = 1.0) -> LossStats:
    return LossStats(n, mean, sd**2)


@pytest.mark.parametrize(
    ("fit_cur", "model_cur", "held"),
    [
        (1.02, 1.30, True),  # the served model's error rose by 0.30, the fit's by 0.02: held
        (1.25, 1.30, False),  # both rose alike: the relation changed
        (1.00, 1.01, False),  # the served model's own rise is noise: nothing to explain
        (1.08, 1.10, False),  # a rise of more than a quarter of the model's, and certain: changed
    ],
)
def test_held_rule(fit_cur: float, model_cur: float, held: bool) -> None:
    check = RelationCheck(_stats(1.0), _stats(fit_cur), _stats(1.0), _stats(model_cur))
    assert check.held() is held
