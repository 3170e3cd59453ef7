"""Weather from day to day on a shop closed at night: the log's own level blocks, some of them empty.

A building's outdoor temperature wanders from day to day on top of its daily wave; the shop is open
08:00-19:00, so a block of the night holds no row. With the alert at the second day's opening the
reference is one open day, and the window's later days sit 1.5-3.5 degrees beyond it ('outdoor_temp
drifted', KS 0.3-0.6, on main's code). The log tells weather from a fault (`phase.level_steps`): its
level steps between the window's own days more than across the onset, and a sensor's offset since the
onset is a step there beyond all of those. Each log is built here with numpy; the model is a fixed
linear formula.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diagnostics import diagnose
from diagnostics.loader import frame_to_log
from diagnostics.log import PredictionLog
from diagnostics.phase import level_steps

DAY = 86400.0
T0 = pd.Timestamp("2026-10-05T00:00Z").timestamp()  # a Monday, UTC
LEVELS = {0: [0.0, 0.3, -1.5, -3.5, -1.0], 1: [0.0, -0.4, 1.6, 3.2, 1.1], 2: [0.5, 0.2, 2.1, -0.3, -2.2]}


def _log(seed: int, offset: float = 0.0, fifth: float = 0.0) -> tuple[PredictionLog, float]:
    """Five open days 08:00-19:00; the onset at the second day's opening."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(T0, T0 + 5 * DAY, 30000))
    hour = (t / 3600.0) % 24
    t = t[(hour >= 8) & (hour < 19)]
    hour = (t / 3600.0) % 24
    day = ((t - T0) // DAY).astype(np.int64)
    temp = 15 + np.asarray(LEVELS[seed])[day] + 4 * np.cos(2 * np.pi * (hour - 15) / 24) + rng.normal(0, 0.5, t.size)
    onset = T0 + DAY + 8 * 3600.0
    after = t >= onset
    temp = np.where(after, temp + offset, temp)
    temp = np.where(after & (rng.random(t.size) < 0.2), temp + fifth, temp)
    occupancy = rng.uniform(0.5, 1.0, t.size)
    y = 40 + 3 * temp + 60 * occupancy + rng.normal(0.0, 5.0, t.size)
    df = pd.DataFrame({"timestamp": pd.to_datetime(t, unit="s", utc=True), "model_version": "v1",
                       "prediction": 40 + 3 * temp + 60 * occupancy, "label": y,
                       "latency_ms": rng.lognormal(3.0, 0.2, t.size), "outdoor_temp": np.round(temp, 1),
                       "occupancy": np.round(occupancy, 2)})
    return frame_to_log(df), onset


def _top(d: object) -> list[tuple[str, str, float, str]]:
    return [(f.check, f.subject, round(f.score, 2), f.evidence[:120]) for f in d.findings[:3]]  # type: ignore[attr-defined]


def test_a_closed_shops_later_days_of_other_weather_are_no_drift() -> None:
    for seed in LEVELS:
        log, onset = _log(seed)
        d = diagnose(log, onset=onset)
        assert d.cause == "none", (seed, _top(d))


def test_an_offset_and_a_fifth_of_the_rows_since_the_opening_are_still_found() -> None:
    for seed in LEVELS:
        for offset, fifth in ((8.0, 0.0), (0.0, 8.0)):
            log, onset = _log(seed, offset=offset, fifth=fifth)
            d = diagnose(log, onset=onset)
            assert (d.cause, d.culprit_name) == ("data", "outdoor_temp"), (seed, offset, fifth, _top(d))


def test_level_steps_reads_two_blocks_before_the_onset_when_the_window_steps_twice() -> None:
    # the night's block is empty: two levels before the onset, the window's days after it
    log, onset = _log(0)
    steps = level_steps(log.features["outdoor_temp"], log.timestamp, onset)
    assert steps is not None
    at, own, _, _, _ = steps
    assert at < own  # the window's days step further than the onset's
