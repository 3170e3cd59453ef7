"""Onset detection sees a change of scale around a centre, not only a change of the mean."""

from __future__ import annotations

import numpy as np

from diagnostics import Categorical, PredictionLog, diagnose
from diagnostics.onset import spread_series

START = 1_790_000_000.0


def _centred_log(fault: str, seed: int = 4) -> tuple[PredictionLog, float]:
    rng = np.random.default_rng(seed)
    n, at = 14_000, 8_000
    x = rng.normal(0.0, 0.05, (n, 4))  # standardized inputs, centred on zero (like sklearn's diabetes)
    label = 40 * x[:, 0] + 20 * x[:, 1] + rng.normal(0, 1.0, n)
    seen = x.copy()
    if fault == "unit":
        seen[at:, 0] *= 100.0
    elif fault == "stuck":
        seen[at:, 0] = 0.0
    pred = np.clip(40 * seen[:, 0], -6, 6) + 20 * seen[:, 1]  # a saturating model: the drop is small
    features: dict[str, np.ndarray | Categorical] = {f"x{i}": seen[:, i] for i in range(4)}
    log = PredictionLog(
        timestamp=START + np.arange(n) * 4.0,
        model_version=np.full(n, "v1", dtype=object),
        prediction=pred,
        label=label,
        latency_ms=rng.gamma(4, 8, n),
        error=np.zeros(n),
        features=features,
        name=f"centred-{fault}",
    )
    return log, START + at * 4.0


def test_a_unit_change_of_a_zero_centred_feature_dates_the_onset() -> None:
    log, truth = _centred_log("unit")
    d = diagnose(log)
    assert d.onset_detected
    assert abs(d.onset - truth) <= 0.01 * (log.timestamp[-1] - log.timestamp[0])
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("data", "feature", "x0")
    assert d.findings[0].check == "unit_change"
    # the reference holds no scaled rows, so the factor is the true one, not diluted
    assert 90 <= d.findings[0].details["factor"] <= 110


def test_a_feature_stuck_at_its_centre_dates_the_onset() -> None:
    log, truth = _centred_log("stuck")
    d = diagnose(log)
    assert d.onset_detected
    assert abs(d.onset - truth) <= 0.01 * (log.timestamp[-1] - log.timestamp[0])
    assert (d.cause, d.culprit_name) == ("data", "x0")


def test_spread_series_against_a_direct_computation() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(3.0, 2.0, 1000)
    v[500] = np.nan
    head = v[:150]
    m = np.median(head)
    d = np.median(np.abs(head - m))
    expected = np.log1p(np.abs(v - m) / d)
    got = spread_series(v)
    assert got is not None
    np.testing.assert_allclose(got, expected, equal_nan=True)
    assert spread_series(np.full(1000, 2.0)) is None  # nothing varies: no scale to compare
