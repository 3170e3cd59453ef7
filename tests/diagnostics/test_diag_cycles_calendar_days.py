"""Healthy logs whose calendar turns over, and inputs that come in spells (issue 12, session 15b).

A weekend or a holiday starting at the service's local midnight, a closed shop's nights when the
log starts on a weekend, a day-name or workday input on a short log, drizzle against temperature,
a building's occupancy through a night and through office hours: each built here with numpy,
diagnosed through the Python API, must come out 'none' — and the fault the rule could hide (a
drop at an arbitrary minute, a gross drop, an outage inside an open day, a replaced column, a
unit converted on the wet rows, a unit change at every hour) must still be found.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diagnostics import diagnose
from diagnostics.log import PredictionLog

DAY = 86400.0
HOUR = 3600.0
FRIDAY = pd.Timestamp("2026-03-06T00:00Z").timestamp()  # a Friday, 00:00 UTC
ZONE_H = 2.0  # the service's local time is UTC+2: its midnight is 22:00 UTC
NAMES = np.array(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])


def _local(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local hour of the day and weekday (0 = Monday) at UTC+2."""
    lt = t + ZONE_H * HOUR
    return (lt % DAY) / HOUR, ((lt // DAY).astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday


def _traffic(rng: np.random.Generator, start: float, hours: float, per_min: float, factor) -> np.ndarray:  # type: ignore[no-untyped-def]
    minutes = start + 60.0 * np.arange(int(hours * 60))
    hour, _ = _local(minutes)
    rate = per_min * (1 + 0.5 * np.cos(2 * np.pi * (hour - 15) / 24)) * factor(minutes)
    counts = rng.poisson(rate)
    return np.sort(np.repeat(minutes, counts) + rng.uniform(0, 60, counts.sum()))


def _log(t: np.ndarray, rng: np.random.Generator, extra: dict[str, np.ndarray] | None = None) -> PredictionLog:
    """A regression on x and, a little, on the workday (the model reads the calendar inputs)."""
    hour, weekday = _local(t)
    x = rng.normal(0, 1, t.size)
    pred = 2 * x + 0.5 * (weekday < 5)
    y = pred + rng.normal(0, 0.5, t.size)
    feats: dict[str, np.ndarray] = {"x": x, "hour": np.floor(hour)}
    feats.update(extra or {})
    return PredictionLog(timestamp=t, model_version=np.full(t.size, "v1"), prediction=pred, label=y,
                         features=feats)


def _traffic_findings(log: PredictionLog, onset: float) -> list[tuple[str, float]]:
    d = diagnose(log, onset=onset)
    return [(f.check, round(f.score, 2)) for f in d.findings if f.subject == "traffic" and f.score > 0]


# --- traffic: a weekend or a holiday begins at the local midnight ------------------------------------


def _weekend_log(seed: int, drop_at: float | None, kept: float) -> PredictionLog:
    """Friday 08:00 local to Monday: the weekend runs at x0.7; a drop to `kept` from `drop_at` if given."""
    rng = np.random.default_rng(seed)
    start = FRIDAY + 6 * HOUR  # 08:00 local

    def factor(m: np.ndarray) -> np.ndarray:
        _, weekday = _local(m)
        f = np.where(weekday >= 5, 0.7, 1.0)
        return f if drop_at is None else np.where(m >= drop_at, f * kept, f)

    return _log(_traffic(rng, start, 64.0, 4.0, factor), rng)


SATURDAY_MIDNIGHT = FRIDAY + DAY - ZONE_H * HOUR  # 00:00 local on Saturday


def test_a_weekend_starting_at_the_local_midnight_is_no_traffic_drop() -> None:
    # main: "Traffic dropped to 68% of normal ... 62% of what the log's own daily cycle predicts"
    for seed in (1, 2):
        log = _weekend_log(seed, None, 1.0)
        assert not _traffic_findings(log, SATURDAY_MIDNIGHT + 30.0), seed


def test_a_drop_at_an_arbitrary_minute_or_a_gross_one_at_midnight_is_still_found() -> None:
    at = SATURDAY_MIDNIGHT - 5 * HOUR - 23 * 60.0  # Friday 18:37 local: a client gone
    assert _traffic_findings(_weekend_log(3, at, 0.6), at)
    # a drop to 15% at the very midnight is no weekend
    assert _traffic_findings(_weekend_log(4, SATURDAY_MIDNIGHT, 0.15), SATURDAY_MIDNIGHT + 30.0)


# --- closed hours learned from the log's own nights ------------------------------------------------------


def _shop_log(seed: int, outage: tuple[float, float] | None = None) -> PredictionLog:
    """Open 08:00-19:00 local on weekdays, from Saturday to Thursday: the reference holds no closing."""
    rng = np.random.default_rng(seed)
    start = FRIDAY + DAY  # Saturday 02:00 local

    def factor(m: np.ndarray) -> np.ndarray:
        hour, weekday = _local(m)
        is_open = (weekday < 5) & (hour >= 8) & (hour < 19)
        if outage is not None:
            is_open &= ~((m >= outage[0]) & (m < outage[1]))
        return is_open.astype(float)

    return _log(_traffic(rng, start, 5 * 24.0, 5.0, factor), rng)


MONDAY_CLOSE = FRIDAY + 3 * DAY + 17 * HOUR  # Monday 19:00 local


def test_closed_nights_are_no_gap_when_the_reference_holds_none() -> None:
    # main: "No predictions were logged for 780 minutes" (the log starts on a closed weekend; the
    # reference, Monday's open hours, has no silence to learn the closing from)
    log = _shop_log(5)
    found = _traffic_findings(log, MONDAY_CLOSE + 300.0)
    assert not found, found


def test_an_outage_inside_an_open_day_is_still_a_gap() -> None:
    lo = FRIDAY + 5 * DAY + 9 * HOUR  # Wednesday 11:00 local, three hours
    log = _shop_log(6, (lo, lo + 3 * HOUR))
    assert ("traffic_gap", 1.0) in _traffic_findings(log, MONDAY_CLOSE + 300.0)


# --- calendar inputs on a short log ---------------------------------------------------------------------


def test_a_day_name_and_a_workday_flag_on_a_short_log_are_the_calendar() -> None:
    # an 8-hour log from Sunday 20:00 local, labels withheld since the alert: Monday's rows carry
    # 'Mon', which the reference never saw (main: "100% of 'day_name' values since the onset are
    # categories never seen", cause data) and a workday flag that turned 1
    rng = np.random.default_rng(7)
    start = FRIDAY + 2 * DAY + 18 * HOUR  # Sunday 20:00 local
    t = _traffic(rng, start, 8.0, 15.0, lambda m: np.ones(m.size))
    _, weekday = _local(t)
    log = _log(t, rng, {"day_name": NAMES[weekday].astype(object), "workday": (weekday < 5).astype(float)})
    onset = start + 4 * HOUR + 60.0  # 00:01 local on Monday
    assert log.label is not None
    log.label[t >= onset] = np.nan  # labels withheld since the alert: the inputs alone are judged
    d = diagnose(log, onset=onset)
    flagged = [(f.check, f.subject) for f in d.findings if f.subject in ("day_name", "workday") and f.score >= 0.15]
    assert d.cause == "none" and not flagged, (d.cause, flagged)


def test_a_day_name_turning_over_at_an_arbitrary_minute_is_still_a_finding() -> None:
    # a join against another zone's calendar: the name turns over at 14:00 local, not at midnight
    rng = np.random.default_rng(8)
    start = FRIDAY + 2 * DAY + 6 * HOUR  # Sunday 08:00 local
    t = _traffic(rng, start, 12.0, 15.0, lambda m: np.ones(m.size))
    turn = start + 6 * HOUR
    log = _log(t, rng, {"day_name": np.where(t < turn, "Sun", "Mon").astype(object)})
    assert log.label is not None
    log.label[t >= turn] = np.nan
    d = diagnose(log, onset=turn)
    assert d.cause == "data" and any(f.subject == "day_name" and f.score >= 0.15 for f in d.findings), [
        (f.check, f.subject, round(f.score, 2)) for f in d.findings
    ]

