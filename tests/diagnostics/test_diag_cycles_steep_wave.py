"""A steep daily wave on a log under a day: a smooth path through the onset is no drift, a jump or a kink is.

A bike service's temperature climbs through the morning by a degree an hour (the cycles generator's
6-12-hour weather logs): its own rows before the onset hold the early hours, so after the onset
the input sits at values the reference never had, and a line and a bend of the few hours held do
not take the wave out ('temperature drifted beyond the log's own daily cycle', KS 0.16-0.8, on
healthy logs). Its last rows before the onset and its first rows after it differ by the slope
alone, so the glide's plain break test read it as a break. A wave is continuous in level and in
slope; a fault jumps (an offset, a unit, a fifth of the rows moved) or kinks (a ramp from the
onset) (`phase.smooth_through_onset`). Each log is built here with numpy; labels are withheld
after the onset.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diagnostics.loader import frame_to_log
from diagnostics.log import PredictionLog
from diagnostics.phase import smooth_through_onset
from tests.diagnostics.short_log_faults import HOUR, assert_quiet_but_faults_named, move

T0 = pd.Timestamp("2026-05-18T05:00Z").timestamp()  # 07:00 in a UTC+2 zone


def _morning_log(seed: int, fault: str = "") -> tuple[PredictionLog, float]:
    """Ten hours from 07:00 local, a temperature peaking at 15:00 (swing 10 degrees); onset at 08:30."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(T0, T0 + 10 * HOUR, 12000))
    hour = ((t - T0) / HOUR + 7.0) % 24
    temp = 18.0 + 5.0 * np.cos(2 * np.pi * (hour - 15.0) / 24) + rng.normal(0.0, 0.6, t.size)
    humidity = np.clip(70 - 2.0 * (temp - 18.0) + rng.normal(0.0, 6.0, t.size), 10, 100)
    wind = rng.gamma(2.0, 2.0, t.size)  # an input of its own: no two requests alike
    onset = T0 + 1.5 * HOUR
    after = t >= onset
    sd = float(temp[~after].std())
    served = temp.copy()
    move(served, after, t, onset, sd, fault, rng)
    served = np.round(served, 1)
    y = rng.poisson(np.exp(1.5 + 0.04 * temp - 0.01 * wind)).astype(float)
    pred = np.exp(1.5 + 0.04 * served - 0.01 * wind)
    df = pd.DataFrame({"timestamp": pd.to_datetime(t, unit="s", utc=True), "model_version": "v1",
                       "prediction": pred, "label": np.where(after, np.nan, y),
                       "latency_ms": rng.lognormal(3.0, 0.2, t.size), "temperature": served,
                       "humidity": np.round(humidity, 0), "wind": np.round(wind, 2)})
    return frame_to_log(df), onset


def test_a_steep_morning_climb_is_no_drift_but_an_offset_a_ramp_a_fifth_a_unit_or_a_stuck_feed_is() -> None:
    # main: 'temperature' drifted beyond the log's own daily cycle on the healthy logs
    assert_quiet_but_faults_named(_morning_log, (0, 1), ("offset", "ramp", "fifth", "unit", "stuck"), "temperature")


def test_a_smooth_path_is_told_from_a_step_a_kink_and_a_moved_fifth() -> None:
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0.0, 8 * HOUR, 8000))
    wave = 5.0 * np.sin(2 * np.pi * t / (24 * HOUR)) + rng.normal(0.0, 0.6, t.size)  # +1.3 degrees an hour
    cut = int(np.searchsorted(t, 3 * HOUR))
    r, r_ts, c, c_ts = wave[:cut], t[:cut], wave[cut:], t[cut:]
    assert smooth_through_onset(r, r_ts, c, c_ts)
    sd = float(r.std())
    assert not smooth_through_onset(r, r_ts, c + sd, c_ts)  # an offset mid-wave
    ramp = c + 2.0 * sd * np.clip((c_ts - c_ts[0]) / HOUR, 0.0, 1.0)
    assert not smooth_through_onset(r, r_ts, ramp, c_ts)  # a ramp from the onset
    fifth = c + np.where(rng.random(c.size) < 0.2, 4.0 * sd, 0.0)
    assert not smooth_through_onset(r, r_ts, fifth, c_ts)  # a fifth of the rows moved
    few = slice(None, None, 40)  # 200 rows in all: too few to tell a wave from an offset
    assert not smooth_through_onset(r[few], r_ts[few], c[few], c_ts[few])
    day = np.sort(rng.uniform(0.0, 30 * HOUR, 8000))  # a log of a day or more fits its wave itself
    cut = int(np.searchsorted(day, 20 * HOUR))
    v = 5.0 * np.sin(2 * np.pi * day / (24 * HOUR)) + rng.normal(0.0, 0.6, day.size)
    assert not smooth_through_onset(v[:cut], day[:cut], v[cut:], day[cut:])
