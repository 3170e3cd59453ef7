"""A day's weather step at the local midnight of a log under half a day, and an onset dated just past a midnight.

A temperature joined per local day steps at the service's midnight by a degree or two. On a
6-hour evening log (19:00-01:00 local) the onset scan dates the log's strongest step at that
midnight, and with the evening's fall taken out (a line and a bend below half a day) the step
stood against the noise: 'temp_c drifted beyond the log's own daily cycle' on main's code
(issue-20c; the cycles checker's seed 81). The prior on how far a day's weather moves
(`data_checks._a_days_weather`: less than half the daily swing) needed half a day of log for
the swing; below it the swing is the line and bend's over the hours held (`phase.daily_wave_fit`),
the part of the day's wave the log saw, never more than the whole day's. An offset beyond half
that from the same midnight, a fifth of the rows moved and an offset from 22:30 stay found.

And a log of three days without an hour input whose onset is dated ten seconds past a local
midnight, after the new day's first rows (the cycles checker's seed 85): no rows of the onset's
day lie on both sides of it, so `_moves_by_local_days` asked the two rows around the onset to
lie on different days, and they did not. An onset within `MIDNIGHT_S` of the midnight is the
midnight's step (as `_a_days_weather` reads it); a mid-day offset stays found.
Each log is built here with numpy; the model is a fixed linear formula.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diagnostics import diagnose
from diagnostics.loader import frame_to_log
from diagnostics.log import PredictionLog
from tests.diagnostics.test_diag_cycles_weather_midnight import temp_log
from tests.diagnostics.test_diag_cycles_weather_walk import _top

HOUR = 3600.0
ZONE_H = -5.0  # the service's local clock: UTC-5
T0 = pd.Timestamp("2026-06-13T19:00Z").timestamp() - ZONE_H * HOUR  # 19:00 local on a Saturday
STEPS = {0: 1.4, 1: -1.2, 2: 1.8}  # the day's level at midnight, five hours in


def _evening(seed: int, offset: float = 0.0, fifth: float = 0.0, from_h: float = 5.0) -> tuple[PredictionLog, float]:
    """6 hours from 19:00 local, the day's level stepping at midnight; faults since `from_h`; the onset at midnight."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(T0, T0 + 6 * HOUR, 3000))
    local = (t - T0) / HOUR + 19.0
    hour = local % 24
    temp = 16 + STEPS[seed] * (local >= 24) + 5 * np.cos(2 * np.pi * (hour - 15) / 24) + rng.normal(0, 0.6, t.size)
    hit = t >= T0 + from_h * HOUR
    temp = np.where(hit, temp + offset, temp)
    temp = np.where(hit & (rng.random(t.size) < 0.2), temp + fifth, temp)
    return temp_log(rng, t, temp, hour), T0 + 5 * HOUR


def test_a_days_step_at_the_midnight_of_a_six_hour_evening_is_no_drift() -> None:
    for seed in STEPS:
        log, onset = _evening(seed)
        d = diagnose(log, onset=onset)
        assert d.cause == "none", (seed, _top(d))


def test_an_offset_beyond_half_the_evenings_fall_a_fifth_of_the_rows_or_an_offset_at_2230_are_still_found() -> None:
    for seed, kw in ((0, {"offset": 6.0}), (1, {"fifth": 6.0}), (2, {"offset": 2.5, "from_h": 3.5})):
        log, onset = _evening(seed, **kw)  # type: ignore[arg-type]
        d = diagnose(log, onset=T0 + float(kw.get("from_h", 5.0)) * HOUR)
        assert (d.cause, d.culprit_name) == ("data", "temp_c"), (seed, kw, _top(d))


def _days_log(seed: int, offset: float = 0.0, from_h: float | None = None) -> tuple[PredictionLog, float]:
    """72 hours from 10:00 local, no hour input, the level stepping at each midnight; the onset just past the second."""
    rng = np.random.default_rng(seed + 20)
    start = pd.Timestamp("2026-03-12T10:00Z").timestamp() + 7.0 * HOUR  # UTC-7
    t = np.sort(rng.uniform(start, start + 72 * HOUR, 20000))
    local = (t - start) / HOUR + 10.0
    day = (local // 24).astype(np.int64)
    hour = local % 24
    levels = np.array([0.0, 1.0, -1.5, 0.5]) + (0.5 if seed else 0.0)
    temp = 12 + levels[day] + 6 * np.cos(2 * np.pi * (hour - 15) / 24) + rng.normal(0, 0.6, t.size)
    midnight = start + 38 * HOUR  # 00:00 local on the second midnight
    onset = float(t[np.searchsorted(t, midnight) + 2])  # dated at the new day's third row, seconds past it
    if from_h is not None:
        temp = np.where(t >= start + from_h * HOUR, temp + offset, temp)
        onset = start + from_h * HOUR
    weekday = (3 + day) % 7  # Thursday first
    other = rng.normal(0.0, 1.0, t.size)
    pred = 20 + 0.8 * temp + 3 * other
    names = np.array(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])[weekday]
    df = pd.DataFrame({"timestamp": pd.to_datetime(t, unit="s", utc=True), "model_version": "v1",
                       "prediction": np.round(pred, 3), "label": np.round(pred + rng.normal(0.0, 2.0, t.size), 3),
                       "latency_ms": rng.lognormal(3.0, 0.2, t.size), "temp_c": np.round(temp, 1), "other": other,
                       "day_name": names})
    return frame_to_log(df), onset


def test_an_onset_dated_seconds_past_a_local_midnight_is_the_days_step() -> None:
    for seed in (0, 1):
        log, onset = _days_log(seed)
        d = diagnose(log, onset=onset)
        assert d.cause == "none", (seed, _top(d))


def test_an_offset_from_the_afternoon_of_a_days_log_is_still_found() -> None:
    log, onset = _days_log(0, offset=4.0, from_h=44.5)  # 14:30 local on the third day
    d = diagnose(log, onset=onset)
    assert (d.cause, d.culprit_name) == ("data", "temp_c"), _top(d)
