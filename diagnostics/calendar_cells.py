"""Inputs set by the calendar, compared within the same local hour and kind of day.

A building's occupancy is near 0 through the night and the weekend and 0.5-1 through a workday's
office hours; a ride service's demand peaks in the evening and runs higher on weekends. Such an
input is a function of the local hour and of the kind of day (a weekday, a weekend day). A window
of other hours or other days than its reference's holds other values by construction: the office
filling at 08:00 after a night's reference, the first workdays after a weekend's reference
('occupancy drifted: median 0.05 -> 0.75'), a Sunday's demand against a training file of weekdays
and a Saturday ('demand drifted: KS 0.5'). The daily wave (`phase`) does not take this out: a
step at 08:00 and 18:00 on workdays only is no smooth wave, and a weekend is no hour of the day.

So the window is compared within cells of (local hour, weekend or not): its rows in the cells the
reference also holds, against the reference's rows of those cells weighted to the window's mix of
cells. A fault that starts at the onset (a unit, an offset, a fifth of the rows moved, a stuck
sensor) moves the window's rows at every hour, those the reference holds too; the calendar moves
none of them. An input is judged so only when the cells explain most of its variance over the
reference and the window together (`CALENDAR_SHARE`: occupancy 0.9, a ride service's demand 0.7;
a weather input's day-to-day walk, a bundled set's rows, much less) and when the shared cells
hold enough of the window to say it did not move (`MIN_SHARED_ROWS`, `MIN_SHARED_SHARE`). A
window wholly at hours the reference never held (an eight-hour log's office hours after its two
night hours) holds nothing to compare: its drift stands, for nothing in the log says the building
fills at 08:00 every workday.

The cells need the service's zone, which an hour-of-day input states
(`clock_features.log_utc_offset`); without one, nothing here applies. The kind of day is the
local weekday's (Saturday and Sunday the weekend, as `calendar_days` reads it).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

CELLS = 48  # 24 local hours x (weekday, weekend day)
SAMPLE = 50_000  # rows of each window the comparison reads (time-ordered strides)
CALENDAR_SHARE = 0.6  # share of the input's variance between the cells that makes it the calendar's
MIN_CELL_ROWS = 30  # reference rows a cell needs to stand for its hour and kind of day
MIN_SHARED_ROWS = 200  # window rows in shared cells the comparison needs
MIN_SHARED_SHARE = 0.05  # and their share of the window's rows
CELL_KS = 0.1  # within the shared cells, the drift bar's effect size: under it the input did not move


class CalendarCells:
    """The (local hour, kind of day) cell of every reference and window row, found on first use.

    `cells()` is None when the log states no zone (no hour-of-day input): then no input is compared
    within cells.
    """

    def __init__(self, offset: Callable[[], float | None], r_ts: np.ndarray, c_ts: np.ndarray) -> None:
        self._args = (offset, r_ts, c_ts)
        self._cells: tuple[np.ndarray, np.ndarray] | None = None
        self._done = False

    def cells(self) -> tuple[np.ndarray, np.ndarray] | None:
        if not self._done:
            self._done = True
            self._cells = self._find()
        return self._cells

    def _find(self) -> tuple[np.ndarray, np.ndarray] | None:
        find_offset, r_ts, c_ts = self._args
        offset = find_offset()
        if offset is None:
            return None
        return local_cells(r_ts, offset), local_cells(c_ts, offset)

    def moves_with_the_calendar(self, r: np.ndarray, c: np.ndarray) -> bool:
        """Whether a numeric input set by the calendar holds still within the cells both windows hold."""
        found = self.cells()
        if found is None or r.size == 0 or c.size == 0:
            return False
        kr, kc = max(1, r.size // SAMPLE), max(1, c.size // SAMPLE)
        rv, rk, cv, ck = r[::kr], found[0][::kr], c[::kc], found[1][::kc]
        keep_r, keep_c = np.isfinite(rv) & (rk >= 0), np.isfinite(cv) & (ck >= 0)
        rv, rk, cv, ck = rv[keep_r], rk[keep_r], cv[keep_c], ck[keep_c]
        if rv.size < MIN_SHARED_ROWS or cv.size < MIN_SHARED_ROWS:
            return False
        if calendar_share(np.concatenate([rv, cv]), np.concatenate([rk, ck])) < CALENDAR_SHARE:
            return False
        r_n = np.bincount(rk, minlength=CELLS)
        shared = r_n >= MIN_CELL_ROWS
        in_shared = shared[ck]
        # a window row of a cell the reference lacks: the same hour of the other kind of day stands
        # in for it, moved by what the kind of day moves the input where the reference holds both
        lift = kind_of_day_move(rv, rk, r_n)
        stand_in = ~in_shared & shared[ck ^ 1] if lift is not None else np.zeros(ck.size, dtype=bool)
        judged = in_shared | stand_in
        n_judged = int(judged.sum())
        if n_judged < MIN_SHARED_ROWS or n_judged < MIN_SHARED_SHARE * cv.size:
            return False
        c_n = np.bincount(ck[in_shared], minlength=CELLS)
        c_across = np.bincount(ck[stand_in] ^ 1, minlength=CELLS)
        # each reference row of a held cell stands for its cell's share of the window, and for its
        # hour's share on the other kind of day (weekday rows lifted to a weekend's level, and back)
        per_row = np.where(shared, c_n / np.maximum(r_n, 1), 0.0)
        per_row_across = np.where(shared, c_across / np.maximum(r_n, 1), 0.0)
        weekend = np.arange(CELLS) % 2 == 1
        moved = rv + np.where(weekend, -1.0, 1.0)[rk] * (lift or 0.0)
        return weighted_ks(np.concatenate([rv, moved]), np.concatenate([per_row[rk], per_row_across[rk]]),
                           cv[judged]) < CELL_KS


def kind_of_day_move(v: np.ndarray, cell: np.ndarray, counts: np.ndarray) -> float | None:
    """How far a weekend day moves the values from a weekday's at the same local hour (None: unknown).

    Read at the hours the reference holds on both kinds of day (`MIN_CELL_ROWS` each), each hour's
    difference of means weighted by its rows (the harmonic mean of the two counts): a ride
    service's demand runs 5 higher on weekends at every hour. Fewer than `MIN_SHARED_ROWS` rows of
    such pairs on a side: unknown.
    """
    sums = np.bincount(cell, weights=v, minlength=CELLS)
    n_day, n_end = counts[0::2].astype(np.float64), counts[1::2].astype(np.float64)
    both = (n_day >= MIN_CELL_ROWS) & (n_end >= MIN_CELL_ROWS)
    if float(n_day[both].sum()) < MIN_SHARED_ROWS or float(n_end[both].sum()) < MIN_SHARED_ROWS:
        return None
    gap = sums[1::2][both] / n_end[both] - sums[0::2][both] / n_day[both]
    w = n_day[both] * n_end[both] / (n_day[both] + n_end[both])
    return float((gap * w).sum() / w.sum())


def local_cells(ts: np.ndarray, offset: float, per_hour: int = 1) -> np.ndarray:
    """Each timestamp's cell: its slot of the local day (`per_hour` slots an hour) and whether the
    local day is a weekend day, coded `2 * slot + weekend`."""
    local = ts / 3600.0 + offset
    slot = np.floor((local % 24.0) * per_hour).astype(np.int64)
    weekday = (np.floor(local / 24.0).astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    out: np.ndarray = 2 * slot + (weekday >= 5)
    return out


def calendar_share(v: np.ndarray, cell: np.ndarray) -> float:
    """Share of the values' variance between their cells' means (0 for a constant)."""
    counts = np.bincount(cell, minlength=CELLS).astype(np.float64)
    sums = np.bincount(cell, weights=v, minlength=CELLS)
    grand = float(v.mean())
    total = float(((v - grand) ** 2).sum())
    if total <= 0.0:
        return 0.0
    seen = counts > 0
    between = float((counts[seen] * (sums[seen] / counts[seen] - grand) ** 2).sum())
    return between / total


def weighted_ks(r: np.ndarray, w: np.ndarray, c: np.ndarray) -> float:
    """Largest gap between the weighted distribution function of `r` and the plain one of `c`."""
    keep = w > 0
    r, w = r[keep], w[keep]
    if r.size == 0 or c.size == 0:
        return 1.0
    order = np.argsort(r, kind="stable")
    r_sorted, cum = r[order], np.cumsum(w[order]) / float(w.sum())
    c_sorted = np.sort(c)
    at = np.unique(np.concatenate([r_sorted, c_sorted]))
    i = np.searchsorted(r_sorted, at, side="right")
    f_r = np.where(i > 0, cum[np.maximum(i - 1, 0)], 0.0)
    f_c = np.searchsorted(c_sorted, at, side="right") / float(c_sorted.size)
    return float(np.abs(f_r - f_c).max())
