"""A harmless redeploy that served where its baseline never did, labels withheld (issue 12, cycles checker).

With no label on the new version's rows, it was judged by its answers' distribution and by loss
estimates on its rows against the baseline's estimates on other rows. A redeploy of the same model
at the start of the night after a daytime reference, or of a warmer day, serves inputs the old
version never saw: the answers differ and the label model is less sure there, so "estimated mean
absolute error 7.52 on its 115 rows against 4.83 for v7's 1260 rows" blamed an identical model
(healthy seeds 56, 114, 239: none of the version's rows inside the region v7 served). The cycles
checker's own logs are rebuilt here (`benchmarks.outside.cycles.gen`); the guard is built with
numpy. Both are diagnosed through the Python API, with the alert's onset given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.outside.cycles.gen import build, make_spec
from diagnostics import diagnose
from diagnostics.loader import load_log
from diagnostics.log import PredictionLog

HOUR = 3600.0
START = 1_780_000_000.0 - 1_780_000_000.0 % 86400.0 + 8 * HOUR
CANARY = START + 11 * HOUR


def _version(d: object) -> list[tuple[float, str, dict[str, object]]]:
    return [(f.score, f.evidence, f.details) for f in d.findings if f.check == "version_change"]  # type: ignore[attr-defined]


def test_a_redeploy_that_served_the_night_or_a_warmer_day_alone_is_not_blamed(tmp_path: Path) -> None:
    for seed in (56, 114):  # bike counts (a forest) and a building's energy (linear), labels withheld
        spec = make_spec(seed)
        assert spec.fault == "" and spec.redeploy and spec.labels == "withheld"
        built = build(spec, tmp_path / str(seed))
        d = diagnose(load_log(built.log), changes=built.changes, onset=built.onset)
        (score, evidence, details), = _version(d)
        assert score < 0.3 and d.cause == "none", (seed, d.cause, score, evidence)
        assert "never served" in evidence and float(details["rows_where_baseline_served"]) < 0.5  # type: ignore[arg-type]


def _canary(seed: int, off: float) -> PredictionLog:
    """A delivery-time model; since 19:00 half the requests go to v2, its answers `off` minutes off
    (half each way), and no label has come back since."""
    rng = np.random.default_rng(seed)
    n = 14 * 60 * 6
    t = np.sort(START + rng.uniform(0, 14 * HOUR, n))
    distance = rng.gamma(3.0, 2.0, n)
    truth = 10 + 3 * distance
    v2 = (t >= CANARY) & (rng.random(n) < 0.5)
    pred = truth + np.where(v2, off * np.where(rng.random(n) < 0.5, 1.0, -1.0), 0.0)
    label = np.where(t >= CANARY, np.nan, truth + rng.normal(0, 2.0, n))
    return PredictionLog(timestamp=t, model_version=np.where(v2, "v2", "v1"), prediction=pred, label=label,
                         features={"distance_km": distance, "hour": np.floor((t % 86400.0) / HOUR)})


def test_a_canary_whose_answers_are_off_where_its_baseline_serves_too_is_still_blamed() -> None:
    for seed in (1, 2):
        d = diagnose(_canary(seed, off=3.0), onset=CANARY + 60.0)
        assert (d.cause, d.culprit_kind, d.culprit_name) == ("model", "model_version", "v2"), (seed, d.findings[:2])
