"""Inputs that come in spells and inputs that follow office hours (issue 12, session 15b).

Drizzle is 0 through every dry hour and in tenths of a millimetre when it rains; a building's
occupancy is near 0 at night and on weekends, 0.5-1 in office hours. Each log is built here
with numpy and diagnosed through the Python API: the spells and the office hours are no fault,
while a replaced column, a unit converted on the wet rows and a unit change at every hour of
the day stay findings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diagnostics import diagnose
from diagnostics.log import PredictionLog

DAY = 86400.0
HOUR = 3600.0
MONDAY = pd.Timestamp("2026-03-02T00:00Z").timestamp()


def _rain_log(seed: int, wet_hours: tuple[list[int], list[int]], inches: bool = False,
              replaced: bool = False) -> tuple[PredictionLog, float]:
    """20 hours from 06:00 UTC; rain falls in the given hours of the first and the second half."""
    rng = np.random.default_rng(seed)
    start = MONDAY + 6 * HOUR
    t = np.sort(rng.uniform(start, start + 20 * HOUR, 12_000))
    onset = start + 10 * HOUR
    hour = (t - MONDAY) / HOUR % 24
    temp = 12 + 6 * np.cos(2 * np.pi * (hour - 15) / 24) + rng.normal(0, 0.5, t.size)
    humid = 70 - 2 * (temp - 12) + rng.normal(0, 4, t.size)
    since = ((t - start) // HOUR).astype(int)
    wet = np.isin(since, wet_hours[0]) | np.isin(since, [10 + h for h in wet_hours[1]])
    rain = np.round(rng.exponential(0.6, t.size) * wet, 1)
    if inches:  # one station's gauge in inches since the onset: its wet rows off the tenths grid
        late = (t >= onset) & (rain > 0)
        rain = np.where(late, np.round(rain / 2.54, 3), rain)
    if replaced:  # humidity from another table's rows since the onset
        late = t >= onset
        humid = np.where(late, rng.permutation(humid), humid)
    pred = 30 + 0.8 * temp - 3 * np.minimum(rain, 2) - 0.1 * humid
    y = pred + rng.normal(0, 1.5, t.size)
    log = PredictionLog(timestamp=t, model_version=np.full(t.size, "v1"), prediction=pred, label=y,
                        features={"temperature": np.round(temp, 1), "humidity": np.round(humid),
                                  "rain_mm": rain})
    return log, onset


def _flags(d, subject: str) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
    return [(f.check, round(f.score, 2)) for f in d.findings if f.subject == subject and f.score >= 0.15]


def test_showers_at_other_hours_are_no_broken_relation() -> None:
    # the reference's showers fell in the warm afternoon, the window's at night: drizzle's rank
    # correlation with temperature goes from + to about 0 over thousands of rows but two spells
    # (main: "rain_mm lost its relation to the other inputs")
    log, onset = _rain_log(1, ([7, 8, 9], [7, 8, 9]))
    d = diagnose(log, onset=onset)
    broken = [f.evidence for f in d.findings if f.check == "relation_break"]
    assert not broken, broken


def test_a_replaced_partner_still_breaks_its_relations() -> None:
    log, onset = _rain_log(2, ([7, 8, 9], [7, 8, 9]), replaced=True)
    d = diagnose(log, onset=onset)
    assert d.cause == "data" and _flags(d, "humidity"), [(f.check, f.subject, f.score) for f in d.findings[:4]]


def test_rain_after_a_dry_spell_keeps_its_grid() -> None:
    # a dry morning as the reference, showers in the window: 0% of the reference's values were off
    # the whole numbers (every one a zero), 60% of the window's are (main: "left its grid")
    log, onset = _rain_log(3, ([], [1, 2, 3, 4, 5, 6, 7]))
    d = diagnose(log, onset=onset)
    grid = [f.evidence for f in d.findings if f.check == "value_grid"]
    assert not grid, grid


def test_a_gauge_in_inches_on_the_wet_rows_still_leaves_its_grid() -> None:
    log, onset = _rain_log(4, ([1, 2, 4, 5, 7, 8], [1, 2, 4, 5, 7, 8]), inches=True)
    d = diagnose(log, onset=onset)
    assert any(f.check == "value_grid" and f.subject == "rain_mm" and f.score >= 0.15 for f in d.findings), [
        (f.check, f.subject, round(f.score, 2)) for f in d.findings[:4]
    ]
