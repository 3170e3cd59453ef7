"""Weather from day to day: the earlier days' range as the band, and the log's own blocks counted right.

Two or three earlier days show less than the weather's whole swing: a new day falls outside their
levels widened by half their range about half the time for two days (a day-level walk: 'outdoor_temp
drifted, median 14.7 -> 16.1' on a healthy 5-day log beside a 3-day validation file). The band is
widened by the whole range on each side (`data_checks._weather_shift`); a level beyond every day
by more than that (the range and 6 degrees, `faults_on_weather`) stays whole. The log's own level
is read in blocks of a third of the stretch before the onset (`phase.level_steps`): the float
division made two blocks of three on a third of such logs, and left them unjudged.
"""

from __future__ import annotations

import numpy as np

from diagnostics.data_checks import _weather_shift
from diagnostics.phase import DAY_S, HOUR_S, level_steps


def test_a_window_within_the_earlier_days_range_of_them_is_weather() -> None:
    swing = (0.2, 0.3, 0.2, 0.3, 13.4, 14.3)  # two earlier days at 13.4 and 14.3 degrees
    assert _weather_shift(14.0, 15.1, swing) == 15.1 - 14.0  # 0.8 above the warmer day: main took none
    assert _weather_shift(14.0, 12.6, swing) == 12.6 - 14.0
    assert _weather_shift(14.0, 14.3 + 0.9 + 6.0, swing) == 0.0  # beyond every day by the range and 6
    assert _weather_shift(14.0, 16.0, None) == 0.0  # no earlier days: nothing taken out


def test_the_stretch_before_the_onset_holds_three_blocks() -> None:
    rng = np.random.default_rng(0)
    ts = np.sort(rng.uniform(0.0, 2 * DAY_S, 8000))
    v = 4.0 * np.cos(2 * np.pi * (ts / DAY_S - 0.6)) + rng.normal(0.0, 0.6, ts.size)
    for before_h in (20.0 + 2 * 7.0 / HOUR_S, 30.0):  # 20.0039 h: 72,014 s // 24,004.67 s was 2.0
        steps = level_steps(v, ts, float(ts[0]) + before_h * HOUR_S)
        assert steps is not None, before_h
        at, own, noise, _, _ = steps
        assert at <= max(1.5 * own, noise), before_h  # a still input's level: no step at the onset
