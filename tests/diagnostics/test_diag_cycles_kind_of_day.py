"""A weekend window against a training file of weekdays: the same hours of a weekday, lifted by the weekend.

A ride service's demand peaks in the evening and runs 5 higher on weekends. Its training file
holds the days before the log, Wednesday to Saturday morning; the log is a Sunday. Within the
same (local hour, kind of day) cells the file holds none of the window's: its only weekend rows
are Saturday's small hours ('demand drifted: KS 0.5, median 24.3 -> 29.3', the cycles checker's
healthy seeds 202 and 264, no hour input: the zone is read from the day names). The file holds
the window's hours on weekdays, and both kinds of day at its Saturday hours, which say how far a
weekend moves demand: those weekday rows, lifted by it, stand in for the window's. A fault since
the onset moves the window beyond them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diagnostics import diagnose
from diagnostics.calendar_cells import CELLS, kind_of_day_move
from diagnostics.loader import frame_to_log
from diagnostics.log import PredictionLog

HOUR = 3600.0
OFFSET_H = 1.0  # London in May
NAMES = np.array(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])


def _frame(t: np.ndarray, rng: np.random.Generator, fault: str = "", onset: float = np.inf) -> pd.DataFrame:
    local = t / HOUR + OFFSET_H
    hour = local % 24
    weekday = (np.floor(local / 24).astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    demand = 20 + 15 * np.exp(-0.5 * ((hour - 18) / 2.5) ** 2) + 5 * (weekday >= 5) + rng.normal(0, 3, t.size)
    after = t >= onset
    if fault == "offset":
        demand = np.where(after, demand + 8.0, demand)
    elif fault == "fifth_of_rows":
        demand = np.where(after & (rng.random(t.size) < 0.2), demand + 12.0, demand)
    other = rng.normal(0.0, 1.0, t.size)
    y = 5 + 0.3 * demand + other + rng.normal(0, 1.0, t.size)
    return pd.DataFrame({"timestamp": pd.to_datetime(t, unit="s", utc=True), "model_version": "v7",
                         "prediction": np.round(5 + 0.3 * demand + other, 3), "label": y,
                         "demand": np.round(demand, 1), "other": np.round(other, 3),
                         "day_name": NAMES[weekday]})


def _logs(seed: int, fault: str = "") -> tuple[PredictionLog, PredictionLog, float]:
    """A training file from Wednesday 06:00 to Saturday 06:00 and a Sunday log 06:00-16:00, the onset at 12:40."""
    rng = np.random.default_rng(seed)
    sunday = pd.Timestamp("2026-05-24T05:00Z").timestamp()  # 06:00 local
    r_start = sunday - 4 * 24 * HOUR
    rt = np.sort(rng.uniform(r_start, r_start + 3 * 24 * HOUR, 15000))
    ref = _frame(rt, rng)
    t = np.sort(rng.uniform(sunday, sunday + 10 * HOUR, 12000))
    onset = sunday + 6.67 * HOUR
    frame = _frame(t, rng, fault, onset)
    frame.loc[t >= onset, "label"] = np.nan  # labels arrive days later
    return frame_to_log(frame), frame_to_log(ref), onset


def _top(d: object) -> list[tuple[str, str, float, str]]:
    return [(f.check, f.subject, round(f.score, 2), f.evidence[:140]) for f in d.findings[:3]]  # type: ignore[attr-defined]


def test_a_sunday_against_a_training_file_of_weekdays_is_the_calendar() -> None:
    for seed in (0, 1):
        log, ref, onset = _logs(seed)
        d = diagnose(log, reference=ref, onset=onset)
        assert d.cause == "none", (seed, _top(d))


def test_faults_on_the_sundays_demand_are_still_found() -> None:
    # a feed 8 higher since the onset (beyond the weekend's 5), a fifth of the rows 12 higher
    for fault in ("offset", "fifth_of_rows"):
        log, ref, onset = _logs(2, fault)
        d = diagnose(log, reference=ref, onset=onset)
        assert (d.cause, d.culprit_name) == ("data", "demand"), (fault, _top(d))


def test_the_kind_of_days_move_is_read_where_the_reference_holds_both() -> None:
    # hours 0-5 on both kinds of day, weekend 5 higher; hours 6-23 on weekdays only (no pair, not read)
    rng = np.random.default_rng(0)
    hour = np.r_[np.repeat(np.arange(24), 100), np.repeat(np.arange(6), 100)]
    weekend = np.r_[np.zeros(2400, dtype=np.int64), np.ones(600, dtype=np.int64)]
    v = 10.0 * hour + 5.0 * weekend + rng.normal(0, 1, hour.size)
    cell = 2 * hour + weekend
    move = kind_of_day_move(v, cell, np.bincount(cell, minlength=CELLS))
    assert move is not None and abs(move - 5.0) < 0.3, move
    # no hour held on both kinds: unknown
    only_days = cell[weekend == 0]
    assert kind_of_day_move(v[weekend == 0], only_days, np.bincount(only_days, minlength=CELLS)) is None
