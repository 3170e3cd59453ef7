"""An input whose level moves by the service's local days, the step away from the onset.

A day's temperature (a forecast or a station's daily level joined by date) steps at the local
midnight by a degree or two; a ride service's demand sits 5 higher on a weekend. On a log of a
day and a half or two whose reference holds one such step or none, the window's day reads as a
drift when the step falls at the next midnight inside the window (the alert at 22:45, the day's
step at 00:00: 'temp_c drifted' on main's code) or at the midnight before the alert (a Monday's
demand from 00:00, the alert at 01:40: 'demand drifted'). With each local day's level taken out
nothing else moved, and the onset's own day shows no step at the onset (`data_checks._moves_by_local_days`,
`phase.day_levels`). A sensor's offset of 3 degrees from the onset (a step inside the day), an
offset of 8 from the next midnight (beyond half the daily swing of 8) and a fifth of the rows 8
high stay found. Each log is built here with numpy; the model is a fixed linear formula.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diagnostics import diagnose
from diagnostics.loader import frame_to_log
from diagnostics.log import PredictionLog
from diagnostics.phase import day_levels
from tests.diagnostics.test_diag_cycles_weather_midnight import temp_log
from tests.diagnostics.test_diag_cycles_weather_walk import _top

HOUR = 3600.0
ZONE_H = -4.0  # the service's local clock: UTC-4
T0 = pd.Timestamp("2026-05-15T20:00Z").timestamp() - ZONE_H * HOUR  # 20:00 local on a Friday
LEVELS = {0: (0.0, -1.0, 1.2), 1: (0.5, 0.0, -1.6)}
ONSET_H = 26.75  # 22:45 local on the second day: the day's step comes at 00:00, 1.25 hours later


def _log(
    seed: int, offset: float = 0.0, fifth: float = 0.0, from_h: float = ONSET_H
) -> tuple[PredictionLog, float]:
    """36 hours from 20:00 local, the day's level stepping at each midnight; faults since `from_h`."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(T0, T0 + 36 * HOUR, 9000))
    local = (t - T0) / HOUR + 20.0
    day = (local // 24).astype(np.int64)
    hour = local % 24
    temp = 12 + np.asarray(LEVELS[seed])[day] + 4 * np.cos(2 * np.pi * (hour - 15) / 24) + rng.normal(0, 0.6, t.size)
    hit = t >= T0 + from_h * HOUR
    temp = np.where(hit, temp + offset, temp)
    temp = np.where(hit & (rng.random(t.size) < 0.2), temp + fifth, temp)
    return temp_log(rng, t, temp, hour), T0 + ONSET_H * HOUR


def _demand_log(seed: int, offset: float = 0.0) -> tuple[PredictionLog, float]:
    """48 hours from Saturday 18:00 local, no hour input, demand 5 higher on the weekend; the alert at 01:40 Monday."""
    rng = np.random.default_rng(seed + 10)
    start = pd.Timestamp("2026-07-18T18:00Z").timestamp() - 1.0 * HOUR  # UTC+1
    t = np.sort(rng.uniform(start, start + 48 * HOUR, 10000))
    local = (t - start) / HOUR + 18.0
    hour = local % 24
    weekday = (5 + (local // 24).astype(np.int64)) % 7
    demand = 20 + 15 * np.exp(-0.5 * ((hour - 18) / 2.5) ** 2) + 5 * (weekday >= 5) + rng.normal(0, 3, t.size)
    onset = start + (24 + 6 + 1 + 40 / 60) * HOUR
    demand = np.where(t >= onset, demand + offset, demand)
    other = rng.normal(0.0, 1.0, t.size)
    pred = 5 + 0.3 * demand + other
    names = np.array(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])[weekday]
    df = pd.DataFrame({"timestamp": pd.to_datetime(t, unit="s", utc=True), "model_version": "v1",
                       "prediction": np.round(pred, 3), "label": np.round(pred + rng.normal(0.0, 1.0, t.size), 3),
                       "latency_ms": rng.lognormal(3.0, 0.2, t.size), "demand": np.round(demand, 1), "other": other,
                       "day_name": names})
    return frame_to_log(df), onset


def test_a_days_step_at_the_next_midnight_or_a_weekend_ending_before_the_alert_is_no_drift() -> None:
    for seed in LEVELS:
        log, onset = _log(seed)
        d = diagnose(log, onset=onset)
        assert d.cause == "none", (seed, _top(d))
    log, onset = _demand_log(0)
    d = diagnose(log, onset=onset)
    assert d.cause == "none", _top(d)


def test_an_offset_inside_the_day_beyond_half_the_swing_or_on_a_fifth_of_the_rows_is_still_found() -> None:
    midnight = ONSET_H + 1.25
    for seed, kw in ((0, {"offset": 3.0}), (1, {"offset": 8.0, "from_h": midnight}), (0, {"fifth": 8.0})):
        log, onset = _log(seed, **kw)  # type: ignore[arg-type]
        d = diagnose(log, onset=onset)
        assert (d.cause, d.culprit_name) == ("data", "temp_c"), (seed, kw, _top(d))
    log, onset = _demand_log(0, offset=-4.0)
    d = diagnose(log, onset=onset)
    assert (d.cause, d.culprit_name) == ("data", "demand"), _top(d)


def test_day_levels_reads_the_step_at_the_midnight_and_not_at_the_onset() -> None:
    log, onset = _log(0)
    lv = day_levels(log.features["temp_c"], log.timestamp, onset, ZONE_H)
    assert lv is not None and lv.at_onset <= 1.5 * lv.within_day and lv.day_step < 0.5 * lv.swing
    log, onset = _log(0, offset=3.0)
    lv = day_levels(log.features["temp_c"], log.timestamp, onset, ZONE_H)
    assert lv is not None and lv.at_onset > 2.0
