"""Weather from day to day: the log's own level blocks counted right.

The log's own level is read in blocks of a third of the stretch before the onset (`phase.level_steps`): the float
division made two blocks of three on a third of such logs, and left them unjudged.
"""

from __future__ import annotations

import numpy as np

from diagnostics.phase import DAY_S, HOUR_S, level_steps


def test_the_stretch_before_the_onset_holds_three_blocks() -> None:
    rng = np.random.default_rng(0)
    ts = np.sort(rng.uniform(0.0, 2 * DAY_S, 8000))
    v = 4.0 * np.cos(2 * np.pi * (ts / DAY_S - 0.6)) + rng.normal(0.0, 0.6, ts.size)
    for before_h in (20.0 + 2 * 7.0 / HOUR_S, 30.0):  # 20.0039 h: 72,014 s // 24,004.67 s was 2.0
        steps = level_steps(v, ts, float(ts[0]) + before_h * HOUR_S)
        assert steps is not None, before_h
        at, own, noise, _, _ = steps
        assert at <= max(1.5 * own, noise), before_h  # a still input's level: no step at the onset
