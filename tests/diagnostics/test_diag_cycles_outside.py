"""Healthy logs whose traffic and inputs follow the local clock stay quiet; faults on such logs are found.

Production logs have daily and weekly cycles in local time zones: traffic three to five times
higher in the evening than at night, temperatures and basket sizes that follow the hour. A log
of a day or less has no earlier cycle to compare the current window's hours with, so the checks
judge what a wave cannot make: an edge at the onset. Each test builds its log here with numpy
(and a small scikit-learn model where a model reads a cycling input) and asserts what an
on-call engineer would answer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diagnostics import diagnose
from diagnostics.loader import frame_to_log
from diagnostics.log import PredictionLog

MONDAY = pd.Timestamp("2026-11-02T00:00:00Z").timestamp()
DAY = 86400.0


def _arrivals(rng: np.random.Generator, start: float, hours: float, n: int, off_h: float, amp: float) -> np.ndarray:
    """Request times whose rate follows the local day: an evening peak, a night trough."""
    t = start + np.sort(rng.uniform(0.0, hours * 3600.0, 4 * n))
    local = ((t - MONDAY) / 3600.0 + off_h) % 24
    rate = 1.0 + amp * np.cos(2 * np.pi * (local - 18) / 24)
    t = t[rng.uniform(size=t.size) < rate / rate.max()]
    return np.sort(rng.choice(t, min(n, t.size), replace=False))


def _blob_log(t: np.ndarray, rng: np.random.Generator) -> PredictionLog:
    """Three classes from inputs without any cycle: only the traffic follows the clock."""
    y = rng.integers(0, 3, t.size)
    centres = np.array([[0.0, 0.0, 0.0], [2.0, 1.0, 0.0], [0.0, 2.0, 2.0]])
    X = centres[y] + rng.normal(0.0, 1.2, (t.size, 3))
    pred = np.argmax(-((X[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2), axis=1)
    names = np.array(["alpha", "beta", "gamma"], dtype=object)
    df = pd.DataFrame({"timestamp": pd.to_datetime(t, unit="s", utc=True), "model_version": "v1",
                       "prediction": names[pred], "label": names[y], "latency_ms": rng.lognormal(3.3, 0.3, t.size),
                       "f0": X[:, 0], "f1": X[:, 1], "f2": X[:, 2]})
    return frame_to_log(df)


def test_a_one_day_logs_evening_fall_is_no_traffic_drop_but_an_outage_on_it_is() -> None:
    # a 20-hour log in Tokyo time and a 1-day log in Kolkata time, traffic swinging +-80% over the
    # day: the last quarter against the hours just before it read 'traffic dropped to 30%' (the
    # evening's fall); a third of the requests lost at the same time is still a drop
    for seed, hours, off in ((1, 20.0, 9.0), (2, 24.0, 5.5)):
        rng = np.random.default_rng(seed)
        t = _arrivals(rng, MONDAY + 3 * 3600.0, hours, 9000, off, amp=0.8)
        onset = float(t[0] + 0.75 * (t[-1] - t[0]))
        for given in (onset, None):
            d = diagnose(_blob_log(t, np.random.default_rng(seed)), onset=given)
            assert d.cause == "none", (seed, given, [(f.check, f.evidence) for f in d.findings[:3]])
        keep = (t < onset) | (rng.uniform(size=t.size) < 0.5)
        d = diagnose(_blob_log(t[keep], np.random.default_rng(seed)), onset=onset)
        assert (d.cause, d.culprit_name) == ("service", "traffic"), [(f.check, f.evidence) for f in d.findings[:3]]


def _weather_log(
    seed: int, hours: float, off_h: float, offset_from: float | None = None
) -> tuple[PredictionLog, float]:
    """A demand model reading a temperature with a 6-degree daily swing and a slow weather trend."""
    rng = np.random.default_rng(seed)
    t = _arrivals(rng, MONDAY + 5 * 3600.0, hours, 8000, off_h, amp=0.6)
    local = ((t - MONDAY) / 3600.0 + off_h) % 24
    temp = 12 + 6 * np.cos(2 * np.pi * (local - 15) / 24) + 1.5 * (t - t[0]) / DAY + rng.normal(0, 1.0, t.size)
    other = rng.normal(0.0, 1.0, t.size)
    y = 5.0 + 0.4 * temp + other + rng.normal(0, 1.0, t.size)
    served = temp.copy()
    if offset_from is not None:  # the weather feed switched stations: +4 degrees since then
        served[t >= offset_from] += 4.0
    pred = 5.0 + 0.4 * served + other
    df = pd.DataFrame({"timestamp": pd.to_datetime(t, unit="s", utc=True), "model_version": "m1",
                       "prediction": np.round(pred, 3), "label": np.round(y, 3), "temp_c": np.round(served, 1),
                       "other": other})
    return frame_to_log(df), float(t[0] + 0.8 * (t[-1] - t[0]))


def test_a_daily_cycle_input_on_a_one_day_log_is_judged_beyond_its_wave_and_a_shift_on_it_is_found() -> None:
    # the window's evening hours were never seen before in a 1-day log: against the morning and the
    # afternoon its temperatures read as a drift ('data, temp_c' at the top score); a feed that
    # moved by 4 degrees at the same time still is one
    for seed, hours, off in ((3, 24.0, -8.0), (4, 22.0, 1.0)):
        log, onset = _weather_log(seed, hours, off)
        d = diagnose(log, onset=onset)
        assert d.cause == "none", (seed, [(f.check, f.subject, round(f.score, 2)) for f in d.findings[:3]])
        bad, onset = _weather_log(seed, hours, off, offset_from=onset)
        d = diagnose(bad, onset=onset)
        assert (d.cause, d.culprit_name) == ("data", "temp_c"), [(f.check, f.evidence) for f in d.findings[:3]]


def _weather_days_log(seed: int, days: float, offset_from: float | None = None) -> tuple[PredictionLog, float]:
    """A demand model reading a temperature whose days wander: the log's first days 3.5 degrees warmer."""
    rng = np.random.default_rng(seed)
    t = _arrivals(rng, MONDAY, days * 24, int(2000 * days), 2.0, amp=0.6)
    local = ((t - MONDAY) / 3600.0 + 2.0) % 24
    day = (t - t[0]) / DAY
    knots = np.arange(int(days) + 2)
    weather = np.interp(day, knots, 3.5 * (knots < 3) + rng.normal(0, 0.3, knots.size))
    temp = 12 + 6 * np.cos(2 * np.pi * (local - 15) / 24) + weather + rng.normal(0, 1.0, t.size)
    other = rng.normal(0.0, 1.0, t.size)
    y = 5.0 + 0.4 * temp + other + rng.normal(0, 1.0, t.size)
    served = temp.copy()
    if offset_from is not None:
        served[t >= offset_from] += 4.0
    df = pd.DataFrame({"timestamp": pd.to_datetime(t, unit="s", utc=True), "model_version": "m1",
                       "prediction": np.round(5.0 + 0.4 * served + other, 3), "label": np.round(y, 3),
                       "temp_c": np.round(served, 1), "other": other})
    return frame_to_log(df), float(t[0] + 0.8 * (t[-1] - t[0]))


def test_an_input_is_judged_against_its_own_swings_in_earlier_windows_and_a_shift_beyond_them_is_found() -> None:
    # weather wanders for days: the window (the last two days) is no colder than the log's middle
    # days, but 3.5 degrees colder than its first three, and read as a drift ('data, temp_c')
    for seed in (5, 6):
        log, onset = _weather_days_log(seed, 10.0)
        d = diagnose(log, onset=onset)
        assert d.cause == "none", (seed, [(f.check, f.evidence) for f in d.findings[:3]])
        bad, onset = _weather_days_log(seed, 10.0, offset_from=onset)
        d = diagnose(bad, onset=onset)
        assert (d.cause, d.culprit_name) == ("data", "temp_c"), [(f.check, f.evidence) for f in d.findings[:3]]


def _capped_log(seed: int, cyclic: bool) -> tuple[PredictionLog, float]:
    """A classifier reading ten inputs; x0 capped since the onset (at 15 degrees when it is a temperature)."""
    rng = np.random.default_rng(seed)
    n, days = 12000, 3.0
    t = MONDAY + np.sort(rng.uniform(0.0, days * DAY, n))
    X = rng.normal(0.0, 1.0, (n, 10))
    if cyclic:  # a temperature: warm afternoons, the onset in the second afternoon
        X[:, 0] = 12 + 6 * np.cos(2 * np.pi * ((t - MONDAY) / 3600.0 % 24 - 15) / 24) + rng.normal(0, 1.0, n)
        onset, cap = MONDAY + 1.55 * DAY, 15.0
    else:
        onset, cap = MONDAY + 0.62 * days * DAY, 1.15
    X = np.round(X, 4)
    z = (X[:, 0] - X[:, 0].mean()) / X[:, 0].std() + X[:, 1] - 0.8 * X[:, 2]
    y = rng.uniform(size=n) < 1 / (1 + np.exp(-2 * z))
    served = X.copy()
    served[t >= onset, 0] = np.minimum(served[t >= onset, 0], cap)
    zs = (served[:, 0] - X[:, 0].mean()) / X[:, 0].std() + served[:, 1] - 0.8 * served[:, 2]
    names = np.array(["no", "yes"], dtype=object)
    df = pd.DataFrame({"timestamp": pd.to_datetime(t, unit="s", utc=True), "model_version": "b1",
                       "prediction": names[(zs > 0).astype(int)], "label": names[y.astype(int)]})
    for i in range(10):
        df[f"x{i}"] = served[:, i]
    return frame_to_log(df), onset


def test_a_cap_is_dated_at_its_first_capped_rows_on_plain_and_daily_cycle_inputs() -> None:
    # a plain input capped at 1.15 (12% of its rows) moved its mean and spread too little to date (the
    # last quarter, 13 h late); a temperature capped at 15 degrees from a warm afternoon on was dated at the next
    # afternoon, the larger step (20 hours late)
    for seed, cyclic in ((7, False), (8, True)):
        log, onset = _capped_log(seed, cyclic)
        d = diagnose(log)
        span = float(log.timestamp.max() - log.timestamp.min())
        assert (d.cause, d.culprit_name) == ("data", "x0"), (cyclic, d.findings[:3])
        assert d.onset_detected and abs(d.onset - onset) <= max(900.0, 0.02 * span), (cyclic, (d.onset - onset) / 3600)


def test_two_meal_peaks_a_day_are_no_traffic_drop_on_a_one_day_log() -> None:
    # a delivery service's lunch and dinner peaks: two daily harmonics fit one hump, and the evening's
    # fall after dinner read 'traffic dropped' beyond it; half the traffic lost still is a drop
    for seed, off in ((9, 1.0), (10, 8.0)):
        rng = np.random.default_rng(seed)
        t = MONDAY + 2 * 3600.0 + np.sort(rng.uniform(0.0, DAY, 40000))
        local = ((t - MONDAY) / 3600.0 + off) % 24
        rate = 0.15 + np.exp(-((local - 12.5) ** 2) / 1.5) + 1.3 * np.exp(-((local - 19.5) ** 2) / 2.5)
        t = t[rng.uniform(size=t.size) < rate / rate.max()]
        t = np.sort(rng.choice(t, min(8000, t.size), replace=False))
        onset = float(t[0] + 0.7 * (t[-1] - t[0]))
        d = diagnose(_blob_log(t, np.random.default_rng(seed)), onset=onset)
        assert d.cause == "none", (seed, [(f.check, f.evidence) for f in d.findings[:3]])
        keep = (t < onset) | (rng.uniform(size=t.size) < 0.5)
        d = diagnose(_blob_log(t[keep], np.random.default_rng(seed)), onset=onset)
        assert (d.cause, d.culprit_name) == ("service", "traffic"), [(f.check, f.evidence) for f in d.findings[:3]]
