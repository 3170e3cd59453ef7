"""A far reference's version tag is not, on its own, a bad-version verdict.

A training set scored in sample by its own model, tagged with its training run ("train-2026-01")
months before the log, has an error no live traffic reaches. The log's only version ("v7", the
same model) then looked worse than "train-2026-01" by the two-sample gap, and was blamed with
"rollback" to a version that served no row of the log. What holds against in-sample optimism
decides instead: the reference's labels scored by either version's answers at neighbouring
inputs (`matched.reverse_gap`), the paired comparison on the version's own labels, and the log's
own rows of other versions before the onset. A version really worse than the reference's is
still blamed.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_friedman1
from sklearn.ensemble import HistGradientBoostingRegressor

from diagnostics import PredictionLog, diagnose
from tests.diagnostics.diag_synth import matrix_log

DAY = 86_400.0
START = 1_795_000_000.0


@pytest.fixture(scope="module")
def friedman() -> dict[str, object]:
    x, y = make_friedman1(n_samples=12_000, n_features=10, noise=1.0, random_state=11)
    model = HistGradientBoostingRegressor(random_state=11).fit(x[:4_000], y[:4_000])
    fewer = HistGradientBoostingRegressor(random_state=11, max_iter=40).fit(x[:4_000], y[:4_000])
    return {"x": x, "y": y, "model": model, "fewer": fewer}


def _training_reference(f: dict[str, object]) -> PredictionLog:
    x, y, model = f["x"], f["y"], f["model"]
    assert isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
    xr, yr = x[:4_000], y[:4_000]
    tags = np.full(xr.shape[0], "train-2026-01", dtype=object)
    return matrix_log(xr, model.predict(xr), yr, tags, START - 300 * DAY)  # type: ignore[attr-defined]


def _served(f: dict[str, object], served_by: str, *, withheld: bool = False) -> PredictionLog:
    x, y, model = f["x"], f["y"], f[served_by]
    assert isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
    xs, ys = x[4_000:], y[4_000:].copy()
    if withheld:
        ys[:] = np.nan
    return matrix_log(xs, model.predict(xs), ys, np.full(xs.shape[0], "v7", dtype=object), START)  # type: ignore[attr-defined]


@pytest.mark.parametrize("withheld", [False, True])
def test_a_training_run_tag_is_not_a_rollback_target(friedman: dict[str, object], withheld: bool) -> None:
    d = diagnose(_served(friedman, "model", withheld=withheld), reference=_training_reference(friedman))
    assert d.cause == "none", d.summary
    assert d.recommended_mitigation == "none"
    version = next(f for f in d.findings if f.check == "version_change")
    assert version.score < 0.3
    if not withheld:
        # the two-sample gap against the in-sample reference is full-size; it is not the evidence
        assert version.details["far_reference"] is True
        assert version.details["two_sample_magnitude"] == pytest.approx(1.0)
        assert "served no row of this log" in version.evidence


@pytest.mark.parametrize("withheld", [False, True])
def test_a_version_worse_than_the_reference_model_is_still_blamed(friedman: dict[str, object], withheld: bool) -> None:
    """The same training set; the log is served by a model with fewer trees (+12% error on fresh rows)."""
    d = diagnose(_served(friedman, "fewer", withheld=withheld), reference=_training_reference(friedman))
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("model", "model_version", "v7"), d.summary
    version = next(f for f in d.findings if f.check == "version_change")
    assert version.details["reverse_z"] > 2.5


def test_the_logs_own_earlier_rows_count_against_a_far_reference(friedman: dict[str, object]) -> None:
    """v6 (the good model) served the log's first half, v7 (fewer trees) the rest: a live
    comparison inside the log, made whatever the reference's tag."""
    good, bad = _served(friedman, "model"), _served(friedman, "fewer")
    n = len(good)
    half = n // 2
    assert isinstance(good.prediction, np.ndarray) and isinstance(bad.prediction, np.ndarray)
    pred = np.concatenate([good.prediction[:half], bad.prediction[half:]])
    versions = np.where(np.arange(n) < half, "v6", "v7").astype(object)
    assert good.label is not None
    x = np.stack([np.asarray(good.features[f"x{i}"]) for i in range(10)], axis=1)
    log = matrix_log(x, pred, np.asarray(good.label), versions, START)
    d = diagnose(log, reference=_training_reference(friedman), onset=START + half * 3.0)
    assert (d.cause, d.culprit_name) == ("model", "v7"), d.summary
    version = next(f for f in d.findings if f.check == "version_change")
    # judged side by side against the log's own v6 rows, not against the in-sample reference
    assert version.details["baseline_version"] == "v6"
    assert version.details["loss_version"] > version.details["loss_others"]


def test_a_forest_judged_against_its_own_training_rows_is_not_blamed() -> None:
    """A random forest memorizes its training rows (in-sample error near 0): against them the same
    forest served on fresh inputs was 'model / rollback'. Its answers at neighbouring training rows
    are those rows' own labels, so the reverse comparison leans towards the version here, and
    nothing that holds against in-sample optimism blames it."""
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    x, y = make_classification(
        n_samples=9_000, n_features=8, n_informative=4, n_redundant=2, weights=[0.8], flip_y=0.02, random_state=3
    )
    forest = RandomForestClassifier(n_estimators=60, random_state=3, n_jobs=1).fit(x[:4_000], y[:4_000])

    def as_log(rows: slice, tag: str, start: float) -> PredictionLog:
        names = np.asarray(["neg", "pos"], dtype=object)
        return matrix_log(
            x[rows], names[forest.predict(x[rows])], names[y[rows]], np.full(len(y[rows]), tag, dtype=object), start
        )

    d = diagnose(
        as_log(slice(4_000, None), "v7", START), reference=as_log(slice(0, 4_000), "train-2026-01", START - 300 * DAY)
    )
    assert d.cause == "none", d.summary
    version = next(f for f in d.findings if f.check == "version_change")
    assert version.details["far_reference"] is True and version.score < 0.3
