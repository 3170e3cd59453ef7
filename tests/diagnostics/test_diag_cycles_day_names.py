"""Day names in a zone the log does not state (issue 12, session 17c).

A ride service in Tokyo logs 'Mon' ... 'Sun' in its own zone and no hour-of-day input, so the
log's zone is not known from an hour column. A day-long log's window on the next local day held
a name its reference barely had ('Category mix of day_name shifted: JS 0.68-0.88', healthy cycle
logs 234 and 255). The calendar says what the column must be: each row's local weekday at one
offset. A day name frozen since the onset disagrees with every offset and stays a finding.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diagnostics import diagnose
from diagnostics.log import PredictionLog

DAY = 86400.0
HOUR = 3600.0
NAMES = np.array(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
START = pd.Timestamp("2026-09-10T00:00Z").timestamp()  # a Thursday, 09:00 in Tokyo


def _rides(
    hours: float, seed: int, offset_h: float = 9.0, fault: str = "", share: float = 0.8
) -> tuple[PredictionLog, float]:
    """Ride demand read with the local day name, traffic following the local day."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(START, START + hours * HOUR, int(900 * hours)))
    rate = 1 + 0.7 * np.cos(2 * np.pi * ((t / HOUR + offset_h) % 24 - 17) / 24)
    t = t[rng.random(t.size) < rate / 1.7]
    onset = START + share * hours * HOUR
    local_day = np.floor((t / HOUR + offset_h) / 24.0).astype(int)
    day = NAMES[(local_day + 3) % 7]  # 1970-01-01 was a Thursday
    after = t >= onset
    if fault == "frozen":  # a stale pipeline: the date stops moving at the onset
        day = np.where(after, day[int(np.searchsorted(t, onset))], day)
    weekend = np.isin(day, ["Sat", "Sun"]).astype(float)
    demand = 20 + 15 * np.exp(-0.5 * (((t / HOUR + offset_h) % 24 - 18) / 2.5) ** 2) + rng.normal(0, 3, t.size)
    pred = 5 + 0.3 * demand + 1.5 * weekend + 0.4 * (day == "Thu")
    y = pred + rng.normal(0, 2, t.size)
    log = PredictionLog(timestamp=t, model_version=np.full(t.size, "v1"), prediction=pred, label=y,
                        features={"demand": np.round(demand, 1), "day_name": day.astype(object)})
    return log, onset


def _day_name_flags(d) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
    return [(f.check, round(f.score, 2)) for f in d.findings if f.subject == "day_name" and f.score >= 0.15]


def test_local_day_names_without_an_hour_input_are_the_calendar() -> None:
    # a day-long and a 40-hour log in Tokyo (UTC+9), a 30-hour one in Los Angeles (UTC-7)
    for hours, offset, seed in ((24.0, 9.0, 1), (40.0, 9.0, 2), (30.0, -7.0, 3)):
        log, onset = _rides(hours, seed, offset)
        d = diagnose(log, onset=onset)
        assert not _day_name_flags(d), (hours, offset, d.cause, _day_name_flags(d))


def test_a_frozen_day_name_is_still_found() -> None:
    # the date stops at Saturday for the window's two and a half days: no offset makes it the calendar
    log, onset = _rides(120.0, 4, 9.0, "frozen", share=0.5)
    d = diagnose(log, onset=onset)
    assert d.cause == "data" and _day_name_flags(d), [(f.check, f.subject, round(f.score, 2)) for f in d.findings[:4]]
