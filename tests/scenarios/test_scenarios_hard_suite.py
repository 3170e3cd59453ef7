"""The harder suite's parts: datasets with the promised difficulty, the labels-withheld switch,
graded strengths, the healthy variants and the measured fault size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score

from benchmarks.scenarios.curve import STRENGTHS
from benchmarks.scenarios.datasets import load_source, model_inputs, production_model
from benchmarks.scenarios.generate import generate_scenario
from benchmarks.scenarios.simulate import UNUSED_FEATURE


def _pool_predictions(name: str) -> tuple[np.ndarray, np.ndarray]:
    src = load_source(name, 0)
    x = src.pool_x.copy()
    x["tier"] = src.tier_of(x[src.top_feature].to_numpy())
    return production_model(name, 0, 0).predict(x[model_inputs(src)]), src.pool_y


def test_weak_regression_and_rare_positive_datasets_are_as_hard_as_promised() -> None:
    pred, y = _pool_predictions("diabetes_weak")
    assert r2_score(y, pred) < 0.2
    for name, positive in (("breast_cancer_rare", "malignant"), ("digits_rare", "zero")):
        src = load_source(name, 0)
        share = float(np.mean(np.concatenate([src.train_y, src.pool_y]) == positive))
        assert 0.02 < share < 0.1, (name, share)


def test_every_kind_has_four_strengths() -> None:
    assert all(len(v) >= 4 for v in STRENGTHS.values())


def test_labels_withheld_after_the_onset(tmp_path: Path) -> None:
    sc = generate_scenario(
        "feature_drift",
        3,
        "diabetes_weak",
        tmp_path,
        rows_per_minute=6.0,
        fmt="parquet",
        labels_withheld=True,
        strength=(0, 1.0),
    )
    frame = pd.read_parquet(sc.path_log)
    after = frame["timestamp"] >= pd.Timestamp(sc.onset)
    assert frame.loc[after, "label"].isna().all()
    assert frame.loc[~after, "label"].notna().mean() > 0.7
    # the fault's size is measured on the truth even when the log hides the labels
    effect = sc.truth["effect"]
    assert effect["labelled_after"] == 0 and np.isfinite(effect["relative_error_increase"])
    assert effect["rows_moved"] > 0.2


def test_graded_bad_version_is_worse_but_less_than_the_gross_one(tmp_path: Path) -> None:
    rises = []
    for i, flaw in enumerate(("label_noise:0.3", "label_noise")):
        sc = generate_scenario(
            "bad_version_event",
            1,
            "diabetes",
            tmp_path / str(i),
            rows_per_minute=6.0,
            fmt="parquet",
            strength=(flaw, 1.0),
        )
        rises.append(sc.truth["effect"]["relative_error_increase"])
    assert 0.0 < rises[0] < rises[1]


def test_healthy_variants_change_nothing_the_model_reads(tmp_path: Path) -> None:
    drift = generate_scenario("healthy_slow_drift", 2, "wine", tmp_path / "d", rows_per_minute=6.0, fmt="parquet")
    frame = pd.read_parquet(drift.path_log)
    first, last = frame.iloc[: len(frame) // 5], frame.iloc[-len(frame) // 5 :]
    assert last[UNUSED_FEATURE].median() > 1.4 * first[UNUSED_FEATURE].median()
    redeploy = generate_scenario("healthy_redeploy", 2, "wine", tmp_path / "r", rows_per_minute=6.0, fmt="parquet")
    frame = pd.read_parquet(redeploy.path_log)
    assert frame["model_version"].nunique() == 2
    assert abs(redeploy.truth["effect"]["relative_error_increase"]) < 1.0 or not np.isfinite(
        redeploy.truth["effect"]["relative_error_increase"]
    )
