"""A weather input joined per local day, stepping at the midnight a reference of less than a day ends at.

A day's temperature level moves by a degree or two from one local day to the next (a day's
forecast, a station's daily level joined by date). On a log of a day and a half whose reference
ends at a local midnight (the onset the scan finds there, the weather's own step) no earlier day
holds a level to compare: with the daily wave taken out, the step of 1.5 degrees against the
noise of 0.6 read as 'temp_c drifted beyond the log's own daily cycle' on main's code. A day's
weather moves the level by less than half the daily swing (`data_checks._a_days_weather`); a
sensor's offset of 8 degrees from the same midnight (the swing is 8) and a fifth of the rows 8
degrees high stay found. (An offset of 5 on a day whose weather stepped by -1.5 is a step of 3.5,
inside the prior: missed, as the rule says; an offset from another minute is
`test_diag_cycles_outside`'s 4-degree feed.)
Each log is built here with numpy; the model is a fixed linear formula.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diagnostics import diagnose
from diagnostics.loader import frame_to_log
from diagnostics.log import PredictionLog
from tests.diagnostics.test_diag_cycles_weather_walk import _top

HOUR = 3600.0
ZONE_H = 2.0  # the service's local clock: UTC+2
T0 = pd.Timestamp("2026-10-05T06:00Z").timestamp() - ZONE_H * HOUR  # 06:00 local on a Monday
LEVELS = {0: (0.0, 1.6), 1: (0.0, -1.5), 2: (0.4, 2.0)}


def _log(seed: int, offset: float = 0.0, fifth: float = 0.0, onset_h: float = 18.0) -> tuple[PredictionLog, float]:
    """36 hours from 06:00 local, the day's level stepping at midnight (18 hours in); the onset at `onset_h`."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(T0, T0 + 36 * HOUR, 14000))
    local = (t - T0) / HOUR + 6.0
    day = (local // 24).astype(np.int64)
    hour = local % 24
    temp = 14 + np.asarray(LEVELS[seed])[day] + 4 * np.cos(2 * np.pi * (hour - 15) / 24) + rng.normal(0, 0.6, t.size)
    onset = T0 + onset_h * HOUR
    after = t >= onset
    temp = np.where(after, temp + offset, temp)
    temp = np.where(after & (rng.random(t.size) < 0.2), temp + fifth, temp)
    return temp_log(rng, t, temp, hour), onset


def temp_log(rng: np.random.Generator, t: np.ndarray, temp: np.ndarray, hour: np.ndarray) -> PredictionLog:
    """A log of a fixed linear model reading `temp_c`, an unrelated input and the hour of the day."""
    other = rng.normal(0.0, 1.0, t.size)
    pred = 20 + 0.8 * temp + 3 * other + 0.1 * np.floor(hour)
    df = pd.DataFrame({"timestamp": pd.to_datetime(t, unit="s", utc=True), "model_version": "v1",
                       "prediction": np.round(pred, 3), "label": np.round(pred + rng.normal(0.0, 2.0, t.size), 3),
                       "latency_ms": rng.lognormal(3.0, 0.2, t.size), "temp_c": np.round(temp, 1), "other": other,
                       "hour": np.floor(hour)})
    return frame_to_log(df)


def test_a_days_weather_step_at_the_midnight_a_short_reference_ends_at_is_no_drift() -> None:
    for seed in LEVELS:
        log, onset = _log(seed)
        d = diagnose(log, onset=onset)
        assert d.cause == "none", (seed, _top(d))


def test_an_offset_beyond_half_the_swing_or_a_fifth_of_the_rows_from_the_midnight_are_still_found() -> None:
    for seed in LEVELS:
        for kw in ({"offset": 8.0}, {"fifth": 8.0}):
            log, onset = _log(seed, **kw)  # type: ignore[arg-type]
            d = diagnose(log, onset=onset)
            assert (d.cause, d.culprit_name) == ("data", "temp_c"), (seed, kw, _top(d))
