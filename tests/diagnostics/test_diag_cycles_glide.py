"""Rows that follow the clock on a log under a day: a glide through the onset is no drift, a break is.

A bundled set served with its rows tilted towards the evening (larger tumours at night, the
cycles generator's breast_cancer, diabetes and wine logs of 6-20 hours) moves every input that
goes with the first one, hour by hour: the window holds hours the reference never saw and sits
beyond the reference's mix, and neither a line and a bend nor the reference's own hour blocks take
that out ('mean perimeter drifted', KS 0.18-0.22, on healthy logs). The input moved through its
reference as it moves through the window, and its last rows before the onset are like its first
rows after it (`phase.glides_through_onset`). A unit, a fifth of the rows moved, an offset break at
the onset and are still found. Each log is built here with numpy; labels are withheld after the onset.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diagnostics.loader import frame_to_log
from diagnostics.log import PredictionLog
from diagnostics.phase import glides_through_onset
from tests.diagnostics.short_log_faults import HOUR, assert_quiet_but_faults_named, move

T0 = pd.Timestamp("2026-08-17T09:00Z").timestamp()


def _tilted_log(seed: int, fault: str = "") -> tuple[PredictionLog, float]:
    """Ten hours from 09:00 of a 300-row pool's rows, the first input's rank tilted towards 19:00; onset at 16:12."""
    rng = np.random.default_rng(seed)
    pool = np.sort(rng.lognormal(4.4, 0.25, 300))  # a size: skewed, few distinct values
    twin = pool * 0.16 + rng.normal(0.0, 0.4, pool.size)  # an input that goes with it (a radius)
    other = rng.normal(0.0, 1.0, pool.size)
    t = np.sort(rng.uniform(T0, T0 + 10 * HOUR, 8000))
    hour = ((t - T0) / HOUR + 9.0) % 24
    tilt = 0.5 + 0.5 * np.cos(2 * np.pi * (hour - 19) / 24)
    rows = np.clip((0.35 * tilt + 0.65 * rng.random(t.size)) * pool.size, 0, pool.size - 1).astype(int)
    size, radius, x = pool[rows], twin[rows], other[rows]
    onset = T0 + 7.2 * HOUR
    after = t >= onset
    sd = float(size[~after].std())
    served = size.copy()
    move(served, after, t, onset, sd, fault, rng)
    y = 0.02 * size + 0.5 * radius + x + rng.normal(0.0, 0.5, t.size)
    df = pd.DataFrame({"timestamp": pd.to_datetime(t, unit="s", utc=True), "model_version": "v1",
                       "prediction": 0.02 * served + 0.5 * radius + x, "label": np.where(after, np.nan, y),
                       "latency_ms": rng.lognormal(3.0, 0.2, t.size), "size": served, "radius": radius,
                       "other": x})
    return frame_to_log(df), onset


def test_rows_tilted_by_the_clock_are_no_drift_but_a_unit_a_fifth_moved_or_an_offset_is() -> None:
    # main: 'size' or 'radius' drifted on the healthy logs
    assert_quiet_but_faults_named(_tilted_log, (0, 1), ("unit", "fifth", "offset"), "size")


def test_a_glide_is_told_from_a_break_and_from_a_ramp_on_a_still_input() -> None:
    rng = np.random.default_rng(0)
    t = np.linspace(0.0, 1.0, 6000)
    glide = 0.6 * t + rng.normal(0.0, 1.0, t.size)  # a slow move: neighbouring stretches alike
    r, c = glide[:4000], glide[4000:]
    assert glides_through_onset(r, c)
    assert not glides_through_onset(r, c + 0.6)  # an offset at the onset
    fifth = c + np.where(rng.random(c.size) < 0.2, 4.0, 0.0)
    assert not glides_through_onset(r, fifth)  # a fifth of the rows moved
    still = rng.normal(0.0, 1.0, t.size)
    ramp = still[4000:] + 1.5 * np.arange(2000) / 2000
    assert not glides_through_onset(still[:4000], ramp)  # a ramp from the onset on an input that sat still
    assert not glides_through_onset(glide[:900], glide[900:1200])  # too few rows to see a break
