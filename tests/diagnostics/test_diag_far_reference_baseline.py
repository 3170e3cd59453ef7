"""A reference from another period serves the input comparisons; the model's are made on the log's own rows.

Training data passed as `--reference` carries features and labels but no predictions (or
predictions scored in sample by the model trained on it). Every performance, version and concept
comparison was made against it: with no predictions there was nothing to compare, and a deploy
68% worse, a concept change and a segment's drop all read "No cause found"; with in-sample scores
an identical model redeployed was blamed ("rollback"). The log's own labelled rows before the
onset were served live by the model that was running, and are the baseline those checks use
without a reference (`engine._model_baseline`).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_friedman1
from sklearn.ensemble import HistGradientBoostingRegressor

from diagnostics import PredictionLog, diagnose
from tests.diagnostics.diag_synth import matrix_log

START = 1_795_000_000.0
DAY = 86_400.0


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    x, y = make_friedman1(n_samples=14_000, n_features=8, noise=1.0, random_state=5)
    good = HistGradientBoostingRegressor(max_iter=200, random_state=0).fit(x[:5_000], y[:5_000])
    bad = HistGradientBoostingRegressor(max_iter=30, max_depth=3, random_state=0).fit(x[:1_200], y[:1_200])
    xs = x[5_000:]
    return {"x": x, "y": y, "good": good.predict(xs), "bad": bad.predict(xs), "train_pred": good.predict(x[:5_000])}


def _reference(d: dict[str, np.ndarray], *, scored: bool) -> PredictionLog:
    """Training data: features and labels; no time, no version, and predictions only if scored in sample."""
    x, y = d["x"][:5_000], d["y"][:5_000]
    n = x.shape[0]
    return PredictionLog(
        timestamp=np.full(n, np.nan),
        model_version=np.full(n, None, dtype=object),
        prediction=d["train_pred"] if scored else np.full(n, np.nan),
        label=y,
        latency_ms=None,
        error=None,
        features={f"x{i}": x[:, i].copy() for i in range(x.shape[1])},
    )


def _served(d: dict[str, np.ndarray], kind: str) -> tuple[PredictionLog, float]:
    x, y = d["x"][5_000:], d["y"][5_000:].copy()
    n = x.shape[0]
    after = np.arange(n) >= int(0.6 * n)
    pred, versions = d["good"].copy(), np.where(after, "v2", "v1").astype(object)
    if kind == "bad_deploy":
        pred = np.where(after, d["bad"], d["good"])
    elif kind == "concept":
        versions[:] = "v1"
        y = np.where(after & (x[:, 3] > 0.5), y + 0.8 * np.std(y), y)
    elif kind != "redeploy":  # "redeploy": v2 is the same model
        raise ValueError(kind)
    return matrix_log(x, pred, y, versions, START, step=6.0), START + int(0.6 * n) * 6.0


@pytest.mark.parametrize("scored", [False, True])
def test_a_bad_deploy_is_found_beside_training_data(data: dict[str, np.ndarray], scored: bool) -> None:
    log, onset = _served(data, "bad_deploy")
    d = diagnose(log, reference=_reference(data, scored=scored), onset=onset)
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("model", "model_version", "v2"), d.summary
    assert d.recommended_mitigation == "rollback"


@pytest.mark.parametrize("scored", [False, True])
def test_a_concept_change_is_found_beside_training_data(data: dict[str, np.ndarray], scored: bool) -> None:
    log, onset = _served(data, "concept")
    d = diagnose(log, reference=_reference(data, scored=scored), onset=onset)
    assert (d.cause, d.culprit_kind) == ("model", "concept"), d.summary


@pytest.mark.parametrize("scored", [False, True])
def test_an_identical_redeploy_is_not_blamed_beside_training_data(data: dict[str, np.ndarray], scored: bool) -> None:
    log, onset = _served(data, "redeploy")
    d = diagnose(log, reference=_reference(data, scored=scored), onset=onset)
    assert d.cause == "none", d.summary



@pytest.fixture(scope="module")
def scores() -> dict[str, np.ndarray]:
    """A gradient-boosted classifier's scores (15% positives): in sample on its training rows, live on fresh ones."""
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = make_classification(
        n_samples=20_000, n_features=10, n_informative=6, weights=[0.85], flip_y=0.03, random_state=2
    )
    model = HistGradientBoostingClassifier(max_iter=150, random_state=0).fit(x[:8_000], y[:8_000])
    return {"x": x, "y": y.astype(float), "score": np.round(model.predict_proba(x)[:, 1], 4)}


@pytest.mark.parametrize("concept", [False, True])
def test_a_binary_score_against_its_own_training_rows_without_an_onset(
    scores: dict[str, np.ndarray], concept: bool
) -> None:
    """Brier 0.002 on the training rows it learned, 0.028 live: every healthy log read "concept drift"
    (0.95) against them, because the independent fit that tells in-sample optimism from a changed
    relation skipped binary scores. It now fits their 0/1 labels as two classes and is scored by
    the same Brier loss; a relation that really changed over the whole log is still concept drift."""
    x, y, score = scores["x"], scores["y"].copy(), scores["score"]
    if concept:
        rng = np.random.default_rng(0)
        flip = (x[:, 0] > 0) & (rng.uniform(size=y.shape[0]) < 0.5)
        y = np.where(flip & (np.arange(y.shape[0]) >= 8_000), 1.0 - y, y)
    versions = np.full(20_000, "v1", dtype=object)
    reference = matrix_log(x[:8_000], score[:8_000], y[:8_000], versions[:8_000], START - 300 * DAY)
    log = matrix_log(x[8_000:], score[8_000:], y[8_000:], versions[8_000:], START, step=6.0)
    d = diagnose(log, reference=reference)
    if concept:
        assert (d.cause, d.culprit_kind) == ("model", "concept"), d.summary
    else:
        assert d.cause == "none", d.summary
