"""A training file of other days as the reference: today's weather is no fault, a fault since the onset is.

A model's training (or validation) file holds the days it was fitted on, a week or more before the
log. Today may be warmer than every one of them: against the file, the log's temperature since the
onset "drifted" (KS 0.4-0.6) and became the verdict on healthy logs, labels withheld. The log's own
rows before the onset already show today's weather; a fault starts at the onset and shows against
them as against the file (`drift_before_onset`). Each log is built here with numpy and a small
scikit-learn model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

from diagnostics import diagnose
from diagnostics.loader import frame_to_log
from diagnostics.log import PredictionLog
from tests.diagnostics.test_diag_cycles_weather_days import _frame  # the same log's columns

DAY = 86400.0
T0 = pd.Timestamp("2026-07-06T00:00Z").timestamp()


def _model(rng: np.random.Generator) -> LinearRegression:
    model = LinearRegression().fit(np.column_stack([rng.normal(12, 6, 200), rng.normal(0, 1, 200)]),
                                   rng.normal(30, 5, 200))
    model.coef_, model.intercept_ = np.array([0.8, 3.0]), 20.0
    return model


def _temperature(t: np.ndarray, level: np.ndarray | float, rng: np.random.Generator) -> np.ndarray:
    hour = (t / 3600.0) % 24
    return 12 + level + 6 * np.cos(2 * np.pi * (hour - 15) / 24) + rng.normal(0.0, 1.0, t.size)


def _logs(
    seed: int, hours: float, onset_h: float, fault: str = "", walk: float = 0.0
) -> tuple[PredictionLog, PredictionLog, float]:
    """A 3-day training file a week before a log `hours` long whose day is 7 degrees warmer than any of the file's."""
    rng = np.random.default_rng(seed)
    model = _model(rng)
    r_start = T0 - 8 * DAY
    rt = np.sort(rng.uniform(r_start, r_start + 3 * DAY, 3600))
    levels = np.array([0.0, -1.0, 1.0])[np.minimum(((rt - r_start) // DAY).astype(np.int64), 2)]
    ref = _frame(rt, _temperature(rt, levels, rng), rng, model).drop(columns=["latency_ms"])
    start = T0 + 6 * 3600.0
    t = np.sort(rng.uniform(start, start + hours * 3600.0, int(150 * hours)))
    onset = start + onset_h * 3600.0
    # today's weather walks: its level steps every hour (the file's days held it still)
    steps = np.cumsum(rng.normal(0.0, walk, int(hours) + 1))
    temp = _temperature(t, 7.0 + steps[((t - start) // 3600.0).astype(np.int64)], rng)
    after = t >= onset
    if fault == "fifth_of_rows":
        temp = np.where(after & (rng.random(t.size) < 0.2), temp + 4.0 * float(np.std(ref["temp_c"])), temp)
    elif fault == "offset":
        temp = np.where(after, temp + 9.0, temp)
    frame = _frame(t, temp, rng, model)
    frame.loc[after, "label"] = np.nan  # labels arrive late: nothing since the onset says how the model did
    return frame_to_log(frame), frame_to_log(ref), onset


def _top(d: object) -> list[tuple[str, str, float, str]]:
    return [(f.check, f.subject, round(f.score, 2), f.evidence[:160]) for f in d.findings[:3]]  # type: ignore[attr-defined]


def test_a_day_warmer_than_the_training_files_days_is_no_drift() -> None:
    # a 14-hour log whose window holds evening hours its own rows never saw: against the file temp_c
    # 'fell outside the reference range' (75-80% of the rows); against the log's own rows before the
    # onset, wave taken out, it did not move
    for seed in (0, 1):
        log, ref, onset = _logs(seed, 14.0, 9.0)
        d = diagnose(log, reference=ref, onset=onset)
        assert d.cause == "none", (seed, _top(d))


def test_a_fault_on_the_warm_day_is_still_found() -> None:
    # the same log, and a day and a half with the onset a day in, with a fifth of the rows moved by
    # four standard deviations since the onset, or a sensor 9 degrees high
    for hours, onset_h in ((36.0, 24.0), (14.0, 9.0)):
        for fault in ("fifth_of_rows", "offset"):
            log, ref, onset = _logs(3, hours, onset_h, fault)
            d = diagnose(log, reference=ref, onset=onset)
            assert (d.cause, d.culprit_name) == ("data", "temp_c"), (hours, fault, _top(d))


def test_a_fifth_of_the_rows_moved_on_a_walking_day_stays_found_against_the_logs_own_rows() -> None:
    # the onset 13 hours into a day-and-a-half log whose level walks by 2 degrees an hour: the
    # window holds hours the rows before it never saw, so against them the wave is taken out, and
    # their hour blocks swing as far as the fifth of the rows moved (no drift beyond them). The
    # file found the fault; without the rows beyond the wave-free range the own rows cleared it
    # (none). The weather's walk moves the whole window with its median: the healthy log stays quiet.
    for seed in (6, 7):
        log, ref, onset = _logs(seed, 36.0, 13.0, "fifth_of_rows", walk=2.0)
        d = diagnose(log, reference=ref, onset=onset)
        assert (d.cause, d.culprit_name) == ("data", "temp_c"), (seed, _top(d))
    for seed in (2, 3):
        healthy, ref, onset = _logs(seed, 36.0, 13.0, walk=2.0)
        d = diagnose(healthy, reference=ref, onset=onset)
        assert d.cause == "none", (seed, _top(d))
