"""Latency that follows the load of the day on logs under half a day: no step at the onset, no regression.

Latency follows load and load the clock: a window at the evening peak of an 8-hour log is 20-50%
slower than the afternoon before it. Below half a day no daily wave is fitted for latency (a line
and a bend took a x1.25 slowdown for the afternoon's rise), so the rise read 'latency rose, typical
request x1.2-1.5' on healthy logs. A slowdown starts at the onset; the requests just before and just
after it show it whole, while the wave moves latency by a few percent in an hour.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diagnostics import diagnose
from diagnostics.loader import frame_to_log
from diagnostics.log import PredictionLog

T0 = pd.Timestamp("2026-10-05T00:00Z").timestamp()


def _log(seed: int, scale: float = 1.0, tail: float = 0.0) -> tuple[PredictionLog, float]:
    """An 8-hour log from 12:00, latency x(1 + 0.45 cos) around 19:00, the onset at 17:00."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(T0 + 12 * 3600.0, T0 + 20 * 3600.0, 9000))
    hour = (t / 3600.0) % 24
    load = 1 + 0.45 * np.cos(2 * np.pi * (hour - 19) / 24)
    latency = rng.lognormal(np.log(35 * load), 0.3)
    onset = T0 + 17 * 3600.0
    after = t >= onset
    latency = np.where(after, latency * scale, latency)
    latency = np.where(after & (rng.random(t.size) < 0.15), latency + tail, latency)
    x = rng.normal(0.0, 1.0, t.size)
    df = pd.DataFrame({"timestamp": pd.to_datetime(t, unit="s", utc=True), "model_version": "v1",
                       "prediction": 2 * x, "label": 2 * x + rng.normal(0.0, 1.0, t.size),
                       "latency_ms": np.round(latency, 1), "x": x})
    return frame_to_log(df), onset


def test_a_short_logs_evening_latency_is_no_regression_but_a_slowdown_at_the_onset_is() -> None:
    for seed in (0, 1, 2):
        log, onset = _log(seed)
        d = diagnose(log, onset=onset)
        assert d.cause == "none", (seed, [(f.check, f.evidence[:100]) for f in d.findings[:2]])
        for kw in ({"scale": 1.25}, {"scale": 1.5}, {"tail": 250.0}):
            bad, onset = _log(seed, **kw)  # type: ignore[arg-type]
            d = diagnose(bad, onset=onset)
            assert (d.cause, d.culprit_kind) == ("service", "latency"), (seed, kw, d.findings[0].evidence[:100])
