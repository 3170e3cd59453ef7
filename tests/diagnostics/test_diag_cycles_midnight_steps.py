"""A traffic step at the service's local midnight: a calendar day, or an incident (issue 12, 16b).

Session 15b let a drop or spike of a calendar's size (x0.3-x3) go when it began within 15 minutes
of the log's local midnight: a weekend or a holiday begins there. A maintenance window or a nightly
deploy that breaks a client begins there too, and such a 50% drop was silent. A calendar day has
evidence a fault lacks where the log holds it: earlier days of its kind ran at its level, or the
level comes back at a later midnight. Each log is built here with numpy and diagnosed through the
Python API; the calendar days of `test_diag_cycles_calendar_days.py` stay quiet.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from diagnostics import diagnose
from diagnostics.calendar_days import is_calendar_day
from diagnostics.log import PredictionLog

DAY = 86400.0
HOUR = 3600.0
MONDAY = pd.Timestamp("2026-03-02T00:00Z").timestamp()  # a Monday, 00:00 UTC
ZONE_H = -5.0  # the service's local time is UTC-5: its midnight is 05:00 UTC
LOCAL_MONDAY = MONDAY - ZONE_H * HOUR  # 00:00 local on Monday
NONE: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))


def _local(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lt = t + ZONE_H * HOUR
    return (lt % DAY) / HOUR, ((lt // DAY).astype(np.int64) + 3) % 7


def _log(seed: int, start: float, hours: float, factor: Callable[[np.ndarray], np.ndarray]) -> PredictionLog:
    """A day-waved regression log at 2 rows a minute, its rate times `factor(minute)`; an hour input."""
    rng = np.random.default_rng(seed)
    minutes = start + 60.0 * np.arange(int(hours * 60))
    hour, _ = _local(minutes)
    rate = 2.0 * (1 + 0.5 * np.cos(2 * np.pi * (hour - 15) / 24)) * factor(minutes)
    counts = rng.poisson(rate)
    t = np.sort(np.repeat(minutes, counts) + rng.uniform(0, 60, counts.sum()))
    hour, _ = _local(t)
    x = rng.normal(0, 1, t.size)
    pred = 2 * x
    return PredictionLog(timestamp=t, model_version=np.full(t.size, "v1"), prediction=pred,
                         label=pred + rng.normal(0, 0.5, t.size), features={"x": x, "hour": np.floor(hour)})


def _traffic(log: PredictionLog, onset: float | None) -> list[str]:
    d = diagnose(log, onset=onset)
    return [f.check for f in d.findings if f.subject == "traffic" and f.score > 0]


def _weekend(m: np.ndarray) -> np.ndarray:
    return np.where(_local(m)[1] >= 5, 0.7, 1.0)


THURSDAY = LOCAL_MONDAY + 3 * DAY


def test_a_half_drop_at_a_weekday_midnight_after_full_weekdays_is_found() -> None:
    # a nightly deploy at 00:00 on Thursday breaks a client: half the traffic is gone. Monday to
    # Wednesday ran at the full level; on main the midnight let it go ("none")
    def factor(m: np.ndarray) -> np.ndarray:
        return np.where(m >= THURSDAY, 0.5, 1.0)

    for seed in (1,):
        log = _log(seed, LOCAL_MONDAY + 8 * HOUR, 3 * 24.0 + 12.0, factor)
        assert "traffic" in _traffic(log, THURSDAY + 60.0), seed


def test_a_half_drop_at_a_saturday_midnight_after_an_earlier_weekend_is_found() -> None:
    # ten days from Monday: the first weekend ran at x0.7 of the weekdays, the second at half that
    second_saturday = LOCAL_MONDAY + 12 * DAY

    def factor(m: np.ndarray) -> np.ndarray:
        return _weekend(m) * np.where(m >= second_saturday, 0.5, 1.0)

    log = _log(3, LOCAL_MONDAY + 8 * HOUR, 12 * 24.0 + 14.0, factor)
    assert "traffic" in _traffic(log, second_saturday + 60.0)


def test_a_weekend_like_an_earlier_one_and_a_holiday_that_ends_stay_quiet() -> None:
    second_saturday = LOCAL_MONDAY + 12 * DAY
    log = _log(4, LOCAL_MONDAY + 8 * HOUR, 12 * 24.0 + 14.0, _weekend)
    assert not _traffic(log, second_saturday + 60.0)
    # a holiday on Wednesday at x0.6 of the weekdays before it, over by Thursday
    wednesday = LOCAL_MONDAY + 2 * DAY

    def holiday(m: np.ndarray) -> np.ndarray:
        return np.where((m >= wednesday) & (m < wednesday + DAY), 0.6, 1.0)

    log = _log(5, LOCAL_MONDAY + 2 * HOUR, 3 * 24.0 + 10.0, holiday)
    assert not _traffic(log, wednesday + 60.0)


def test_is_calendar_day_asks_the_log_for_evidence() -> None:
    # rows at a flat 10 a minute from Sunday 23:00 local to `days` after Monday 00:00
    def times(days: float, factor: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        m = LOCAL_MONDAY - HOUR + 60.0 * np.arange(int(days * 1440) + 60)  # from Sunday 23:00
        counts = np.random.default_rng(0).poisson(10.0 * factor(m))
        return np.sort(np.repeat(m, counts) + 30.0)

    def judged(ts: np.ndarray, onset: float) -> bool:
        return is_calendar_day(ts, onset, float(ts[-1]), ZONE_H, NONE, 0.78, 2.0)

    wed = LOCAL_MONDAY + 2 * DAY
    stays = times(3.5, lambda m: np.where(m >= wed, 0.5, 1.0))
    assert not judged(stays, wed + 30.0)  # earlier weekdays at full level, not back by the end
    assert judged(stays[stays < wed + 1.5 * HOUR], wed + 30.0)  # too little of the day: no evidence
    comes_back = times(3.5, lambda m: np.where((m >= wed) & (m < wed + DAY), 0.5, 1.0))
    assert judged(comes_back, wed + 30.0)  # a holiday: back at Thursday's midnight
    first_weekend = times(6.5, lambda m: np.where(m >= LOCAL_MONDAY + 5 * DAY, 0.5, 1.0))
    assert judged(first_weekend, LOCAL_MONDAY + 5 * DAY)  # no earlier Saturday or Sunday


# --- a closed shop's only silence is its weekend ----------------------------------------------------------


def _shop(seed: int, spike: float = 1.0, always_open: bool = False, outage: bool = False) -> PredictionLog:
    """Friday 09:00 to Monday 11:00 local, open 08:00-19:00 on weekdays (`always_open`: a 24/7
    service from Thursday 09:00, `outage`: silent from Friday 19:00 to Monday 08:00); `spike`:
    Monday's rate times it."""
    friday = LOCAL_MONDAY + 4 * DAY
    first = friday - (DAY if always_open else 0.0)

    def factor(m: np.ndarray) -> np.ndarray:
        hour, weekday = _local(m)
        is_open = always_open | ((weekday < 5) & (hour >= 8) & (hour < 19))
        if outage:
            is_open &= ~((m >= friday + 19 * HOUR) & (m < friday + 3 * DAY + 8 * HOUR))
        return is_open * np.where(weekday == 0, spike, 1.0)

    return _log(seed, first + 9 * HOUR, (friday - first) / HOUR + 3 * 24.0 + 2.0, factor)


MONDAY_OPENS = LOCAL_MONDAY + 7 * DAY + 8 * HOUR


def test_a_closed_weekend_that_does_not_repeat_is_no_spike_and_no_gap() -> None:
    # main: "Traffic spiked to 61741743237x normal: 0.0 -> 61.7" from Monday's opening (cycles seed
    # 246) and "No predictions were logged for 654 minutes" from an alert inside the weekend
    log = _shop(6)
    assert not _traffic(log, MONDAY_OPENS + 1.0)
    d = diagnose(log, onset=MONDAY_OPENS - 11 * HOUR)
    assert d.cause == "none" and not any(f.check == "traffic_gap" for f in d.findings), d.findings[:2]


def test_a_spike_after_a_closed_weekend_and_an_outage_over_an_open_weekend_are_found() -> None:
    assert "traffic" in _traffic(_shop(7, spike=4.0), MONDAY_OPENS + 1.0)
    assert "traffic_gap" in _traffic(_shop(8, always_open=True, outage=True), MONDAY_OPENS - 11 * HOUR)
