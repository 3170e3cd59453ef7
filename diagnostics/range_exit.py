"""Rows of a numeric input far outside what the log's head held: a unit, sign or default fill.

A fault on part of the rows (a default 0 for a quarter of a horsepower column, carats sent in
grams by one of five senders) moves the input's mean by a fifth, which a scan of the mean per
time bin weighs against a line at a late onset: z 9 and 6.5, under the bar of a cause series,
and the window fell back to the log's last quarter (11 hours late). Healthy values hardly ever
leave the head's range by a factor: the share of rows doing so steps from nothing at the fault.

Far outside means, for an input whose head holds no negative (no positive) value, below half
its smallest magnitude (across zero when that is zero), or beyond ten times its largest; for a
mixed-sign input, beyond the head's range by the range's own width. The head's own rows are left out of the series
(inside their own range by construction, they would make the head's end look like a step).
"""

from __future__ import annotations

import numpy as np

MIN_HEAD = 50  # finite head values needed to know the range
MIN_SHARE = 0.01  # rows after the head that left it, below which there is nothing to scan
# upwards only a factor of ten counts (cents for units, grams for kilograms): rain, loads and
# prices run to a few times what a dry or quiet head held (a three-day delivery log's first
# storm, twice the head's wettest hour, became the onset of a cap on another input)
UP = 10.0


def range_exit_rows(values: np.ndarray, head: int) -> np.ndarray | None:
    """1.0 where a row lies far outside the head's range, 0.0 inside, NaN for missing values and
    the head's own rows; None when the input has no usable range or nothing left it."""
    start = values[:head]
    start = start[np.isfinite(start)]
    if start.size < MIN_HEAD:
        return None
    lo, hi = float(start.min()), float(start.max())
    if not bool(np.any((start > lo) & (start < hi))):
        return None  # a flag or a two-valued code (fewer than 3 values) has no range to leave
    with np.errstate(invalid="ignore"):
        if lo >= 0:
            out = (values < 0.5 * lo if lo > 0 else values < 0) | (values > UP * hi)
        elif hi <= 0:
            out = (values > 0.5 * hi if hi < 0 else values > 0) | (values < UP * lo)
        else:
            span = hi - lo
            out = (values < lo - span) | (values > hi + span)
    finite = np.isfinite(values)
    rest = int(np.count_nonzero(finite[head:]))
    if rest == 0 or int(np.count_nonzero(out[head:])) < MIN_SHARE * rest:
        return None
    series = np.where(finite, out.astype(np.float64), np.nan)
    series[:head] = np.nan
    return series


BLOCK_SECONDS = 4 * 3600.0  # the day cut into six blocks of hours
STEADY_SHARE = 0.3  # every block after the step holds at least this share of the mean exit rate


def exits_around_the_clock(per_bin: np.ndarray, centres: np.ndarray, step_bin: int) -> bool:
    """Do the exits after the step hold at every hour of the day the window covers?

    A fault on a share of the rows leaves the range at all hours; a daily-cycle input whose short
    head saw only the night leaves it each afternoon and comes back. Only then is the exit series
    kept out of the daily-cycle adjustment, which on a log of two days reads a step at its
    last third as the tail of a cycle (a default 0 on a quarter of the rows: z 10.7 -> 4.0).
    """
    found = _block_means(np.asarray(per_bin[step_bin:], dtype=np.float64), centres[step_bin:], 2)
    if found is None:
        return False
    means, mean = found
    return bool(mean > 0 and means.min() >= STEADY_SHARE * mean)


def _block_means(share: np.ndarray, centres: np.ndarray, min_blocks: int) -> tuple[np.ndarray, float] | None:
    """The exit share's mean in each block of the day that 3+ bins cover, and its mean over every
    bin; None with fewer than 6 bins or `min_blocks` such blocks (NaN: a bin without rows)."""
    ok = np.isfinite(share)
    if int(ok.sum()) < 6:
        return None
    blocks = ((centres % 86400.0) // BLOCK_SECONDS).astype(np.int64)
    counts = np.bincount(blocks[ok], minlength=6)
    sums = np.bincount(blocks[ok], weights=share[ok], minlength=6)
    covered = counts >= 3
    if int(covered.sum()) < min_blocks:
        return None
    means: np.ndarray = sums[covered] / counts[covered]
    return means, float(share[ok].mean())


EXIT_BIN_S = 3600.0
MIN_EXIT_SPAN_S = 20 * 3600.0  # exits seen on two days (a day's first and the next day's)


def exits_follow_the_clock(outside: np.ndarray, ts: np.ndarray) -> bool:
    """Whether a window's rows outside the reference's range leave it at some hours of the day only,
    day after day: an input that follows the clock, not a fault.

    A building's occupancy is near 0 at night and on weekends and 0.5-1 in office hours: a
    reference that held a weekend (or nights) only gives it the range [0, 0.1], and a window of
    workdays is '45% outside the reference range' every morning, back inside every evening. A unit
    change, a default fill or a sender's wrong scale leaves the range at every hour of the day
    (`exits_around_the_clock`); a fault that ended leaves it on one stretch only. Exits follow the
    clock when they stay away from one of the day's blocks the window covers (under
    `STEADY_SHARE` of their mean) while they come back over more than `MIN_EXIT_SPAN_S`.
    """
    if ts.size == 0 or float(ts[-1]) - float(ts[0]) < MIN_EXIT_SPAN_S:
        return False
    b = ((ts - float(ts[0])) // EXIT_BIN_S).astype(np.int64)
    rows = np.bincount(b).astype(np.float64)
    hits = np.bincount(b, weights=outside.astype(np.float64), minlength=rows.size)
    used = rows > 0
    share = np.where(used, hits / np.maximum(rows, 1.0), np.nan)
    centres = float(ts[0]) + (np.arange(rows.size) + 0.5) * EXIT_BIN_S
    on = np.flatnonzero(used & (share >= 0.5))
    if on.size < 2 or (on[-1] - on[0]) * EXIT_BIN_S < MIN_EXIT_SPAN_S:
        return False
    found = _block_means(share, centres, 3)
    if found is None:
        return False
    means, mean = found
    return bool(mean > 0 and means.min() < STEADY_SHARE * mean)
