"""A daily-cycle input judged against the same hours of earlier days.

Temperature, a basket's amount, a session's length follow the local clock: warm afternoons,
large orders in the evening. A current window of a few hours (the last quarter of a 3-day log
when no onset is found, the hours since an onset) holds only some hours of the day, so against
a reference of whole days its distribution moves by construction: a healthy bike log with a
6 degree daily swing read as a temperature 'drift' at the verdict's top score. The question an
on-call engineer asks is whether this afternoon is unlike earlier afternoons. When the
reference holds every hour the window holds, its rows are resampled to the window's mix of
hours of the day (UTC hours: a cycle in any local zone is a cycle in UTC), and the drift checks
compare against that. Only for columns whose level clearly depends on the hour (a between-hour
share of variance of `MIN_CYCLE`); every other column keeps its whole reference.
"""

from __future__ import annotations

import numpy as np

HOUR_S = 3600.0
DAY_S = 86400.0
MIN_CYCLE = 0.03  # between-hour share of the reference's variance that makes a column cyclic
MIN_ROWS_PER_HOUR = 30  # reference rows an hour the window needs (a tenth of the window's share)
MIN_MATCHED = 200  # a matched reference smaller than this says too little: keep the whole one
MIN_WINDOW_SHARE = 0.005  # hours holding less of the window are left out of the matching


def hour_of_day(ts: np.ndarray) -> np.ndarray:
    return (np.floor(ts / HOUR_S) % 24).astype(np.int64)


def daily_cycle_share(values: np.ndarray, ts: np.ndarray) -> float:
    """Between-hour share of variance (eta squared) of the finite values, winsorized at 1%/99%."""
    ok = np.isfinite(values)
    if int(ok.sum()) < 24 * MIN_ROWS_PER_HOUR:
        return 0.0
    v = values[ok]
    lo, hi = np.quantile(v, [0.01, 0.99])
    v = np.clip(v, lo, hi)
    h = hour_of_day(ts[ok])
    n = np.bincount(h, minlength=24).astype(float)
    s = np.bincount(h, weights=v, minlength=24)
    total = float(((v - v.mean()) ** 2).sum())
    if not total > 0:
        return 0.0
    filled = n > 0
    between = float((s[filled] ** 2 / n[filled]).sum() - v.sum() ** 2 / v.size)
    return max(between, 0.0) / total


def matched_rows(ref_ts: np.ndarray, cur_ts: np.ndarray) -> np.ndarray | None:
    """Indices of reference rows whose hours of the day come in the current window's proportions.

    None when the reference lacks some hour the window holds (a log shorter than a day), when
    the window covers the day nearly evenly already, or when too few rows would remain. The
    rows of each hour are taken in a fixed pseudo-random order (one sort, no row loop).
    """
    if ref_ts.size == 0 or cur_ts.size == 0:
        return None
    rh, ch = hour_of_day(ref_ts), hour_of_day(cur_ts)
    r_n = np.bincount(rh, minlength=24).astype(float)
    c_share = np.bincount(ch, minlength=24) / float(ch.size)
    need = c_share >= MIN_WINDOW_SHARE
    if not need.any() or bool((r_n[need] < MIN_ROWS_PER_HOUR).any()):
        return None
    r_share = r_n / r_n.sum()
    if float(np.abs(r_share - c_share).sum()) < 0.1:  # already the same mix of hours
        return None
    # the largest sample in the window's proportions that no hour runs out of
    size = float(np.min(r_n[need] / c_share[need]))
    take = np.where(need, np.floor(c_share * size), 0.0).astype(np.int64)
    if int(take.sum()) < MIN_MATCHED:
        return None
    key = np.random.default_rng(0).random(ref_ts.size)
    order = np.lexsort((key, rh))
    hours_sorted = rh[order]
    starts = np.searchsorted(hours_sorted, np.arange(24), side="left")
    rank = np.arange(order.size) - starts[hours_sorted]
    return np.sort(order[rank < take[hours_sorted]])
