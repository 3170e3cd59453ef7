"""Whatever arrays come in, `diagnose` returns a diagnosis or raises `DiagnosisInputError`."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from diagnostics import PredictionLog, diagnose
from diagnostics.engine import DiagnosisInputError


@hs.composite
def odd_logs(draw: hs.DrawFn) -> tuple[PredictionLog, float | None]:
    n = draw(hs.integers(1, 400))
    seed = draw(hs.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    span = draw(hs.sampled_from([0.0, 1.0, 600.0, 86400.0]))
    ts = 1_795_000_000.0 + np.sort(rng.uniform(0, span, n))
    classes = draw(hs.booleans())
    pred: np.ndarray = rng.choice(np.array(["a", "b", None], dtype=object), n) if classes else rng.normal(size=n)
    label: np.ndarray | None = None
    if draw(hs.booleans()):
        label = (
            rng.choice(np.array(["a", "b", None], dtype=object), n)
            if classes
            else np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n))
        )
    features: dict[str, np.ndarray] = {
        "const": np.ones(n),
        "nan": np.full(n, np.nan),
        "mostly_nan": np.where(rng.random(n) < 0.9, np.nan, rng.normal(size=n)),
        "cat": rng.choice(np.array(["x", "y", None], dtype=object), n),
        "ids": np.array([f"id{i}" for i in range(n)], dtype=object),
        "inf": np.where(rng.random(n) < 0.1, np.inf, rng.normal(size=n)),
    }
    log = PredictionLog(
        timestamp=ts,
        model_version=rng.choice(np.array(["v1", "v2"], dtype=object), n),
        prediction=pred,
        label=label,
        latency_ms=draw(hs.sampled_from([None, np.abs(rng.normal(30, 5, n))])),
        error=draw(hs.sampled_from([None, (rng.random(n) < 0.05).astype(float)])),
        features=dict(features),
    )
    onset = draw(hs.sampled_from([None, float(ts[n // 2]), float(ts[0]), float(ts[-1])]))
    return log, onset


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(odd_logs())
def test_diagnose_never_crashes(case: tuple[PredictionLog, float | None]) -> None:
    log, onset = case
    try:
        d = diagnose(log, onset=onset)
    except DiagnosisInputError:
        return
    out = d.to_dict()
    assert out["cause"] in {"data", "model", "service", "none"}
    assert 0.0 <= out["confidence"] <= 1.0
