"""Inputs that rest between episodes: drizzle's dry spells (issue 12, session 17c).

Rain is 0 through every dry hour and tenths of a millimetre in a shower; showers and dry spells
last hours. A window's share of dry rows is the weather: a dry evening after showers read as
'rain_mm is stuck at 0 in 100% of rows' and a wetter or drier window as 'rain_mm drifted, KS
0.15-0.88' (healthy cycle logs 43, 120, 163, 168, 178, 195, 214, 235). Each log is built here with
numpy and diagnosed through the Python API: spells as long as the log's own are no fault, while a
gauge dead far longer than any spell, a unit and a corruption of a fifth of the rows stay findings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diagnostics import diagnose
from diagnostics.log import PredictionLog

HOUR = 3600.0
START = pd.Timestamp("2026-05-04T05:00Z").timestamp()


def _rain_log(
    seed: int, hours: int, wet: list[int], fault: str = "", onset_h: float = 0.0
) -> tuple[PredictionLog, float]:
    """Bike counts on the weather; rain falls in the listed hours since the start."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(START, START + hours * HOUR, 150 * hours))
    onset = START + onset_h * HOUR
    hour = (t / HOUR) % 24
    temp = 14 + 5 * np.cos(2 * np.pi * (hour - 15) / 24) + rng.normal(0, 0.6, t.size)
    humid = np.clip(70 - 2 * (temp - 14) + rng.normal(0, 6, t.size), 10, 100)
    since = ((t - START) // HOUR).astype(int)
    rain = np.round(rng.exponential(0.4, t.size) * np.isin(since, wet), 1)
    pred = np.exp(1.5 + 0.04 * temp - 0.5 * np.minimum(rain, 2))
    y = rng.poisson(pred).astype(float)
    after = t >= onset
    if fault == "dead":  # the gauge reads 0 from the onset on
        rain = np.where(after, 0.0, rain)
    elif fault == "x100":
        rain = np.where(after, rain * 100.0, rain)
    elif fault == "fifth":
        rain = np.where(after & (rng.random(t.size) < 0.2), rain + 4.0 * float(np.std(rain[~after])), rain)
    log = PredictionLog(timestamp=t, model_version=np.full(t.size, "v1"), prediction=np.round(pred, 3), label=y,
                        features={"temperature": np.round(temp, 1), "humidity": np.round(humid),
                                  "rain_mm": rain})
    return log, onset


# 30 hours: dry 0-3, showers 4-5, dry 6-9, showers 10-11 and 14, a dry evening and night from hour 15
SHOWERY = [4, 5, 10, 11, 14]


def _rain_flags(d) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
    return [(f.check, round(f.score, 2)) for f in d.findings if f.subject == "rain_mm" and f.score >= 0.15]


def test_a_dry_evening_after_showers_is_no_stuck_gauge() -> None:
    # the window (hours 18-30) is dry for 12 hours; the log's dry spells before lasted 4 hours
    # (main: "rain_mm is stuck at 0 in 100.0% of rows since the onset")
    log, onset = _rain_log(1, 30, SHOWERY, onset_h=18.0)
    d = diagnose(log, onset=onset)
    assert not _rain_flags(d), (d.cause, _rain_flags(d))


def test_a_wetter_window_is_no_drift() -> None:
    # showers in two of the reference's 14 hours, in four of the window's six
    log, onset = _rain_log(2, 20, [3, 4, 15, 16, 18, 19], onset_h=14.0)
    d = diagnose(log, onset=onset)
    assert not _rain_flags(d), (d.cause, _rain_flags(d))


def test_a_dead_gauge_a_unit_and_a_corruption_are_still_found() -> None:
    # dead for 50 hours after dry spells of 4: far longer than any spell the log showed
    for fault, hours, onset_h in (("dead", 70, 20.0), ("x100", 30, 16.0), ("fifth", 30, 16.0)):
        log, onset = _rain_log(3, hours, [*SHOWERY, 17, 18, 22, 23, 27], fault, onset_h)
        d = diagnose(log, onset=onset)
        assert d.cause == "data" and d.culprit_name == "rain_mm", (fault, [(f.check, f.subject, round(f.score, 2))
                                                                        for f in d.findings[:4]])
