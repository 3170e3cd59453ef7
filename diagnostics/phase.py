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

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from diagnostics.stats import ks_statistic_sorted, tail_quantiles, two_proportion_se

HOUR_S = 3600.0
DAY_S = 86400.0
MIN_CYCLE = 0.03  # between-hour share of the reference's variance that makes a column cyclic
MIN_ROWS_PER_HOUR = 30  # reference rows an hour the window needs (a tenth of the window's share)
MIN_MATCHED = 200  # a matched reference smaller than this says too little: keep the whole one
MIN_WINDOW_SHARE = 0.005  # hours holding less of the window are left out of the matching


_WHOLE_HOURS = 2.0**52  # hour numbers below this in size are exact as whole numbers in int64 too


def hour_of_day(ts: np.ndarray) -> np.ndarray:
    """`(np.floor(ts / HOUR_S) % 24).astype(np.int64)`, bit for bit.

    A float's `% 24` costs ~5 ns a value (numpy's floored modulo of floats), and a diagnosis reads
    the hours of a million timestamps ten times: the hour numbers are whole, so they are taken
    modulo 24 as integers (floored as numpy floors them); a missing, infinite or huge time keeps
    the float expression."""
    hours = np.floor(ts / HOUR_S)
    with np.errstate(invalid="ignore"):  # (those rows are written again below, warning as the plain cast does)
        whole = hours.astype(np.int64)
    whole %= 24
    plain = ~(np.abs(hours) < _WHOLE_HOURS)
    if plain.any():
        whole[plain] = (hours[plain] % 24).astype(np.int64)
    return whole


WINSOR = np.array([0.01, 0.99])  # the quantiles a daily-cycle share clips values at


class DayHours(NamedTuple):
    """`hour_of_day` of a set of timestamps and the rows in each hour: every column of a log is judged
    on the same timestamps, and each column without a missing value has those rows per hour."""

    hours: np.ndarray
    rows: np.ndarray  # np.bincount(hours, minlength=24), as floats

    @classmethod
    def of(cls, ts: np.ndarray) -> DayHours:
        hours = hour_of_day(ts)
        return cls(hours, np.bincount(hours, minlength=24).astype(float))


def daily_cycle_share(values: np.ndarray, ts: np.ndarray, hours: np.ndarray | DayHours | None = None) -> float:
    """Between-hour share of variance (eta squared) of the finite values, winsorized at 1%/99%.

    `hours` is `hour_of_day(ts)` (or `DayHours.of(ts)`) when the caller holds it: every column of a
    log is judged on the same timestamps, and recomputing their hours per column cost as much as the
    rest of the check. The sum of the values is read once (`np.mean` divides the same sum by the
    count) and their squared deviations are written over one array.
    """
    ok = np.isfinite(values)
    n_ok = int(ok.sum())
    if n_ok < 24 * MIN_ROWS_PER_HOUR:
        return 0.0
    whole = n_ok == values.shape[0]
    v = values if whole else values[ok]
    lo, hi = tail_quantiles(v, WINSOR)  # np.quantile's, without partitioning every value
    v = np.clip(v, lo, hi)
    given = hours if isinstance(hours, DayHours) else None
    h = hours.hours if isinstance(hours, DayHours) else hours if hours is not None else hour_of_day(ts)
    h = h if whole else h[ok]
    n = given.rows if given is not None and whole else np.bincount(h, minlength=24).astype(float)
    s = np.bincount(h, weights=v, minlength=24)
    v_sum = v.sum()
    dev = np.subtract(v, v_sum / v.size)  # (v - v.mean()) ** 2, in place
    np.multiply(dev, dev, out=dev)
    total = float(dev.sum())
    del dev
    if not total > 0:
        return 0.0
    filled = n > 0
    between = float((s[filled] ** 2 / n[filled]).sum() - v_sum**2 / v.size)
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


WEEKLY_SPAN = 13 * DAY_S  # most 3-hour blocks of the week seen twice
CYCLES_SPAN = 1.5 * DAY_S  # a log this long has seen most hours twice: a step is judged beyond the cycle


def cycle_columns(t: np.ndarray, smooth: bool = False) -> list[np.ndarray]:
    """The daily (and weekly) cycle a log of this span has seen, as regression columns.

    Two weeks or more: each 3-hour block of the week its own level (weekends); a day and a half
    or more: each hour of the day its own level; six hours or more: two daily harmonics (free
    amplitude and phase), all a line's companions in `onset.seasonal_step`. `smooth` asks for
    daily harmonics (three orders from a day and a half on) in place of the levels per hour: a
    log of two days holds a step at its day boundary in a line beside the hours' levels.
    """
    span = float(t[-1] - t[0]) if t.size else 0.0
    if span >= WEEKLY_SPAN:
        block = np.floor(t / (3 * HOUR_S)) % 56
        return [(block == b).astype(np.float64) for b in range(1, 56)]
    if span >= CYCLES_SPAN and not smooth:
        hour = np.floor(t / HOUR_S) % 24
        return [(hour == h).astype(np.float64) for h in range(1, 24)]
    if span >= DAY_S / 4:
        angle = 2.0 * np.pi * t / DAY_S
        orders = (1, 2, 3) if span >= CYCLES_SPAN else (1, 2)
        return [f(k * angle) for k in orders for f in (np.cos, np.sin)]
    return []


WAVE_SPAN = DAY_S / 2  # over half a day the daily wave moves traffic far more than neighbouring hours show
SHORT_SPAN = 3 * HOUR_S  # from three hours on, the morning's rise moves a window's rate against the hours before it
RATE_BINS = 240  # at most this many bins for the rate's fit (at least ~20 rows each)
RATE_ITERATIONS = 12


def rate_beyond_cycle(
    counts: np.ndarray, edges: np.ndarray, at: float, keep: np.ndarray | None = None, apart: np.ndarray | None = None,
    last_day: bool = False, offset_h: float | None = None,
) -> float | None:
    """The rate after `at` as a share of what the log's trend and daily (weekly) cycle predict there.

    Traffic over a day rises three- or fivefold from the night to the evening, so a window of a
    few hours compared with the hours just before it reads the wave as a drop or a spike (a 1-day
    log's last quarter at 20% of the afternoon's rate). A wave cannot make an edge: the log's
    per-bin counts are fitted by a Poisson regression on a line, the cycle its span has seen
    (`cycle_columns`; under a day and a half four daily harmonics: two meal peaks are no single
    hump) and a step at `at` (each bin weighted by its share after `at`); the step's
    factor is the answer. Logs of 3-12 hours hold a part of the day: a line and a bend (a healthy
    6-hour log's morning rise read as 'traffic dropped to 35%' against its first hours). None for
    logs shorter than three hours or too few bins. `counts` may be weighted (a sampled window
    counts 1/fraction a row); bins outside `keep` (closed hours) are left out of the fit.
    `apart` marks bins after `at` on days of a kind (weekday, weekend) the bins before it never
    held: they take a level of their own and the step is read on the others (a first weekend is
    no drop); with too few others left the step is read on all of them, as without it.
    `last_day`: the step on the window's last day alone, where the log has seen each hour twice
    (`CYCLES_SPAN`) and the bins after `at` that carry the step span two days or more (local days
    at `offset_h`, else UTC days; a quarter of a day and `MIN_KIND_BINS` each, a shorter one
    joins its neighbour; else None). Each day takes a level of its own, and no line:
    the days' levels are the trend after `at`, and a line beside them is read on the hours
    before it alone. A holiday in the window is one day's level, over by its last day; a drop lasts.
    """
    y = np.asarray(counts, dtype=np.float64)
    span = float(edges[-1] - edges[0])
    if y.shape[0] < 24 or span < SHORT_SPAN:
        return None
    lo, hi = edges[:-1], edges[1:]
    centres = (lo + hi) / 2.0
    after = np.clip((hi - at) / np.maximum(hi - lo, 1e-9), 0.0, 1.0)
    if not (0 < float(after.sum()) < y.shape[0] - 1):
        return None
    line = (centres - centres.mean()) / span
    step, cols = after, [np.ones(y.shape[0])]
    if apart is not None and float((after * ~apart).sum()) >= MIN_KIND_BINS and bool(apart.any()):
        step = after * ~apart
        cols.append(after * apart)
    steps = _per_day(step, centres, offset_h, keep) if last_day and span >= CYCLES_SPAN else [step]
    if len(steps) == 1:
        if last_day:
            return None
        cols.append(line)
    cols = steps + cols
    if span < WAVE_SPAN:
        # a few hours of a day: the wave is a rise or a fall, a bend at most (a quadratic); the
        # harmonics of a day would bend into a step over so short a stretch
        cols.append(line**2)
    else:
        cols += cycle_columns(centres)
        if span < CYCLES_SPAN:
            cols += _higher_harmonics(centres)
    X = np.column_stack(cols)
    k = len(steps)
    if keep is not None and not bool(keep.all()):
        X, y = X[keep], y[keep]
        if not 0 < float(X[:, :k].sum()) < y.shape[0] - 1:
            return None
    if X.shape[0] < X.shape[1] + 8:
        return None
    beta, _ = _poisson_fit(X, y)
    return float(np.exp(np.clip(beta[k - 1], -30.0, 30.0)))


def _poisson_fit(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A Poisson regression of counts `y` on columns `X` for log(rate), and its coefficients' covariance.

    Iteratively reweighted least squares (a few hundred bins, a few dozen columns); the covariance
    is the Fisher information's inverse scaled by the counts' overdispersion (Pearson's, never below
    1): a rate that wanders between bins more than Poisson noise is no more certain for it.
    """
    eta = np.log(y + 0.5)
    beta: np.ndarray = np.zeros(X.shape[1])
    for _ in range(RATE_ITERATIONS):
        mu = np.exp(eta)
        z = eta + (y - mu) / mu
        w = np.sqrt(mu)
        beta, *_ = np.linalg.lstsq(X * w[:, None], z * w, rcond=None)
        eta = np.clip(X @ beta, -30.0, 30.0)
    mu = np.exp(eta)
    dispersion = max(1.0, float(((y - mu) ** 2 / mu).sum()) / max(y.shape[0] - X.shape[1], 1))
    return beta, np.linalg.pinv((X * mu[:, None]).T @ X) * dispersion


def step_at_moment(
    ts: np.ndarray, at: float, half: float, keep: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[float, float] | None:
    """The rate's step at `at` within `half` either side, beside the local slope: (log factor, its s.e.).

    A drop has a moment: lost requests are lost from one minute to the next, while a daily wave
    moves the rate by a few percent in a quarter of an hour (x0.8 an hour at the steepest of a
    twelvefold wave). Five-minute bins of `ts` over [at - half, at + half] fitted by a Poisson
    regression on a level, a line and a step at `at`: the line takes the wave's slope through
    the hour, the step what happened at the moment. None with less than half of `half` of the
    log on either side, or where `keep` (bins that say something of the rate: open hours) leaves
    fewer than half the bins a side. `ts` sorted.
    """
    ts = ts[np.isfinite(ts)]
    if ts.size == 0 or not math.isfinite(at):
        return None
    lo, hi = max(at - half, float(ts[0])), min(at + half, float(ts[-1]))
    if at - lo < half / 2 or hi - at < half / 2:
        return None
    before = np.arange(at, lo - 1e-9, -MOMENT_BIN_S)[::-1]
    edges = np.concatenate((before, np.arange(at + MOMENT_BIN_S, hi + 1e-9, MOMENT_BIN_S)))
    y = np.histogram(ts, edges)[0].astype(np.float64)
    centres = (edges[:-1] + edges[1:]) / 2.0
    after = centres > at
    used = np.ones(y.shape[0], dtype=bool) if keep is None else keep(edges)
    if min(int((used & after).sum()), int((used & ~after).sum())) < max(3, int(half / MOMENT_BIN_S) // 2):
        return None
    X = np.column_stack((np.ones(y.shape[0]), (centres - at) / half, after.astype(np.float64)))[used]
    beta, cov = _poisson_fit(X, y[used])
    return float(beta[2]), float(np.sqrt(max(float(cov[2, 2]), 0.0)))


MOMENT_BIN_S = 300.0  # five-minute bins for the step at a moment


MIN_KIND_BINS = 12  # bins after the step on days of a kind seen before it, for the step to be read on them


def _per_day(
    step: np.ndarray, centres: np.ndarray, offset_h: float | None, keep: np.ndarray | None
) -> list[np.ndarray]:
    """The step column split by day (local at `offset_h`, else UTC), each day holding a quarter of a
    day and `MIN_KIND_BINS` of its kept bins or joined to the day before it (the first, to the day
    after)."""
    on = (step > 0) if keep is None else (step > 0) & keep
    day = np.floor((centres + (offset_h or 0.0) * HOUR_S) / DAY_S).astype(np.int64)
    width = float(centres[1] - centres[0]) if centres.size > 1 else DAY_S
    least = max(MIN_KIND_BINS, int(np.ceil(DAY_S / 4 / width)))
    groups: list[list[int]] = []
    held: list[int] = []
    for d, size in zip(*(a.tolist() for a in np.unique(day[on], return_counts=True)), strict=True):
        if groups and (size < least or held[-1] < least):
            groups[-1].append(d)
            held[-1] += size
        else:
            groups.append([d])
            held.append(size)
    if len(groups) < 2:
        return [step]
    return [step * np.isin(day, g) for g in groups]


def _higher_harmonics(t: np.ndarray) -> list[np.ndarray]:
    """The third and fourth daily harmonics: two meal peaks a day (lunch, dinner) are no single hump."""
    angle = 2.0 * np.pi * t / DAY_S
    return [np.cos(3 * angle), np.sin(3 * angle), np.cos(4 * angle), np.sin(4 * angle)]


def window_hours_unseen(ref_ts: np.ndarray, cur_ts: np.ndarray) -> bool:
    """The window holds hours of the day the reference never saw enough of (a log of a day or less)."""
    if ref_ts.size == 0 or cur_ts.size == 0:
        return False
    r_n = np.bincount(hour_of_day(ref_ts), minlength=24)
    c_share = np.bincount(hour_of_day(cur_ts), minlength=24) / float(cur_ts.size)
    return bool((r_n[c_share >= MIN_WINDOW_SHARE] < MIN_ROWS_PER_HOUR).any())


STEP_ROWS = 200  # rows on each side of a boundary the input's step there is judged on (at least)
STEP_PAIRS = 6  # earlier boundaries the input's own steps are read from


def steps_at_onset(
    r: np.ndarray, c: np.ndarray, r_ts: np.ndarray | None = None, c_ts: np.ndarray | None = None
) -> bool:
    """Whether the input breaks at the onset more than it moves between neighbouring stretches before it.

    A wave or a wandering level moves an input as much from one stretch of rows to the next
    before the onset as across it: a temperature climbing through the morning, a bundled set's
    rows tilted towards the evening. A fault starts at the onset: a sensor's offset, a fifth of the
    rows moved, a cap. The last rows before the onset against the first as many after it (a
    quarter of the window, `STEP_ROWS` at least; a two-sample KS) is no step when the neighbouring
    same-sized stretches of the reference before it (up to `STEP_PAIRS`) already differ beyond the
    KS critical value (alpha 0.001) and as much as the onset's. An input that sits still before
    the onset keeps its step: a ramp of an hour (the harder suite's gradual drifts) moves the first
    rows after the onset too little to show at the onset. With too few rows to tell, a step is
    assumed (the caller judges as it did). `r` and `c` in time order.
    """
    r_ok, c_ok = np.isfinite(r), np.isfinite(c)
    r, c = r[r_ok], c[c_ok]
    # a quarter of the window a stretch: a busy log's 200 rows are minutes, too short for a wave to move
    k = min(max(STEP_ROWS, c.shape[0] // 4), c.shape[0], r.shape[0] // 3)
    if k < 50:
        return True
    crit = 1.95 * float(np.sqrt(2.0 / k))
    at = ks_statistic_sorted(np.sort(r[-k:]), np.sort(c[:k]))
    pairs = min(STEP_PAIRS, r.shape[0] // k - 1)
    blocks = np.sort(r[r.shape[0] - (pairs + 1) * k:].reshape(pairs + 1, k), axis=1)
    before = max(ks_statistic_sorted(blocks[j], blocks[j + 1]) for j in range(pairs))
    # an input that sits still between its earlier stretches (the harder suite's inputs, a sensor's
    # level) keeps its step whatever the onset shows: a ramp of an hour moves its first rows too little
    if before <= crit or at > before:
        return True
    return r_ts is not None and c_ts is not None and _steps_day_over_day(r, r_ts[r_ok], c, c_ts[c_ok], k)


GLIDE_SAMPLE = 50_000  # rows of the reference and of the window the glide is judged on (time-ordered strides)
# the break test's critical value must be under this: a fifth of the rows moved by two standard
# deviations (KS ~0.14) shows as a break (a 320-row window's 200 rows a side, critical 0.195, hid it)
GLIDE_BREAK_KS = 0.15


def glides_through_onset(
    r: np.ndarray, c: np.ndarray, r_ts: np.ndarray | None = None, c_ts: np.ndarray | None = None
) -> bool:
    """Whether the input moves steadily through its reference and does not break at the onset.

    A bundled set whose rows follow the clock (an evening's larger tumours, older patients in the
    morning) or a humidity that falls through the day moves over hours, on a log of a day or less
    that never saw the window's hours: the window sits beyond the reference's mix though nothing
    broke (KS 0.14-0.3 'mean concave points drifted', with the line and bend of the few hours held
    taken out, on healthy 6-20-hour logs). A fault starts at the onset: a fifth of the rows
    moved, an offset, a cap show in the first rows after it against the last rows before it. The
    input glides when (a) its reference's first third and last third differ beyond the KS
    critical value (alpha 0.001), or its values' rank correlation with time does (`_trend_z`):
    it moved before the onset as it moves after; and (b) the last rows before the onset against
    the first as many after it (half the window, `STEP_ROWS` at least, a third of the reference at
    most) differ by less than that critical value: no break. With too few rows for that test to
    see a fifth of the rows moved by two standard deviations (`GLIDE_BREAK_KS`), no glide is
    claimed. An input that sits still in its reference (the harder suite's inputs, a sensor's level)
    never glides, so a ramp that starts at the onset keeps its drift. On a log under a day, with
    the timestamps given, a steep input whose neighbouring stretches differ by its slope alone
    passes (b) when its path runs through the onset unbroken (`smooth_through_onset`). `r` and
    `c` in time order.
    """
    kr, kc = max(1, r.shape[0] // GLIDE_SAMPLE), max(1, c.shape[0] // GLIDE_SAMPLE)
    r, c = r[::kr], c[::kc]
    r_ok, c_ok = np.isfinite(r), np.isfinite(c)
    r, c = r[r_ok], c[c_ok]
    k = min(max(STEP_ROWS, c.shape[0] // 2), c.shape[0], r.shape[0] // 3)
    crit = 1.95 * float(np.sqrt(2.0 / k)) if k > 0 else math.inf
    # too few rows for the plain test to see a break of the target class at the onset: only the
    # smooth path's fit, which asks for its own power, can claim a glide
    few = crit > GLIDE_BREAK_KS
    if few and (r_ts is None or c_ts is None):
        return False
    third = r.shape[0] // 3
    if third < 2:
        return False
    moves = ks_statistic_sorted(np.sort(r[:third]), np.sort(r[-third:])) > 1.95 * float(np.sqrt(2.0 / third))
    if not (moves or abs(_trend_z(r)) > TREND_Z):
        return False
    if not few and ks_statistic_sorted(np.sort(r[-k:]), np.sort(c[:k])) <= crit:
        return True
    if r_ts is None or c_ts is None:
        return False
    return smooth_through_onset(r, r_ts[::kr][r_ok], c, c_ts[::kc][c_ok], tails=few)


SMOOTH_S = 2 * HOUR_S  # rows either side of the onset a steep input's path is fitted on (at most)
SMOOTH_MIN_ROWS = 200  # rows a side the path's step and kink are judged on (at least)
SMOOTH_STEP_SD = 1.0  # of the reference's standard deviation: an offset the fit must see
SMOOTH_RAMP_SD = 2.0  # of it: the rise within an hour of a ramp from the onset the fit must see


def smooth_through_onset(
    r: np.ndarray, r_ts: np.ndarray, c: np.ndarray, c_ts: np.ndarray, tails: bool = False
) -> bool:
    """Whether a steep input's path runs through the onset unbroken: no step, no kink, nothing else moved.

    On a log shorter than a day an input that follows the clock (a temperature through the
    morning, a ride demand falling after its evening peak) climbs or falls steeply: its last rows
    before the onset and its first rows after it differ by the slope alone, so the plain break
    test of `glides_through_onset` reads every steep wave as a break. A wave is continuous in level
    and in slope: the rows within `SMOOTH_S` of the onset (the shorter side's span at most) are
    fitted by a cubic in time with a step and a change of slope at the onset; the path is smooth
    when neither stands out of the fit's noise (`TREND_Z` standard errors: alpha 0.001) and the
    values less the fitted path are alike before and after (KS under the critical value or the
    drift bar's 0.1: a fifth of the rows moved, a changed spread). A fault jumps or kinks: a
    sensor's offset is a step, a ramp that starts at the onset a change of slope, a fifth of the
    rows moved a change in what is left. The fit must be able to see an offset of the reference's
    standard deviation (`SMOOTH_STEP_SD`, the still-found checkers' offset) and a ramp that
    reaches twice it within an hour (`SMOOTH_RAMP_SD`, the harder suite's steepest gradual drift):
    a few hundred noisy rows a side cannot tell a wave from such a fault, and no claim is made. A
    log of a day or more holds the wave itself (it is fitted, `without_daily_wave`); fewer than
    `SMOOTH_MIN_ROWS` rows a side: no claim. `tails`: the path alone decides (the plain break
    test had too few rows, `glides_through_onset`), so a moved share must also not show beyond
    the earlier rows' tails (`_tails_moved`); not asked otherwise, for a bundled set's tilted rows
    change their shape with the hour and move the tails by the hour alone.
    `r`, `c` finite and in time order, with their timestamps.
    """
    if not (r_ts.size and c_ts.size) or float(c_ts[-1]) - float(r_ts[0]) >= DAY_S:
        return False
    onset = 0.5 * (float(r_ts[-1]) + float(c_ts[0]))
    h = min(SMOOTH_S, onset - float(r_ts[0]), float(c_ts[-1]) - onset)
    lo, hi = int(np.searchsorted(r_ts, onset - h)), int(np.searchsorted(c_ts, onset + h, side="right"))
    if h <= 0 or r.shape[0] - lo < SMOOTH_MIN_ROWS or hi < SMOOTH_MIN_ROWS:
        return False
    v = np.concatenate((r[lo:], c[:hi])).astype(np.float64)
    x = (np.concatenate((r_ts[lo:], c_ts[:hi])) - onset) / h
    after = (x >= 0).astype(np.float64)
    X = np.column_stack((np.ones_like(x), x, x**2, x**3, after, after * x))
    beta, *_ = np.linalg.lstsq(X, v, rcond=None)
    left = v - X @ beta
    dof = v.shape[0] - X.shape[1]
    sigma2 = float(left @ left) / dof
    if not sigma2 > 0:
        return False
    se = np.sqrt(np.maximum(np.diag(np.linalg.pinv(X.T @ X))[4:] * sigma2, 1e-300))
    # an offset of the input's own spread, a ramp that reaches twice it within an hour, must stand out
    spread = float(np.std(r))
    if TREND_Z * float(se[0]) > SMOOTH_STEP_SD * spread or TREND_Z * float(se[1]) * HOUR_S / h > (
        SMOOTH_RAMP_SD * spread
    ):
        return False  # too few or too noisy rows to tell a wave from such a fault: no claim
    if bool((np.abs(beta[4:]) > TREND_Z * se).any()):
        return False  # a step or a change of slope at the onset: a fault's edge
    n_b = r.shape[0] - lo
    lb, la = np.sort(left[:n_b]), np.sort(left[n_b:])
    crit = 1.95 * math.sqrt((lb.size + la.size) / (lb.size * la.size))
    return ks_statistic_sorted(lb, la) < max(crit, LEVEL_KS_BAR) and not (tails and _tails_moved(lb, la))


SMOOTH_TAIL = 0.05  # each tail of the rows before the onset, less the fitted path, a moved share is counted beyond


def _tails_moved(before: np.ndarray, after: np.ndarray) -> bool:
    """Whether more of the rows after the onset lie beyond either tail of the rows before it than chance allows.

    A fifth of the rows moved by two or four standard deviations moves the residuals' KS by about
    a fifth, which a few hundred rows a side (a short log's two hours near the onset) cannot tell
    from chance (critical value ~0.2); the share beyond the earlier rows' 5% tail then rises from
    5% to 13-25%, many standard errors (`two_proportion_se`, `TREND_Z`). `before` and `after` sorted.
    """
    for q, side in ((SMOOTH_TAIL, -1.0), (1.0 - SMOOTH_TAIL, 1.0)):
        edge = float(np.quantile(before, q))
        p_b = float(np.mean(side * before > side * edge))
        p_a = float(np.mean(side * after > side * edge))
        if p_a - p_b > TREND_Z * two_proportion_se(p_b, before.size, p_a, after.size):
            return True
    return False


TREND_Z = 3.29  # a rank correlation with time this many standard errors from 0 (alpha 0.001, two-sided)


def _trend_z(v: np.ndarray) -> float:
    """Spearman's correlation of time-ordered values with their order, in standard errors (ties mid-ranked).

    A steady move over hours is found with far fewer rows than two thirds' KS needs (a bundled
    set's 1,600 morning rows tilting towards the evening: z 4.8, the thirds' KS under its critical value).
    """
    if v.shape[0] < 3:
        return 0.0
    s = np.sort(v)
    mid = (np.searchsorted(s, v, side="left") + np.searchsorted(s, v, side="right")).astype(np.float64)
    mid -= mid.mean()
    order = np.arange(v.shape[0], dtype=np.float64)
    order -= order.mean()
    denom = float(np.sqrt((mid**2).sum() * (order**2).sum()))
    return float((mid * order).sum()) / denom * float(np.sqrt(v.shape[0] - 1)) if denom > 0 else 0.0


DAY_GAP_S = HOUR_S  # a day-ago value is read between reference rows at most this far apart
DAY_STEP_MARGIN = 1.5  # the largest of two or three earlier pairs understates a wander's next move


def _steps_day_over_day(r: np.ndarray, r_ts: np.ndarray, c: np.ndarray, c_ts: np.ndarray, k: int) -> bool:
    """Whether the input's change over a day steps at the onset beyond its earlier stretches' changes.

    A wave moves an input as much across the onset as between earlier stretches, and so does a
    fault that starts at the onset on an input that wanders: a market level read from yesterday's
    snapshot since the onset (the walk's day-old level, within its swings) went unseen once its
    wave was fitted through the onset. A day holds the wave: each row less its value a day
    earlier (read between the reference's neighbouring rows) takes the wave out and leaves a
    wander's slow change, which a fault breaks at the onset (a day-old copy's change falls to
    nothing, an offset adds itself). A step in that change beyond the KS critical value and
    `DAY_STEP_MARGIN` times every earlier pair of stretches' is a step (a walk's day-over-day change
    stepped past the largest of two earlier pairs on 4 of 40 healthy 3-day logs, on none with the
    margin). Needs a day of reference before the stretches: a log of a day or less is judged as before.
    """
    def day_change(v: np.ndarray, ts: np.ndarray) -> np.ndarray:
        ago = ts - DAY_S
        right = np.clip(np.searchsorted(r_ts, ago, side="left"), 1, r_ts.shape[0] - 1)
        gap = r_ts[right] - r_ts[right - 1]
        inside = (ago >= r_ts[0]) & (ago <= r_ts[-1]) & (gap <= DAY_GAP_S)
        return np.where(inside, v - np.interp(ago, r_ts, r), np.nan)

    if r_ts.shape[0] < 2 or c_ts.shape[0] == 0:
        return False
    dr = day_change(r, r_ts)
    dc = day_change(c[:k], c_ts[:k])
    dr, dc = dr[np.isfinite(dr)], dc[np.isfinite(dc)]
    if dc.shape[0] < k // 2 or dr.shape[0] < 2 * k:
        return False
    crit = 1.95 * float(np.sqrt(2.0 / k))
    at = ks_statistic_sorted(np.sort(dr[-k:]), np.sort(dc))
    pairs = min(STEP_PAIRS, dr.shape[0] // k - 1)
    blocks = np.sort(dr[dr.shape[0] - (pairs + 1) * k:].reshape(pairs + 1, k), axis=1)
    before = max(ks_statistic_sorted(blocks[j], blocks[j + 1]) for j in range(pairs))
    return at > crit and at > DAY_STEP_MARGIN * before


WAVE_BINS = 96  # bins of the whole log for the per-bin means the wave is fitted to


def without_daily_wave(
    r: np.ndarray,
    r_ts: np.ndarray,
    c: np.ndarray,
    c_ts: np.ndarray,
    onset: float,
    log_scale: bool = True,
    min_span: float = SHORT_SPAN,
    step: bool = True,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Both windows' values with the log's trend and daily wave taken out; a step at the onset kept.

    On a log of a day or less the current window's hours were never seen before: its evening
    temperatures against the morning's read as a drift (KS 0.5, 'data, temp_c' on a healthy
    1-day log), and the afternoon's highs as out of range. A wave cannot make an edge: the
    per-bin means of the whole log are fitted by a line, four daily harmonics and a step at the
    onset (jointly, so the step does not bend the wave), and each row loses the line and the
    wave at its own time. A shift, a cap or a lag since the onset stays in the values. A positive,
    skewed input (an amount) has its wave taken out on the log scale (`_wave_multiplies`). Logs of
    3-12 hours hold a part of the day: a line and a bend instead of the harmonics (a 10-hour log's
    rows tilted towards the evening read as 'mean radius drifted', KS 0.3, on a healthy log), as
    `rate_beyond_cycle` does for the traffic, and a ramp since the onset is kept with the step (a
    drift that grows for an hour bent the line and the bend towards it: three gradual drifts of the
    harder suite went unseen without it). None below three hours of log (`min_span`, longer for
    a caller that needs it) or when too few bins are filled.
    """
    v = np.concatenate((r, c)).astype(np.float64)
    ok = np.isfinite(v)
    if log_scale and int(ok.sum()) >= 24 * MIN_ROWS_PER_HOUR and _wave_multiplies(v[ok]):  # (`_wave_multiplies`)
        logged = without_daily_wave(np.log(r), r_ts, np.log(c), c_ts, onset, False, min_span, step)
        return None if logged is None else (np.exp(logged[0]), np.exp(logged[1]))
    fitted = daily_wave_fit(r, r_ts, c, c_ts, onset, min_span, step)
    return None if fitted is None else (fitted[0], fitted[1])


def daily_wave_fit(
    r: np.ndarray, r_ts: np.ndarray, c: np.ndarray, c_ts: np.ndarray, onset: float, min_span: float = SHORT_SPAN,
    step: bool = True, whole_day: bool = False,
) -> tuple[np.ndarray, np.ndarray, float] | None:
    """`without_daily_wave` on the values as they are, and the fitted wave's swing over the log's hours.

    The swing is the daily harmonics' peak-to-peak over the hours the log holds (the line left
    out): how far the input moves within a day, the scale a day's weather is measured on
    (`data_checks._a_days_weather`, `day_levels`). Below half a day a line and a bend stand in
    for the wave, and the swing is theirs over the hours held: the part of the day's wave the log
    saw (a 6-hour evening's fall of 8 degrees), never more than the whole day's swing, so a day's
    step measured by it is held to a smaller bar, not a larger one. An input that sits still has
    none, and nothing is measured by it.
    `whole_day`: the log holds only some hours of every day (a shop closed at night), and the
    swing asked for is the whole day's (`whole_day_swing`).
    """
    ts = np.concatenate((r_ts, c_ts))
    v = np.concatenate((r, c)).astype(np.float64)
    ok = np.isfinite(v)
    if int(ok.sum()) < 24 * MIN_ROWS_PER_HOUR:
        return None
    t0, t1 = float(ts.min()), float(ts.max())
    span = t1 - t0
    if span < max(min_span, SHORT_SPAN):
        return None
    b = np.minimum(((ts[ok] - t0) / span * WAVE_BINS).astype(np.int64), WAVE_BINS - 1)
    n = np.bincount(b, minlength=WAVE_BINS).astype(np.float64)
    s = np.bincount(b, weights=v[ok], minlength=WAVE_BINS)
    filled = n >= 5
    if int(filled.sum()) < 24:
        return None
    centres = t0 + (np.arange(WAVE_BINS) + 0.5) * span / WAVE_BINS

    def basis(t: np.ndarray) -> np.ndarray:
        line = (t - t0) / span - 0.5
        if span < WAVE_SPAN:
            # a few hours of a day: the wave is a rise or a fall, a bend at most (as for the rate)
            return np.column_stack([line, line**2])
        angle = 2.0 * np.pi * t / DAY_S
        return np.column_stack([line, np.cos(angle), np.sin(angle), np.cos(2 * angle),
                                np.sin(2 * angle)] + _higher_harmonics(t))

    kept = [np.ones(WAVE_BINS)]
    if step:
        kept.append((centres >= onset).astype(np.float64))
    if step and span < WAVE_SPAN:
        # and a ramp since the onset: a drift that grows for an hour is no bend of the afternoon
        kept.append(np.maximum(centres - onset, 0.0) / span)
    X = np.column_stack(kept + [basis(centres)])[filled]
    w = np.sqrt(n[filled])
    beta, *_ = np.linalg.lstsq(X * w[:, None], (s[filled] / n[filled]) * w, rcond=None)
    flat = v - basis(ts) @ beta[len(kept):]
    # the harmonics alone (the line is the log's trend, no part of a day), at the hours held; below
    # half a day the line and the bend are the part of the day's wave the log holds
    wave_at = 1 if span >= WAVE_SPAN else 0
    wave = basis(centres[filled])[:, wave_at:] @ beta[len(kept) + wave_at:]
    swing = float(wave.max() - wave.min())
    if whole_day and span >= WAVE_SPAN:
        swing = whole_day_swing(np.column_stack(kept)[filled], centres[filled], s[filled] / n[filled], w, swing)
    return flat[: r.shape[0]], flat[r.shape[0]:], swing


WHOLE_DAY_CAP = 2.0  # the whole day's swing read from some of its hours: at most this many times theirs


def whole_day_swing(kept: np.ndarray, centres: np.ndarray, means: np.ndarray, w: np.ndarray, held: float) -> float:
    """The whole day's peak-to-peak of an input whose log holds only some hours of each day: twice the
    amplitude of one daily harmonic fitted (beside `kept`'s level and step, and the log's trend) to
    the per-bin means `means` at times `centres` (weights `w`), never below the swing over the hours
    held (`held`) nor above `WHOLE_DAY_CAP` times it.

    A shop open 08:00-19:00 logs the warm half of the day: the harmonics' peak-to-peak over its open
    hours (5.2 degrees) is the part of the day's swing it saw, not the swing (about 8: the night's
    cool is never logged), and a day's weather measured by it looked like a sensor's offset (cycles
    seed 75, 'outdoor_temp drifted', median 26 -> 28 over a closed night). One harmonic is what the
    open hours can carry across the night; a sinusoid seen over 11 hours of 24 shows at least 0.43
    of its peak-to-peak, and the cap (half) keeps a noisy extrapolation from lifting the bar further.
    """
    t0, span = float(centres.min()), max(float(centres.max() - centres.min()), 1.0)
    angle = 2.0 * np.pi * centres / DAY_S
    X = np.column_stack([kept, (centres - t0) / span - 0.5, np.cos(angle), np.sin(angle)])
    ok = np.isfinite(means)
    if int(ok.sum()) <= X.shape[1]:
        return held
    beta, *_ = np.linalg.lstsq(X[ok] * w[ok, None], means[ok] * w[ok], rcond=None)
    amplitude = float(np.hypot(beta[-2], beta[-1]))
    if not math.isfinite(amplitude):
        return held
    return float(np.clip(2.0 * amplitude, held, WHOLE_DAY_CAP * held))



def _skew(x: np.ndarray) -> float:
    d = x - x.mean()
    sd = float(np.sqrt((d**2).mean()))
    return float((d**3).mean()) / sd**3 if sd > 0 else 0.0


def _wave_multiplies(v: np.ndarray) -> bool:
    """Whether a positive, right-skewed input's daily wave is taken out on the log scale.

    An amount, a session length, a count's rate: lognormal-like values whose spread grows with
    their level, so their daily wave multiplies every row. Taken out additively it leaves the
    evening's wide spread beside the morning's narrow one (a healthy 20-hour payments log read
    as 'amount drifted beyond the daily cycle', KS 0.2, median 27 -> 17). Positive values whose
    logarithm is far less skewed than they are (a lognormal's skew of 3-4 falls to 0) have such a
    wave; a temperature or a symmetric score keep the additive one.
    """
    if v.size == 0 or float(v.min()) <= 0.0:
        return False
    s = v[:: max(1, v.size // 20000)]
    raw, logged = _skew(s), _skew(np.log(s))
    return raw >= 1.0 and abs(logged) < 0.5 * raw


MIN_EARLIER_WINDOWS = 2  # earlier windows of the same hours needed to know an input's own swings
MAX_EARLIER_WINDOWS = 7


def earlier_windows(ref_ts: np.ndarray, onset: float, end: float) -> list[slice]:
    """Reference rows of earlier windows as long as the current one, at the same hours of the day.

    Each is the current window moved back by a whole number of days, far enough to end before the
    onset and not to overlap the one after it (a 6-hour evening window: the evenings before it; a
    4-day window: the 4-day stretches ending 0, 4, 8 ... days before the onset; stretches a day
    apart would be one window's weather seven times), at most seven. Fewer than two inside the
    reference: none (a log of a day or two, a 6-hour log). A reference file of other days (a
    validation set of the week before, ending days before the log starts) holds no rows of the
    copies that fall in the gap after it: those are skipped, not counted (an empty copy had
    dropped every earlier window of such a file, and its days' weather with them).
    """
    span = end - onset
    if ref_ts.size == 0 or span <= 0:
        return []
    out: list[slice] = []
    step = int(np.ceil(span / DAY_S))
    j = step
    while onset - j * DAY_S >= float(ref_ts[0]) and len(out) < MAX_EARLIER_WINDOWS:
        lo, hi = np.searchsorted(ref_ts, [onset - j * DAY_S, end - j * DAY_S], side="left")
        if hi > lo:
            out.append(slice(int(lo), int(hi)))
        j += step
    return out if len(out) >= MIN_EARLIER_WINDOWS else []


def reference_blocks(ref_ts: np.ndarray, onset: float, end: float, whole_days: bool) -> list[slice]:
    """Consecutive blocks of the reference, ending at the onset, as long as the window or shorter.

    The fallback for `earlier_windows` when the window is too long for two earlier copies of it (a
    two-week window on a month's log) or the log too short (the last day of a 3-day log). Rain that
    comes for half a day and stays, a month whose first week was warm: the reference itself moves
    from block to block as much as the window moves from it, and that is the input's weather, not
    a fault. Blocks are as long as the window, at most half the reference; `whole_days` for a
    daily-cycle input (a block of part of the day differs by its hours alone). Fewer than two, or
    a reference under a day (weather needs days to wander; a few hours' blocks hold sampling
    noise): none. Blocks end where the reference ends: at the onset for the log's own rows, days
    before the log for a file of other days (blocks cut back from the onset fell in the gap
    between the two, empty, and the file's three days told nothing of the input's weather).
    """
    if ref_ts.size == 0 or end <= onset:
        return []
    last = min(onset, float(ref_ts[-1]) + 1.0)
    if last - float(ref_ts[0]) < DAY_S:
        return []
    length = min(end - onset, (last - float(ref_ts[0])) / 2.0)
    if whole_days:
        length = np.floor(length / DAY_S) * DAY_S
    if length < (DAY_S if whole_days else HOUR_S):
        return []
    return _blocks_back_from(ref_ts, last, length)


def _blocks_back_from(ref_ts: np.ndarray, last: float, length: float) -> list[slice]:
    """Consecutive blocks of `length` seconds cut back from `last` while the reference holds them
    (at most `MAX_EARLIER_WINDOWS`); fewer than `MIN_EARLIER_WINDOWS`: none."""
    out: list[slice] = []
    hi_t = last
    while hi_t - length >= float(ref_ts[0]) - 1.0 and len(out) < MAX_EARLIER_WINDOWS:  # (a second's rounding)
        lo, hi = np.searchsorted(ref_ts, [hi_t - length, hi_t], side="left")
        out.append(slice(int(lo), int(hi)))
        hi_t -= length
    return out if len(out) >= MIN_EARLIER_WINDOWS else []


SHORT_BLOCK_MIN = HOUR_S  # a block of the reference shorter than this holds sampling noise, not the input's wander


def hour_blocks(ref_ts: np.ndarray, onset: float, end: float) -> list[slice]:
    """Consecutive blocks of a reference of less than a day, ending at the onset, as long as the window.

    `reference_blocks` needs a day of reference (weather needs days to wander), so a log of a few
    hours, or a day's log with the onset in its second half, judged a daily-cycle input with its
    wave taken out against nothing but its whole reference: a drizzle that came for the evening
    after a dry afternoon ('rain_mm drifted beyond the daily cycle', KS 0.55), a temperature a
    degree or two warmer since the afternoon, a bundled set's rows tilted towards the evening. The
    same input's earlier hours wander as much from the rest of its reference: that is its own
    swing (`data_checks._own_swing`), read from blocks as long as the window, at most half the
    reference and an hour at least. An input that sat still before the onset (the harder suite's
    inputs, a sensor's level) shows no such swing, and a step at the onset stays whole. Fewer
    than two blocks: none.
    """
    if ref_ts.size == 0 or end <= onset:
        return []
    last = min(onset, float(ref_ts[-1]) + 1.0)
    first = float(ref_ts[0])
    if last - first >= DAY_S:
        return []  # a day or more: `reference_blocks`
    length = min(end - onset, (last - first) / 2.0)
    if length < SHORT_BLOCK_MIN:
        return []
    return _blocks_back_from(ref_ts, last, length)


LEVEL_BLOCK_S = 12 * HOUR_S  # blocks the log's own level is read in: a day's weather in two halves
LEVEL_BLOCK_MIN_S = SHORT_SPAN  # a shorter block holds a few noisy rows of a quiet hour
LEVEL_BLOCKS_BEFORE = 3  # blocks before the onset: two steps between them at least
LEVEL_SAMPLE = 100_000  # rows of the whole log its level is read from (time-ordered stride sample)
LEVEL_NOISE = 4.0  # a step between blocks below this many of a block median's standard errors is noise


def wanders_through_onset(v: np.ndarray, ts: np.ndarray, onset: float, margin: float) -> bool:
    """Whether the input's level steps across the onset no more than between its own blocks, and nothing else moved.

    Weather wanders from day to day: a warm spell, then a cold one. A window of other days than
    the reference's sits higher or lower than every day the reference holds, above all when the
    reference holds a day or two (the third day of a 3-day log: 'temperature drifted, median
    26 -> 28', KS 0.6, on healthy logs of 36 hours to two weeks) or is a file of other days. The
    log itself tells the two apart: with the daily wave taken out (fitted jointly with a step at
    the onset, which stays in the values, `without_daily_wave`), its level in consecutive blocks
    before the onset, and after it, moves as the weather does; a fault (a sensor's offset, a
    level beyond every day seen) is a step at the onset larger than any of those, and holds
    still after it. True when the level's step across the onset (the last block before against
    the first after it that holds rows: a closed night is skipped) is at most `margin` times the
    largest step between neighbouring blocks elsewhere, or within the sampling noise of a block's
    median, and the values with each block's level taken out are alike before and after the
    onset (KS under the drift bar: a fifth of the rows moved, a changed spread, a cap are left).
    An input that sits still (the harder suite's inputs) keeps any step beyond that noise.
    Blocks are half a day, shorter on a short log (a third of the log before the onset, the
    window at most), never under three hours; too few rows or blocks: False (judged as before).
    `v` and `ts` are the whole log's, in time order.
    """
    steps = level_steps(v, ts, onset)
    if steps is None:
        return False
    at, own, noise, left, crit = steps
    return at <= max(margin * own, noise) and left < max(crit, LEVEL_KS_BAR)


LEVEL_KS_BAR = 0.1  # the drift bar's effect size (`data_checks`): what is left must stay under it


def level_steps(v: np.ndarray, ts: np.ndarray, onset: float) -> tuple[float, float, float, float, float] | None:
    """The wave-free level's blocks of `wanders_through_onset`; None when too few.

    (step across the onset, largest step between neighbouring blocks elsewhere, a block median's
    noise, KS of the values with their block's level taken out before against after the onset,
    that KS's critical value at alpha 0.001).
    """
    k = max(1, ts.shape[0] // LEVEL_SAMPLE)
    v, ts = v[::k].astype(np.float64), ts[::k]
    before, after = onset - float(ts[0]), float(ts[-1]) - onset
    block = min(LEVEL_BLOCK_S, before / LEVEL_BLOCKS_BEFORE, after)
    if block < LEVEL_BLOCK_MIN_S:
        return None
    cut = int(np.searchsorted(ts, onset))
    flat = without_daily_wave(v[:cut], ts[:cut], v[cut:], ts[cut:], onset, log_scale=False)
    if flat is None:
        return None
    f = np.concatenate(flat)
    # (a block of a third of the stretch before the onset is a third of it: floor division of the
    # two floats read 13.4999 h / 4.49997 h as two blocks and left the log unjudged)
    n_before = int(before / block + 1e-6)
    n_after = max(1, int(after / block + 1e-6))
    bounds = np.searchsorted(ts, onset + block * np.arange(-n_before, n_after + 1))
    levels, sizes = np.full(n_before + n_after, math.nan), np.zeros(n_before + n_after, dtype=np.int64)
    for j, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):  # a few blocks, a median each
        x = f[lo:hi]
        x = x[np.isfinite(x)]
        sizes[j] = x.size
        if x.size >= MIN_ROWS_PER_HOUR:
            levels[j] = float(np.median(x))
    prior, later = levels[:n_before], levels[n_before:]
    prior, later = prior[np.isfinite(prior)], later[np.isfinite(later)]  # closed hours: skipped
    # a closed night or weekend empties a block: two levels before the onset (one step) still do
    # when the window's own blocks step twice (a shop's one open day before it, its days after)
    if not (prior.size >= LEVEL_BLOCKS_BEFORE and later.size >= 1) and not (
        prior.size >= LEVEL_BLOCKS_BEFORE - 1 and later.size >= LEVEL_BLOCKS_BEFORE
    ):
        return None
    x = f[:cut]
    x = x[np.isfinite(x)]
    mad = 1.4826 * float(np.median(np.abs(x - np.median(x))))
    noise = LEVEL_NOISE * 1.25 * mad / math.sqrt(float(sizes[sizes >= MIN_ROWS_PER_HOUR].min()))
    # the weather goes on wandering after the onset; a fault's offset holds still at its new level
    own = float(max(np.abs(np.diff(prior)).max(), np.abs(np.diff(later)).max(initial=0.0)))
    # each row less its block's level: what is left of the weather is the noise around it
    row_level = np.full(f.shape[0], math.nan)
    row_level[bounds[0]:bounds[-1]] = np.repeat(levels, np.diff(bounds))
    left = f - row_level
    split = cut - int(bounds[0])
    left = left[bounds[0]:bounds[-1]]
    lb, la = left[:split], left[split:]
    lb, la = np.sort(lb[np.isfinite(lb)]), np.sort(la[np.isfinite(la)])
    if lb.size < MIN_ROWS_PER_HOUR or la.size < MIN_ROWS_PER_HOUR:
        return None
    crit = 1.95 * math.sqrt((lb.size + la.size) / (lb.size * la.size))
    return abs(float(later[0]) - float(prior[-1])), own, noise, ks_statistic_sorted(lb, la), crit


DST_SAMPLE = 100_000  # rows the traffic's hours are counted on
DST_MIN_SIDE_S = DAY_S / 2  # rows on both sides of a change to see its hours move
OPEN_SHARE = 0.25 / 24  # an hour holding a quarter of an even share of the rows is an open hour


def daylight_saving_shift(ts: np.ndarray) -> tuple[float, float] | None:
    """(moment, hours) of a real zone's daylight-saving change the log's traffic follows, if any.

    A service in one local zone opens, peaks and closes at the same local hours before and after
    its zone's change, so in UTC its whole day moves by an hour on a Sunday night: the window's
    first hour of the day is one the reference never had ('unseen hours', its inputs judged
    against a wave instead of the same hours of earlier days) and the same hours of earlier days
    are an hour off. Each real zone change inside the log (`clock_features.zone_changes`) is tried:
    the hours' profile after it, moved by its hour, must match the profile before it at least
    twice as closely as the UTC hours do, or its open hours (a service closed at night) be the
    same hours moved by it.
    """
    from diagnostics.clock_features import zone_changes

    if ts.size < 24 * MIN_ROWS_PER_HOUR:
        return None
    t = np.sort(ts[:: max(1, ts.size // DST_SAMPLE)])
    lo, hi = float(t[0]), float(t[-1])
    if hi - lo < 2 * DST_MIN_SIDE_S:
        return None
    best: tuple[float, float, float] | None = None
    for clock in zone_changes(int(lo // DAY_S), int(hi // DAY_S)):
        if not (lo + DST_MIN_SIDE_S <= clock.at <= hi - DST_MIN_SIDE_S):
            continue
        cut = int(np.searchsorted(t, clock.at))
        before = np.bincount(hour_of_day(t[:cut]), minlength=24) / max(cut, 1)
        after = np.bincount(hour_of_day(t[cut:]), minlength=24) / max(t.size - cut, 1)
        shift = int(round(clock.after - clock.before))
        utc = float(np.abs(before - after).sum())
        local = float(np.abs(before - np.roll(after, shift)).sum())
        # the hours it is open (a B2B day, a restaurant's evening) move whole, whatever the mix of days
        open_b, open_a = before >= OPEN_SHARE, after >= OPEN_SHARE
        moved = int((open_b != open_a).sum()) >= 2 and bool((open_b == np.roll(open_a, shift)).all())
        if (moved or (utc >= 0.1 and local <= utc / 2)) and (best is None or local < best[2]):
            best = (clock.at, float(shift), local)
    return (best[0], best[1]) if best is not None else None


def local_clock(ts: np.ndarray, shift: tuple[float, float] | None) -> np.ndarray:
    """Timestamps moved by the change's hour from its moment on: hours of the day read as the zone's."""
    if shift is None:
        return ts
    return ts + np.where(ts >= shift[0], shift[1] * HOUR_S, 0.0)





DAY_STEP_NEAR_S = 2 * HOUR_S  # rows either side of a boundary inside one local day a step there is read on


class DayLevels(NamedTuple):
    """What `day_levels` reads of an input's wave-free level per local day (see there)."""

    day_step: float  # largest step between neighbouring days' levels (days without rows skipped)
    swing: float  # the fitted daily wave's peak-to-peak over the hours held (or the whole day's, `whole_day`)
    at_onset: float  # step at the onset inside its own local day (NaN: too few rows on a side)
    noise: float  # that step's sampling noise (LEVEL_NOISE standard errors of a median)
    within_day: float  # largest step at other boundaries inside a local day (the wave fit's own error)
    left_ks: float  # KS of the values less their day's level, before against after the onset
    left_crit: float  # its critical value at alpha 0.001


def _step_near(f: np.ndarray, ts: np.ndarray, day: np.ndarray, at: float) -> tuple[float, int]:
    """|median after - median before| of the rows within `DAY_STEP_NEAR_S` of `at` in its local day."""
    lo, mid, hi = np.searchsorted(ts, (at - DAY_STEP_NEAR_S, at, at + DAY_STEP_NEAR_S))
    if mid == 0 or mid == ts.shape[0]:
        return math.nan, 0
    d = day[mid]
    before, after = f[lo:mid][day[lo:mid] == d], f[mid:hi][day[mid:hi] == d]
    n = min(before.size, after.size)
    if n < MIN_ROWS_PER_HOUR:
        return math.nan, n
    return abs(float(np.median(after)) - float(np.median(before))), n


def day_levels(
    v: np.ndarray, ts: np.ndarray, onset: float, offset_h: float, whole_day: bool = False
) -> DayLevels | None:
    """The wave-free level of each local day of the service's clock, and what is left around it.

    Weather joined per local day, a weekend's demand, steps at the service's midnight; a fault steps
    at the minute it starts. With the daily wave taken out (fitted jointly with a step at the
    onset, which stays in the values, `daily_wave_fit`), each local day's median is its level;
    the steps between neighbouring days say how far the days moved, the values less their day's
    level say whether anything else moved, and the step at the onset inside its own day (beside
    the same steps at other hours of the log's days, which measure how well the wave was taken
    out) says whether the input broke there rather than at a midnight. None below half a day of
    log (no day's swing), with fewer than two days of 30 rows, or too few rows on a side of the
    onset. `v` and `ts` are the whole log's, in time order; `offset_h` the log's UTC offset;
    `whole_day`: the log holds only some hours of each day, and the swing is the whole day's
    (`whole_day_swing`).
    """
    k = max(1, ts.shape[0] // LEVEL_SAMPLE)
    v, ts = v[::k].astype(np.float64), ts[::k]
    if ts.shape[0] < 2 or float(ts[-1]) - float(ts[0]) < WAVE_SPAN:
        return None  # a few hours' line and bend are no day's swing to hold several days' steps to
    cut = int(np.searchsorted(ts, onset))
    fitted = daily_wave_fit(v[:cut], ts[:cut], v[cut:], ts[cut:], onset, whole_day=whole_day)
    if fitted is None or not math.isfinite(fitted[2]):
        return None
    f, swing = np.concatenate(fitted[:2]), fitted[2]
    ok = np.isfinite(f)
    f, ts, cut = f[ok], ts[ok], int(ok[:cut].sum())
    day = np.floor((ts / HOUR_S + offset_h) / 24.0).astype(np.int64)
    first = np.flatnonzero(np.r_[True, day[1:] != day[:-1]])  # time order: each day one run of rows
    bounds = np.r_[first, day.shape[0]]
    levels = np.full(first.shape[0], math.nan)
    for j, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):  # a few days, a median each
        if hi - lo >= MIN_ROWS_PER_HOUR:
            levels[j] = float(np.median(f[lo:hi]))
    held = np.isfinite(levels)
    if int(held.sum()) < 2:
        return None
    # (a closed weekend between two days is one step: a walk's three days' move, taken as a day's,
    # let a 6-degree offset from a Sunday's closed morning pass at a swing of 10)
    day_step = float(np.max(np.abs(np.diff(levels[held]))))
    left = f - np.repeat(levels, np.diff(bounds))
    lb, la = left[:cut], left[cut:]
    lb, la = np.sort(lb[np.isfinite(lb)]), np.sort(la[np.isfinite(la)])
    if lb.size < MIN_ROWS_PER_HOUR or la.size < MIN_ROWS_PER_HOUR:
        return None
    crit = 1.95 * math.sqrt((lb.size + la.size) / (lb.size * la.size))
    at, n = _step_near(f, ts, day, onset)
    mad = 1.4826 * float(np.median(np.abs(lb - np.median(lb))))
    noise = LEVEL_NOISE * 1.25 * mad / math.sqrt(max(n, 1))
    # the same step at every other boundary of the log's days (two hours apart, from the onset):
    # how far the wave-free values move inside a day when nothing breaks
    span = int((float(ts[-1]) - float(ts[0])) // DAY_STEP_NEAR_S) + 1
    others = [onset + DAY_STEP_NEAR_S * j for j in range(-span, span + 1) if j]
    within = [x for x in (_step_near(f, ts, day, t)[0] for t in others if ts[0] < t < ts[-1]) if math.isfinite(x)]
    return DayLevels(day_step, swing, at, noise, max(within, default=math.nan), ks_statistic_sorted(lb, la), crit)
