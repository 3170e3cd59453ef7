"""Onset of a local regression: the per-segment loss scan finds where a drift hitting a few
percent of the inputs began, and healthy logs get no onset from it.

The logs are built from a dataset bundled with scikit-learn (breast cancer, diabetes): a random
forest fitted on half the rows serves eight hours of traffic resampled (with jitter) from the
other half. The local drift flips the labels of the rows in the top 5% of one input after the
onset: a classifier's 0/1 loss has no tail for the extreme-loss series to see, and the overall
error rate rises by about two points, too little for the global performance series.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import datasets
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

import diagnostics.onset as onset_module
from diagnostics import PredictionLog, diagnose
from diagnostics.stats import mean_shift_rows, mean_shift_split

START = 1_795_000_000.0
SPAN = 8 * 3600.0
N = 20_000


def _world(dataset: str, seed: int, *, share: float = 0.0, flip: float = 0.0) -> tuple[PredictionLog, float]:
    """A served log; with ``share`` > 0 the top ``share`` of one input is relabelled after the onset."""
    loader = {"breast_cancer": datasets.load_breast_cancer, "diabetes": datasets.load_diabetes}[dataset]
    x_all, y_all = loader(return_X_y=True)
    rng = np.random.default_rng(seed)
    order = rng.permutation(y_all.shape[0])
    train, pool = order[: order.size // 2], order[order.size // 2 :]
    classifier = dataset != "diabetes"
    model_cls = RandomForestClassifier if classifier else RandomForestRegressor
    model = model_cls(n_estimators=30, min_samples_leaf=3, random_state=0).fit(x_all[train], y_all[train])
    ts = START + np.sort(rng.uniform(0.0, SPAN, N))
    pick = rng.choice(pool, N)
    x = x_all[pick] + rng.normal(0.0, 0.05, (N, x_all.shape[1])) * x_all[train].std(axis=0)
    label = y_all[pick].astype(float)
    pred = model.predict(x)
    onset = float(ts[int(0.6 * N)])
    feature = 3 if int(np.argmax(model.feature_importances_)) != 3 else 4
    if share > 0:
        region = (ts >= onset) & (x[:, feature] > np.quantile(x[:, feature], 1.0 - share))
        hit = region & (rng.random(N) < flip)
        label[hit] = 1.0 - label[hit]  # breast cancer: the other class
    features = {f"f{i}": x[:, i] for i in range(x.shape[1])}
    as_text = (lambda v: v.astype(int).astype(str).astype(object)) if classifier else (lambda v: v)
    log = PredictionLog(
        timestamp=ts, model_version=np.full(N, "v1", dtype=object), prediction=as_text(pred), label=as_text(label),
        latency_ms=20.0 * rng.lognormal(0.0, 0.3, N), error=np.zeros(N), features=features,
    )
    return log, onset


def test_mean_shift_rows_scores_every_row_as_mean_shift_split_does() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=(200, 60))
    y[:70, 30:] += 1.5  # a step up
    y[70:100, 40:] -= 1.5  # a step down
    y[rng.random(y.shape) < 0.2] = np.nan
    y[5] = np.nan
    split, strength = mean_shift_rows(y, 0.15, 0.95)
    for i in range(y.shape[0]):
        at, z = mean_shift_split(y[i], 0.15, 0.95)
        assert (split[i], strength[i]) == (at, pytest.approx(z, rel=1e-9, abs=1e-12)), i
    _, rising = mean_shift_rows(y, 0.15, 0.95, rising=True)
    assert np.all(rising[70:100] == 0.0)  # only rises count
    assert np.median(rising[:70]) > 2.5 and np.median(strength[100:]) < 2.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_local_drift_onset_is_found_by_its_segment(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    log, onset = _world("breast_cancer", seed, share=0.05, flip=0.5)
    found = diagnose(log)
    assert found.onset_detected
    assert abs(found.onset - onset) <= 0.02 * SPAN, (found.onset - onset) / 60  # not late, not early
    # the global series alone miss it: the current window would start 70 minutes late
    monkeypatch.setattr(onset_module, "segment_steps", lambda *args, **kwargs: [])
    missed = diagnose(log)
    assert not missed.onset_detected and missed.onset - onset > 0.1 * SPAN


@pytest.mark.parametrize("dataset", ["breast_cancer", "diabetes"])
def test_healthy_logs_get_no_onset_from_segments(dataset: str) -> None:
    for seed in range(4):
        log, _ = _world(dataset, 100 + seed)
        d = diagnose(log)
        assert not d.onset_detected, (dataset, seed)
