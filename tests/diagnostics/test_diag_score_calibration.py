"""A binary score is judged by a proper scoring rule.

With the absolute error `|label - score|` a version whose calibration broke (the same ranking and
the same hard answers, every score pushed towards 0 or 1) scored *better* than the calibrated
version it replaced: "none, confidence 1.0" on a deploy that raised the log loss by half. The
Brier loss `(label - score)^2` is smallest at the true probability, so over- and underconfidence
both cost; a retrain with the same scores stays quiet.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from diagnostics import Categorical, PredictionLog, diagnose
from diagnostics.context import Task, row_loss
from diagnostics.estimate import expected_brier

START = 1_793_491_200.0  # 2026-11-01T00:00:00Z


def _score_log(temperature: float, seed: int) -> tuple[PredictionLog, float]:
    """A logistic model's scores; from 60% of the log on, version v2 serves the same logits
    multiplied by `temperature` (1 = the same model retrained)."""
    x, y = make_classification(n_samples=14_000, n_features=8, n_informative=5, flip_y=0.1, random_state=seed)
    model = LogisticRegression(max_iter=1000).fit(x[:4000], y[:4000])
    x, y = x[4000:], y[4000:].astype(np.float64)
    n = y.size
    logit = model.decision_function(x)
    onset_row = int(0.6 * n)
    new = np.arange(n) >= onset_row
    score = 1.0 / (1.0 + np.exp(-np.where(new, temperature * logit, logit)))
    ts = START + 15.0 * np.arange(n)
    log = PredictionLog(
        timestamp=ts,
        model_version=Categorical(new.astype(np.int32), np.array(["v1", "v2"], dtype=object)),
        prediction=np.round(score, 5),
        label=y,
        latency_ms=np.full(n, 20.0),
        error=np.zeros(n),
        features={f"x{j}": x[:, j] for j in range(x.shape[1])},
        name="scores",
    )
    return log, float(ts[onset_row])


@pytest.mark.parametrize("temperature", [4.0, 0.25])
@pytest.mark.parametrize("seed", [1, 2])
def test_a_version_whose_calibration_broke_is_blamed(temperature: float, seed: int) -> None:
    log, onset = _score_log(temperature, seed)
    d = diagnose(log, onset=onset).to_dict()
    assert (d["cause"], d["culprit"], d["recommended_mitigation"]) == (
        "model", {"kind": "model_version", "name": "v2"}, "rollback"), d["findings"][:3]
    assert "Brier score" in d["findings"][0]["evidence"]


@pytest.mark.parametrize("seed", [1, 2])
def test_a_retrain_with_the_same_scores_stays_quiet(seed: int) -> None:
    log, onset = _score_log(1.0, seed)
    d = diagnose(log, onset=onset).to_dict()
    assert d["cause"] == "none", d["findings"][:3]


def test_the_score_loss_is_brier_and_its_expectation_matches() -> None:
    rng = np.random.default_rng(0)
    q = rng.uniform(0, 1, 200_000)
    y = (rng.random(q.size) < q).astype(np.float64)
    p = np.clip(q + rng.normal(0, 0.2, q.size), 0, 1)
    loss = row_loss(p, y, Task("binary_score"))
    np.testing.assert_allclose(loss, (y - p) ** 2)
    # the expected loss that the confidence estimate uses is the realized mean, on average
    assert abs(float(expected_brier(q, p).mean()) - float(loss.mean())) < 3e-3
    # a proper rule: the true probability scores better than the same scores pushed to 0/1
    hard = (q >= 0.5).astype(np.float64)
    assert expected_brier(q, q).mean() < expected_brier(q, hard).mean()


def _named(log: PredictionLog, positive: str, negative: str) -> PredictionLog:
    assert isinstance(log.label, np.ndarray)
    names = np.array([negative, positive], dtype=object)
    known = np.isfinite(log.label)
    codes = np.where(known, log.label, -1).astype(np.int32)
    return PredictionLog(timestamp=log.timestamp, model_version=log.model_version, prediction=log.prediction,
                         label=Categorical(codes, names), latency_ms=log.latency_ms, error=log.error,
                         features=log.features, name=log.name)


@pytest.mark.parametrize(("positive", "negative"), [("fraud", "legit"), ("churned", "stayed"), ("yes", "no")])
def test_class_names_beside_a_score_are_read_as_its_zero_one(positive: str, negative: str) -> None:
    """Labels written as names ("fraud"/"legit") beside the probability of one of them: the log
    had no loss at all, and a version whose scores fell apart (4x over-confident) was "none"."""
    log, onset = _score_log(4.0, 1)
    d = diagnose(_named(log, positive, negative), onset=onset).to_dict()
    assert (d["cause"], d["culprit"]) == ("model", {"kind": "model_version", "name": "v2"}), d["findings"][:3]
    note = next(f for f in d["findings"] if f["check"] == "input_quality")
    assert f"the score is the probability of {positive!r}" in note["evidence"]


def test_the_positive_name_is_the_one_the_score_ranks_higher() -> None:
    """'stayed' sorts after 'churned', but the score is the probability of 'stayed' here."""
    from diagnostics.score_labels import score_labels

    log, _ = _score_log(1.0, 2)
    assert isinstance(log.label, np.ndarray)
    flipped = _named(log, "stayed", "churned")  # label 1 (the score's class) is called 'stayed'
    out, _ = score_labels(flipped)
    np.testing.assert_array_equal(out.label, log.label)
    # a score that is the probability of the other class reads the names the other way round
    inverse = PredictionLog(timestamp=log.timestamp, model_version=log.model_version,
                            prediction=1.0 - np.asarray(log.prediction), label=flipped.label,
                            features=log.features)
    out, _ = score_labels(inverse)
    np.testing.assert_array_equal(out.label, 1.0 - log.label)
    # three names are not the two classes of a binary score: left as they are
    three = Categorical(np.arange(len(log)).astype(np.int32) % 3, np.array(["a", "b", "c"], dtype=object))
    kept = PredictionLog(timestamp=log.timestamp, model_version=log.model_version, prediction=log.prediction,
                         label=three, features=log.features)
    assert score_labels(kept)[0] is kept
