"""A used column that breaks at the onset explains the drop at that onset.

The column's influence estimate is rough for a feature acting through a curve (Friedman's
quadratic term has almost no linear association with the prediction), so its schema finding
alone scores low; the concept-drift residual must not outrank it on the same drop.
"""

from __future__ import annotations

import numpy as np

from diagnostics import Categorical, PredictionLog, diagnose


def _friedman(x: np.ndarray) -> np.ndarray:
    return 10 * np.sin(np.pi * x[:, 0] * x[:, 1]) + 20 * (x[:, 2] - 0.5) ** 2 + 10 * x[:, 3] + 5 * x[:, 4]


def _friedman_log(*, empty: str | None, concept: bool, seed: int = 3) -> PredictionLog:
    rng = np.random.default_rng(seed)
    n, onset = 12_000, 7_000
    x = rng.random((n, 6))
    label = _friedman(x) + rng.normal(0, 1.0, n)
    seen = x.copy()
    after = np.arange(n) >= onset
    if empty is not None:
        col = int(empty[1:])
        seen[after, col] = 0.5  # the serving pipeline imputes the lost column with its mean
    pred = _friedman(seen)
    if concept:
        label[after] += 4.0 * x[after, 3]
    features: dict[str, np.ndarray | Categorical] = {f"x{i}": x[:, i].copy() for i in range(6)}
    if empty is not None:
        features[empty][after] = np.nan  # the log records what arrived: nothing
    return PredictionLog(
        timestamp=1_790_000_000 + np.arange(n) * 5.0,
        model_version=np.full(n, "v1", dtype=object),
        prediction=pred,
        label=label,
        latency_ms=rng.gamma(4, 8, n),
        error=np.zeros(n),
        features=features,
        name="friedman",
    )


def test_a_used_column_emptied_at_the_onset_is_the_cause_not_concept_drift() -> None:
    d = diagnose(_friedman_log(empty="x2", concept=False))
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("data", "feature", "x2")
    assert d.findings[0].check == "schema_change"
    concept = next(f for f in d.findings if f.check == "concept_drift")
    assert concept.score < d.findings[0].score


def test_an_unused_column_emptied_beside_a_concept_change_leaves_the_concept_verdict() -> None:
    # x5 is logged but never read: its loss explains nothing, the relation change does
    d = diagnose(_friedman_log(empty="x5", concept=True))
    assert (d.cause, d.culprit_kind) == ("model", "concept")


def test_concept_drift_alone_is_still_concept_drift() -> None:
    d = diagnose(_friedman_log(empty=None, concept=True))
    assert (d.cause, d.culprit_kind) == ("model", "concept")
