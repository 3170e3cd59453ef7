"""A new version with only its first few labels: the rows still unlabelled are evidence too.

Labels arrive hours after the prediction. An alert four hours after a deploy, with labels 3.8 hours
late, leaves the version about 160 labelled rows of its 3,200: a deploy 16% worse leaned worse on
them (z about 2.5, under the bar) and the rows without labels were never read, so the answer was
"No cause found". When the few labels lean worse but not significantly, the label-free evidence is
read on all the version's rows (`versions._few_labels`); a retrain stays quiet.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_friedman1
from sklearn.ensemble import GradientBoostingRegressor

from diagnostics import diagnose
from tests.diagnostics.diag_synth import matrix_log

START = 1_795_000_000.0
HOUR = 3_600.0


@pytest.fixture(scope="module")
def world() -> dict[str, np.ndarray]:
    x, y = make_friedman1(14_000, n_features=10, noise=1.0, random_state=1)
    rng = np.random.default_rng(1)
    train_x, train_y = x[:4_000], y[:4_000]
    served = x[4_000:12_000]

    def fit(target: np.ndarray, seed: int) -> np.ndarray:
        model = GradientBoostingRegressor(n_estimators=150, max_depth=3, random_state=seed).fit(train_x, target)
        return np.asarray(model.predict(served))

    return {
        "x": served,
        "y": y[4_000:12_000],
        "good": fit(train_y, 1),
        "retrain": fit(train_y, 2),
        "bad": fit(train_y + rng.normal(0.0, 2.5, train_y.shape[0]), 2),  # learned from noisier labels
        "t": np.sort(rng.uniform(0.0, 10 * HOUR, served.shape[0])),
    }


def _log(w: dict[str, np.ndarray], new: str) -> tuple[object, float]:
    t = w["t"]
    after = t >= 6 * HOUR
    pred = np.where(after, w[new], w["good"])
    label = np.where(t >= (10 - 3.8) * HOUR, np.nan, w["y"])  # labels 3.8 hours late
    log = matrix_log(w["x"], pred, label, np.where(after, "v2", "v1").astype(object), START)
    log.timestamp = START + t
    return log, START + 6 * HOUR


def test_a_worse_version_with_few_labels_yet_is_found(world: dict[str, np.ndarray]) -> None:
    log, onset = _log(world, "bad")
    d = diagnose(log, onset=onset)  # type: ignore[arg-type]
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("model", "model_version", "v2"), d.summary
    top = d.findings[0]
    assert "labelled rows so far lean the same way" in top.evidence
    assert top.details["labelled_n_version"] < 200


def test_a_retrain_with_few_labels_yet_stays_quiet(world: dict[str, np.ndarray]) -> None:
    log, onset = _log(world, "retrain")
    d = diagnose(log, onset=onset)  # type: ignore[arg-type]
    assert d.cause == "none", d.summary
