"""A small bundled set's rows served by the clock: the pool's other records are no remapped codes.

The cycles generator serves a bundled set's few rows (wine: 89 of its 178, each feature at most
89 distinct values) all day, tilted towards large values of the first column in the evening. A
reference of a few hours draws only some of those rows, so each column's reference repeats a few
dozen values 50+ times each and reads as discrete: the rows the window draws that the reference
never drew then carry, in every column, values it never had inside its range. On a 12-hour wine
log with a redeploy (the held-out third's '15.2% of <a wine column> values since the onset are
values the reference never had inside its range: codes remapped'; tuning spec 15 rebuilt at 12
hours: nine columns at once, every row at a new value in one at new values in the others) the
verdict was a data fault. A remap replaces a column's codes on the inputs that carried them: the
window serves the reference's inputs with that one value changed (`Recurrence.counted_in_inputs`).
Such a remap, a stuck feed, a unit, an offset and a fifth of the rows moved stay named.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import datasets as skd

from diagnostics import diagnose
from diagnostics.log import PredictionLog
from tests.diagnostics.short_log_faults import (
    HOUR,
    assert_quiet_but_faults_named,
    assert_quiet_in_both_modes,
    classifier_log,
    evening_rows,
    move,
)

START_HOUR = 18.5
T0 = pd.Timestamp("2026-08-15T18:30Z").timestamp()  # 18:30, UTC
WINE = skd.load_wine(as_frame=True).frame


def _pool_log(seed: int, fault: str = "") -> tuple[PredictionLog, float]:
    """Twelve hours of half the wine set's rows, drawn towards strong wines in the evening; the onset 8 h in."""
    rng = np.random.default_rng(seed)
    half = WINE.iloc[np.flatnonzero(rng.permutation(len(WINE)) % 2 == 0)].reset_index(drop=True)
    pool = half.drop(columns="target")
    t = np.sort(rng.uniform(T0, T0 + 12 * HOUR, 12_000))
    hour = ((t - T0) / HOUR + START_HOUR) % 24
    x = evening_rows(rng, pool, hour)
    onset = T0 + 7.5 * HOUR
    late = t >= onset
    served = x["magnesium"].to_numpy(dtype=float).copy()
    if fault == "remap":
        # the lookup that writes magnesium's codes shifted by one: every value moved onto a neighbour
        served[late] = served[late] + 1.0
    else:
        move(served, late, t, onset, float(served[~late].std()), fault, rng)
    z = (x - pool.mean()) / pool.std()
    truth = 1.5 * z["flavanoids"] + 1.2 * z["proline"] - 0.8 * z["color_intensity"] + 0.6 * z["magnesium"]
    logit = truth + 0.6 * ((served - pool["magnesium"].mean()) / pool["magnesium"].std() - z["magnesium"])
    inputs = x.assign(magnesium=served)
    return classifier_log(rng, t, inputs, (logit.to_numpy(), truth.to_numpy()), late, hour), onset


def test_the_pools_other_records_in_the_evening_are_no_remapped_codes() -> None:
    assert_quiet_in_both_modes(_pool_log, (0, 1, 2))


def test_a_column_remapped_stuck_rescaled_or_moved_on_the_pools_rows_stays_found() -> None:
    assert_quiet_but_faults_named(_pool_log, (0, 1, 2), ("remap", "stuck", "unit", "offset", "fifth"), "magnesium")


def test_missing_or_infinite_values_in_the_pools_columns_make_no_error() -> None:
    rng = np.random.default_rng(9)
    for fault in ("", "remap"):
        log, onset = _pool_log(0, fault)
        for name in ("flavanoids", "magnesium"):
            v = np.asarray(log.features[name], dtype=float).copy()
            v[rng.random(v.size) < 0.1] = np.nan
            v[rng.random(v.size) < 0.01] = np.inf
            log.features[name] = v
        d = diagnose(log, onset=onset)  # completes: a missing value is one more value of an input's key
        assert d.cause in ("none", "data"), (fault, d.cause, d.culprit_name)
        if fault:
            assert d.culprit_name == "magnesium", (d.cause, d.culprit_name)
