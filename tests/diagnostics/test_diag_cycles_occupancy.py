"""A building's occupancy, set by the local hour and the workday (issue 12, session 18c).

An office fills at 08:00 and empties at 18:00 on workdays; through the night and the weekend a
sensor reads 0-0.1. A reference of a weekend against a window of workdays (the cycles checker's
healthy seed 10: 'occupancy drifted, KS 0.45'), or of a night against the next workday (seed
127: 'drifted beyond the log's own daily cycle, median 0.05 -> 0.54'), moved it by construction.
Compared within the same (local hour, kind of day) cells, the window's evening and night rows sit
where the reference's did: the calendar. A fault since the onset moves those rows too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diagnostics import diagnose
from diagnostics.calendar_cells import weighted_ks
from diagnostics.log import PredictionLog

HOUR = 3600.0
NAMES = np.array(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])


def _building(
    start: str, hours: float, onset_after_h: float, offset_h: float, seed: int, labels: bool, fault: str = ""
) -> tuple[PredictionLog, float]:
    """An office's energy log: occupancy, the local hour and day name as inputs, a wave of traffic."""
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start).timestamp()
    t = np.sort(rng.uniform(t0, t0 + hours * HOUR, int(300 * hours)))
    local = t / HOUR + offset_h
    hour = np.floor(local % 24)
    weekday = (np.floor(local / 24).astype(int) + 3) % 7  # 1970-01-01 was a Thursday
    office = (weekday < 5) & (hour >= 8) & (hour < 18)
    occ = np.round(np.where(office, rng.uniform(0.5, 1.0, t.size), rng.uniform(0.0, 0.1, t.size)), 2)
    onset = t0 + onset_after_h * HOUR
    after = t >= onset
    if fault == "x100":
        occ = np.where(after, occ * 100, occ)
    elif fault == "fifth":  # a fifth of the rows read half a building more
        occ = np.where(after & (rng.random(t.size) < 0.2), occ + 0.5, occ)
    temp = np.round(12 + 4 * np.cos(2 * np.pi * ((local % 24) - 15) / 24) + rng.normal(0, 0.6, t.size), 1)
    pred = 40 + 60 * occ + 3 * np.abs(temp - 18)
    y = 40 + 60 * np.where(after, occ if fault == "" else 0.3, occ) + 3 * np.abs(temp - 18) + rng.normal(0, 5, t.size)
    if not labels:
        y = np.where(after, np.nan, y)
    log = PredictionLog(
        timestamp=t, model_version=np.full(t.size, "v1"), prediction=pred, label=y,
        features={"occupancy": occ, "outdoor_temp": temp, "hour": hour, "day_name": NAMES[weekday].astype(object)},
    )
    return log, onset


def _occupancy(d) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
    return [(f.check, round(f.score, 2)) for f in d.findings if f.subject == "occupancy" and f.score >= 0.15]


def test_workdays_after_a_weekend_reference_are_the_calendar() -> None:
    # London in October (UTC+1): the log begins on Saturday 01:00, the onset on Sunday 16:36
    log, onset = _building("2026-10-17T00:00Z", 96.0, 39.6, 1.0, 1, labels=False)
    d = diagnose(log, onset=onset)
    assert d.cause == "none" and not _occupancy(d), (d.cause, _occupancy(d))


def test_a_workday_after_a_night_reference_is_the_calendar() -> None:
    # Tokyo (UTC+9): Monday 18:00 to Wednesday 06:00, the onset on Tuesday 08:40
    log, onset = _building("2026-03-16T09:00Z", 36.0, 14.67, 9.0, 2, labels=True)
    d = diagnose(log, onset=onset)
    assert d.cause == "none" and not _occupancy(d), (d.cause, _occupancy(d))


def test_faults_on_the_occupancy_are_still_found() -> None:
    for fault in ("x100", "fifth"):
        log, onset = _building("2026-10-17T00:00Z", 96.0, 39.6, 1.0, 3, labels=False, fault=fault)
        d = diagnose(log, onset=onset)
        assert d.cause == "data" and d.culprit_name == "occupancy", (
            fault, d.cause, [(f.check, f.subject, round(f.score, 2)) for f in d.findings[:3]])


def test_weighted_ks_reads_the_reference_in_the_windows_mix() -> None:
    # two cells: the reference holds mostly the low one, the window only the high one
    r = np.r_[np.zeros(900), np.ones(100)]
    w = np.r_[np.zeros(900), np.full(100, 9.0)]  # the high cell stands for the whole window
    assert weighted_ks(r, w, np.ones(50)) == 0.0
    assert weighted_ks(r, np.ones(1000), np.ones(50)) == 0.9
