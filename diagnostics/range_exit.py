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
    after = np.asarray(per_bin[step_bin:], dtype=np.float64)
    blocks = ((centres[step_bin:] % 86400.0) // BLOCK_SECONDS).astype(np.int64)
    ok = np.isfinite(after)
    if int(ok.sum()) < 6:
        return False
    counts = np.bincount(blocks[ok], minlength=6)
    sums = np.bincount(blocks[ok], weights=after[ok], minlength=6)
    covered = counts >= 3
    if int(covered.sum()) < 2:
        return False
    mean = float(after[ok].mean())
    return bool(mean > 0 and (sums[covered] / counts[covered]).min() >= STEADY_SHARE * mean)
