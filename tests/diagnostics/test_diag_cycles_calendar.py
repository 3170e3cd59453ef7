"""Healthy logs with real-world cycles (issue-12s): the calendar, clock-shaped inputs, skewed waves.

Each test builds its log here with numpy and diagnoses it through the Python API: a healthy
log must come out 'none', and the fault the class could hide must still be found.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diagnostics import diagnose
from diagnostics.log import PredictionLog

DAY = 86400.0
MONDAY = pd.Timestamp("2026-03-02T00:00Z").timestamp()
NAMES = np.array(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])


def _calendar_log(days: float, seed: int, frozen_from: float | None = None) -> PredictionLog:
    """A regression on x (no cycle) with a day-name column the model also reads a little."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(MONDAY, MONDAY + days * DAY, int(4000 * days)))
    day = NAMES[((t - MONDAY) // DAY).astype(int) % 7]
    if frozen_from is not None:  # a stale pipeline: the date stops moving
        day = np.where(t >= MONDAY + frozen_from * DAY, day[np.searchsorted(t, MONDAY + frozen_from * DAY)], day)
    x = rng.normal(0, 1, t.size)
    y = 2 * x + rng.normal(0, 0.5, t.size)
    return PredictionLog(
        timestamp=t, model_version=np.full(t.size, "v1"), prediction=2 * x, label=y,
        features={"x": x, "day_name": day.astype(object)},
    )


def test_a_day_name_column_is_no_never_seen_category_nor_stuck() -> None:
    # a 5-day log from Monday, alert on Thursday: 'Thu' and 'Fri' were never in the reference
    # (main: '40% of day_name values are categories never seen'); a 20-hour window on one day
    # reads as 'stuck at Fri'
    for days, onset_day in ((5.0, 3.0), (5.0, 4.2), (1.6, 1.0)):
        log = _calendar_log(days, 1)
        d = diagnose(log, onset=MONDAY + onset_day * DAY)
        flagged = [(f.check, f.subject) for f in d.findings if f.subject == "day_name" and f.score >= 0.15]
        assert d.cause == "none" and not flagged, (days, onset_day, d.cause, flagged)


def test_a_date_column_frozen_for_days_is_still_a_finding() -> None:
    # the calendar stops at Wednesday for the window's three days: a stale pipeline, not the week moving on
    log = _calendar_log(6.0, 2, frozen_from=2.5)
    d = diagnose(log, onset=MONDAY + 3.0 * DAY)
    assert any(f.subject == "day_name" and f.score >= 0.15 for f in d.findings), [
        (f.check, f.subject, round(f.score, 2)) for f in d.findings
    ]
