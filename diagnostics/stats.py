"""Two-sample statistics used by the checks, written for sorted arrays.

Every function is a few vectorized passes: sorting (SIMD in numpy 2), `searchsorted`
with sorted keys (numpy reuses the previous bound, so it is close to a merge), `bincount`.
`ks_2samp` and `mann_whitney_u` reproduce `scipy.stats.ks_2samp` / `mannwhitneyu`
(method="auto", two-sided) so runbooks can quote familiar p-values; the engine itself
works from effect sizes because p-values are meaningless at a million rows.
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy import special  # scipy.stats costs ~0.35 s to import; only ks_pvalue needs it

PSI_EPSILON = 1e-4
"""Proportion used in place of an empty bin so PSI stays finite (the common convention)."""

_KS_MAX_EXACT_N = 10_000  # scipy's MAX_AUTO_N: exact p-value when both samples are this small


def _finite_sorted(x: np.ndarray) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64).ravel()
    arr = arr[~np.isnan(arr)]
    return sorted_values(arr, 0)


COUNTING_MIN = 4096  # values below which a comparison sort costs as little as counting
_COUNTING_PROBE = 64  # stride of the sample a column must be integer-valued on before the full check
BUCKET_MIN = 32_768  # values below which the buckets' fixed passes do not pay for the shorter sort
_BUCKETS = 65_536  # 16-bit bucket numbers: numpy's stable argsort of 16-bit keys is a radix sort
_BUCKETS_FILLED_MIN = 256  # buckets the probe must fill (fewer: a few distinct values, np.sort's fast case)
_BUCKET_PROBE = 64  # stride of the sample the buckets' crowding is estimated on
_BUCKET_MAX_DEPTH = 9.0  # log2 of a value's bucket size (distinct values) above which np.sort is as fast


SORT_PROBE = 4096  # values of the stride sample np.sort's speed is timed on
FAST_SORT_NS = 15.0  # ns a value on the probe under which np.sort is a SIMD sort (~4 ns; a scalar one ~30)


def sorted_values(x: np.ndarray, n_nan: int | None = None) -> np.ndarray:
    """The non-NaN values of a 1-d array in ascending order: `np.sort(x)[: x.size - n_nan]`, bit for bit.

    Sorting a window's values is the data checks' largest cost on a large log (two sorts per
    numeric column). How large depends on the CPU, sevenfold: numpy's SIMD sort
    (x86-simd-sort) runs at ~7 ns a value on a window of 700,000 on one of this project's
    machines (session 20's), at ~50 ns on another with AVX-512 too (session 15's), and numpy
    does not say which it dispatches to. So np.sort's speed is timed on a stride probe of the
    column (`comparison_sort_is_fast`): fast, it sorts the column, and the paths below, each
    2-5x slower than it there, are not taken. Slow, columns of whole numbers in a narrow range
    (counts, ages, codes, flags, ratings: a range no wider than the row count) are counted
    instead: `bincount` + `repeat` is a few linear passes, a tenth of the comparison sort, and
    gives the same array (whole numbers below 2**53 are exact in float64; a column holding -0.0
    is left to the sort, so even the sign of a zero is kept). Other large columns are sorted
    through buckets (`_bucket_sorted`, about half the comparison sort's time). Every path gives
    np.sort's array, so the stopwatch sets the cost, never the result. `n_nan` is the count of
    NaNs in `x` when the caller has it (NaNs sort last and are sliced off).
    """
    n = x.shape[0]
    if n_nan is None:
        n_nan = int(np.count_nonzero(np.isnan(x)))
    m = n - n_nan
    if m >= COUNTING_MIN and x.dtype == np.float64 and x.ndim == 1 and not comparison_sort_is_fast(x):
        lo, hi = float(np.fmin.reduce(x)), float(np.fmax.reduce(x))
        counted = _counted_sorted(x, m, n_nan, lo, hi)
        if counted is not None:
            return counted
        if m >= BUCKET_MIN:
            bucketed = _bucket_sorted(x, n_nan)
            if bucketed is not None:
                return bucketed
    return np.sort(x)[:m]


def comparison_sort_is_fast(x: np.ndarray) -> bool:
    """Whether np.sort runs at a SIMD sort's speed here, timed on a stride sample of `x` (its CPU time).

    The sample is the column's own (a sorted or a tied column sorts fast either way, and the
    whole column then does too); a run an interrupt slowed only sends that column down the slower
    paths, whose array is the same.
    """
    probe = x[:: max(1, x.shape[0] // SORT_PROBE)].copy()
    started = time.thread_time_ns()
    probe.sort()
    return bool(time.thread_time_ns() - started < FAST_SORT_NS * probe.shape[0])


def _counted_sorted(x: np.ndarray, m: int, n_nan: int, lo: float, hi: float) -> np.ndarray | None:
    """`sorted_values` by counting, or None when `x` is not whole numbers in a range of at most `m` values."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or max(-lo, hi) > 2.0**53:
        return None
    if lo != math.floor(lo) or hi != math.floor(hi) or hi - lo >= m:
        return None
    probe = x[::_COUNTING_PROBE]
    if bool(np.any(probe - np.floor(probe) > 0)):  # a fraction in the probe (NaN compares False)
        return None
    values = x if n_nan == 0 else x[~np.isnan(x)]
    shifted = values - lo  # exact: whole numbers below 2**53
    codes = shifted.astype(np.int64)
    if not np.array_equal(codes, shifted):
        return None
    counts = np.bincount(codes, minlength=int(hi - lo) + 1)
    if lo <= 0 <= hi:
        # -0.0 == 0.0 would come back as 0.0: leave a column holding a negative zero to the sort
        negatives = int(counts[: int(-lo)].sum())
        if int(np.count_nonzero(np.signbit(values))) != negatives:
            return None
    return np.repeat(np.arange(counts.shape[0], dtype=np.float64) + lo, counts)


def _bucket_sorted(x: np.ndarray, n_nan: int = 0) -> np.ndarray | None:
    """`np.sort(x)[: x.size - n_nan]` of float64 values through 65,536 buckets, or None.

    numpy's comparison sort costs ~50 ns a value on a window of a million (its SIMD sort is
    not used on every CPU); a stable argsort of 16-bit bucket numbers is a radix sort (~6 ns),
    and once the values are gathered bucket by bucket a stable (merge) sort finishes the few
    values of each bucket: 15-35 ns a value in all. The buckets split the 0.1-99.9% range of a
    stride probe in equal widths (values beyond it share the end buckets), so a heavy tail or a
    far outlier does not crowd the rest into a few buckets. The result is `np.sort`'s array
    whatever the buckets: the final pass is a full sort, the buckets only set its speed. So
    only speed is judged on the probe: when a value's bucket would hold ~2**9 distinct values
    or more on average (the merge sort then costs what the comparison sort does: a very heavy
    tail) or the probe fills fewer than 256 buckets (a few distinct values, which the
    comparison sort partitions fast) the column goes to `np.sort`; a bucket of one repeated
    value costs nothing (equal values are a sorted run). A column holding -0.0 does too (a stable
    sort keeps the two zeros' row order, `np.sort` its own: equal values, not the same bits).
    """
    n = x.shape[0]
    probe = np.sort(x[::_BUCKET_PROBE])
    k = probe.shape[0] - int(np.count_nonzero(np.isnan(probe)))  # NaNs sort last
    if k < 2:
        return None
    lo, hi = float(probe[k // 1000]), float(probe[k - 1 - k // 1000])
    span = hi - lo
    scale = (_BUCKETS - 1) / span if span > 0 else math.inf
    if not (math.isfinite(span) and math.isfinite(scale)):
        return None
    keys = _bucket_keys(probe[:k], lo, scale)  # non-decreasing: each bucket's probe values are one run
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    ends = np.append(starts[1:], k)
    if starts.shape[0] < _BUCKETS_FILLED_MIN:
        return None
    counts = ends - starts
    mixed = probe[starts] != probe[ends - 1]  # a bucket of one repeated value is already sorted
    # the average depth (log2 of its bucket's projected size) of a value: the final sort's work
    depth = float(np.dot(counts[mixed], np.log2(counts[mixed] * ((n - n_nan) / k)))) / k
    if depth > _BUCKET_MAX_DEPTH:
        return None
    v = x if n_nan == 0 else x[~np.isnan(x)]
    if float(np.fmin.reduce(v)) <= 0.0 and bool(np.any(np.signbit(v[v == 0.0]))):
        return None
    out = v[np.argsort(_bucket_keys(v, lo, scale), kind="stable")]
    out.sort(kind="stable")
    return out


def _bucket_keys(v: np.ndarray, lo: float, scale: float) -> np.ndarray:
    """Bucket numbers 0..65,535 of values, non-decreasing in the value (ends clipped)."""
    with np.errstate(over="ignore"):  # a value far beyond the probe's range: an end bucket all the same
        t = v - lo
        t *= scale
    np.clip(t, 0.0, _BUCKETS - 1, out=t)
    return t.astype(np.uint16)


def ks_statistic_sorted(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided KS statistic D of two sorted, NaN-free samples.

    The supremum of |F_a - F_b| is reached at an observation, so evaluating both empirical
    CDFs at every observation of both samples (`side="right"` handles ties) is exact.
    """
    n1, n2 = a.shape[0], b.shape[0]
    if n1 == 0 or n2 == 0:
        return float("nan")
    # At a_i (sorted): F_a = (rank of last tie)/n1, F_b = count(b <= a_i)/n2.
    fa_at_a = np.searchsorted(a, a, side="right") / n1 if _has_ties(a) else np.arange(1, n1 + 1) / n1
    fb_at_a = np.searchsorted(b, a, side="right") / n2
    fb_at_b = np.searchsorted(b, b, side="right") / n2 if _has_ties(b) else np.arange(1, n2 + 1) / n2
    fa_at_b = np.searchsorted(a, b, side="right") / n1
    d1 = np.max(np.abs(fa_at_a - fb_at_a))
    d2 = np.max(np.abs(fa_at_b - fb_at_b))
    return float(max(d1, d2))


KS_GRID_POINTS = 1024
"""Grid size of `ks_statistic_bounded`: its error is at most 2 / KS_GRID_POINTS (typically 1 / KS_GRID_POINTS)."""


def ks_statistic_bounded(a: np.ndarray, b: np.ndarray, points: int = KS_GRID_POINTS) -> tuple[float, float]:
    """KS statistic of two sorted, NaN-free samples on a grid, with a guaranteed error bound.

    Returns (d, bound) with d <= D_exact <= d + bound. The grid holds every (n/points)-th order
    statistic of each sample (plus the maxima); both empirical CDFs are evaluated exactly at each
    grid value and just below it. Between two neighbouring grid values x < g, F_a - F_b can exceed
    its value at the ends by at most the mass of either sample strictly inside (x, g), so the
    bound is the largest such open-interval mass, which the grid keeps below ~1/points.
    Cost: O(points * log n) instead of O(n log n); exact (bound 0) for samples below the grid size.
    """
    n1, n2 = a.shape[0], b.shape[0]
    if n1 == 0 or n2 == 0:
        return float("nan"), 0.0
    if n1 + n2 <= 4 * points:
        return ks_statistic_sorted(a, b), 0.0
    pa = np.append(np.arange(0, n1, max(1, n1 // points)), n1 - 1)
    pb = np.append(np.arange(0, n2, max(1, n2 // points)), n2 - 1)
    ka, kb = a[pa], b[pb]
    # both CDFs at every grid value: a sample's own grid values are counted where they stand
    # (`_counts_at`), the other's by binary search; a value in both grids gets the same counts
    _, first = np.unique(np.concatenate((ka, kb)), return_index=True)
    ra, la = (np.concatenate(pair)[first] for pair in zip(_counts_at(a, ka, pa), _counts_at(a, kb), strict=True))
    rb, lb = (np.concatenate(pair)[first] for pair in zip(_counts_at(b, ka), _counts_at(b, kb, pb), strict=True))
    d_at = np.abs(ra / n1 - rb / n2)
    d_below = np.abs(la / n1 - lb / n2)
    d = float(max(d_at.max(), d_below.max()))
    # open intervals (g_{i-1}, g_i): mass = count(< g_i) - count(<= g_{i-1}); below the first
    # grid value (= a min or b min region) the mass is count(< g_0)
    open_a = np.diff(np.concatenate(([0], ra)))[:] - (ra - la)
    open_b = np.diff(np.concatenate(([0], rb)))[:] - (rb - lb)
    bound = float(max(open_a.max() / n1, open_b.max() / n2))
    return d, bound


def _counts_at(s: np.ndarray, keys: np.ndarray, at: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(count of `s` <= key, count of `s` < key) for sorted keys: `searchsorted` right and left, exactly.

    With `at` (the keys are `s[at]`) a key whose neighbours differ from it is counted where it
    stands, and a key of another sample that `s` does not hold has both counts equal: only keys
    inside a run of ties are searched twice. A KS grid's searches into a window of a million
    values cost ~0.1 ms each (a cache miss a step): this halves them or better.
    """
    n = s.shape[0]
    if at is None:
        right = np.searchsorted(s, keys, side="right")
        left = right.copy()
        tied = (right > 0) & (s[np.maximum(right - 1, 0)] == keys)
    else:
        right, left = at + 1, at.copy()
        tied = (at + 1 < n) & (s[np.minimum(at + 1, n - 1)] == keys)
        right[tied] = np.searchsorted(s, keys[tied], side="right")
        tied = (at > 0) & (s[np.maximum(at - 1, 0)] == keys)
    left[tied] = np.searchsorted(s, keys[tied], side="left")
    return right, left


def _has_ties(sorted_x: np.ndarray) -> bool:
    return bool(sorted_x.shape[0] > 1 and np.any(sorted_x[1:] == sorted_x[:-1]))


def ks_pvalue(d: float, n1: int, n2: int) -> tuple[float, float]:
    """p-value of the two-sided KS test as scipy's method="auto" computes it.

    Returns (d, p): like scipy, the exact branch rounds d to the lattice h/lcm(n1, n2).
    """
    if max(n1, n2) <= _KS_MAX_EXACT_N:
        g = math.gcd(n1, n2)
        lcm = (n1 // g) * n2
        h = int(np.round(d * lcm))
        d_lattice = h * 1.0 / lcm
        if h == 0:
            return d_lattice, 1.0
        if n1 == n2:
            p_out = _ks_prob_outside_square(n1, h)
        else:
            p_inside = _ks_prob_inside(n1, n2, g, h)
            p_out = 1.0 - p_inside if p_inside is not None else float("nan")
        # like scipy: an exact result outside [0, 1] (rounding) falls back to the asymptotic one
        if 0.0 <= p_out <= 1.0:
            return d_lattice, float(p_out)
        d = d_lattice
    from scipy.stats import distributions

    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return d, float(np.clip(distributions.kstwo.sf(d, np.round(en)), 0.0, 1.0))


def _ks_prob_outside_square(n: int, h: int) -> float:
    """P(D_{n,n} >= h/n) by the alternating binomial series in Horner form (as scipy evaluates it,
    so the rare rounding overshoot above 1 happens, and is handled, exactly where scipy's does)."""
    total = 0.0
    k = int(np.floor(n / h))
    while k >= 0:
        p1 = 1.0
        for j in range(h):
            p1 = (n - k * h - j) * p1 / (n + k * h + j + 1)
        total = p1 * (1.0 - total)
        k -= 1
    return 2 * total


def _ks_prob_inside(n1: int, n2: int, g: int, h: int) -> float | None:
    """P(every point of a random lattice path keeps |x*n2/g - y*n1/g| < h).

    Column x of the path-count table is the cumulative sum of column x-1 restricted to the
    band, so each column is one `cumsum`; columns are rescaled and the scale kept in log space.
    """
    m, n = (n1, n2) if n1 <= n2 else (n2, n1)  # loop over the shorter side
    mg, ng = m // g, n // g
    # Path point (x, y): x of the m-sample, y of the n-sample; inside iff |x*ng - y*mg| < h.
    ys = np.arange(n + 1)
    col = np.where(np.abs(0 * ng - ys * mg) < h, 1.0, 0.0)
    # Paths may only move up while inside; the first column is 1 until the band is left.
    col = np.cumprod(col)
    log_scale = 0.0
    for x in range(1, m + 1):
        inside = np.abs(x * ng - ys * mg) < h
        lo = int(np.argmax(inside)) if inside.any() else n + 1
        if lo > n:
            return 0.0
        hi = n - int(np.argmax(inside[::-1]))
        new = np.zeros(n + 1)
        new[lo : hi + 1] = np.cumsum(col[lo : hi + 1])
        top = new.max()
        if top <= 0:
            return 0.0
        col = new / top
        log_scale += math.log(top)
    log_total = special.gammaln(m + n + 1) - special.gammaln(m + 1) - special.gammaln(n + 1)
    if col[n] <= 0:
        return 0.0
    return float(math.exp(math.log(col[n]) + log_scale - log_total))


def ks_2samp(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sided two-sample KS test; NaNs dropped; equals scipy.stats.ks_2samp (method="auto")."""
    sa, sb = _finite_sorted(a), _finite_sorted(b)
    if sa.shape[0] == 0 or sb.shape[0] == 0:
        raise ValueError("ks_2samp needs at least one non-NaN value in each sample")
    d = ks_statistic_sorted(sa, sb)
    return ks_pvalue(d, sa.shape[0], sb.shape[0])


def quantile_edges(sorted_reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Inner bin edges at reference quantiles (linear interpolation, duplicates removed)."""
    n = sorted_reference.shape[0]
    if n == 0:
        return np.empty(0)
    pos = np.linspace(0.0, 1.0, bins + 1)[1:-1] * (n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    edges = interpolate_sorted(sorted_reference, lo, hi, frac)
    return np.unique(edges)


TAIL_QUANTILE_MIN = 16_384  # values below which np.quantile's partition costs less than the filter
_TAIL_PROBE = 1024  # values of the stride sample the filters' thresholds are read on


def tail_quantiles(v: np.ndarray, q: np.ndarray) -> np.ndarray:
    """`np.quantile(v, q)` of finite float64 values, bit for bit, for quantiles near either end (1%, 99%).

    np.quantile copies the values and partitions all of them around every index it reads; the
    order statistics of a 1% tail lie among the values below a threshold that a stride sample
    places just beyond them, so one comparison pass per tail keeps ~2% of the values and only those
    are partitioned. A tail is taken only when the pass holds every order statistic it needs (the
    smallest k values are all at or below a threshold at least k values are at or below; the
    largest likewise), else all the values are partitioned; the interpolation is numpy's own
    ("linear": index (n - 1) q, numpy's `_lerp`), so the figures are np.quantile's whichever way.
    """
    n = v.shape[0]
    q = np.asarray(q, dtype=np.float64)
    if (
        n < TAIL_QUANTILE_MIN
        or v.ndim != 1
        or v.dtype != np.float64
        or bool(((q > 0.1) & (q < 0.9)).any())
        or bool(np.isnan(v).any())  # (np.quantile's NaN; the filters would drop it)
    ):
        return np.asarray(np.quantile(v, q))
    virtual = (n - 1) * q
    prev = np.floor(virtual)
    above = virtual >= n - 1  # the maximum (numpy's index -1, both neighbours)
    prev_i = np.where(above, n - 1, prev).astype(np.intp)
    next_i = np.where(above, n - 1, prev + 1).astype(np.intp)
    gamma = virtual - np.where(above, -1.0, prev)
    ranks = np.unique(np.concatenate((prev_i, next_i)))
    low, high = ranks[ranks < n // 2], ranks[ranks >= n // 2]
    step = max(1, n // _TAIL_PROBE)
    probe = np.sort(v[::step])
    at: dict[int, float] = {}
    if low.size:
        need = int(low[-1]) + 1  # the `need` smallest values
        t = probe[min(probe.shape[0] - 1, 2 * need // step + 8)]
        kept = v[v <= t]
        if kept.shape[0] < need:
            return np.asarray(np.quantile(v, q))
        kept.partition(low)
        at.update(zip(low.tolist(), kept[low].tolist(), strict=True))
    if high.size:
        need = n - int(high[0])  # the `need` largest values
        t = probe[max(0, probe.shape[0] - 1 - (2 * need // step + 8))]
        kept = v[v >= t]
        if kept.shape[0] < need:
            return np.asarray(np.quantile(v, q))
        local = high - (n - kept.shape[0])
        kept.partition(local)
        at.update(zip(high.tolist(), kept[local].tolist(), strict=True))
    a = np.array([at[int(i)] for i in prev_i])
    b = np.array([at[int(i)] for i in next_i])
    # numpy's `_lerp`: from the nearer neighbour
    diff = b - a
    out: np.ndarray = np.add(a, diff * gamma)
    np.subtract(b, diff * (1 - gamma), out=out, where=gamma >= 0.5)
    return out


def interpolate_sorted(s: np.ndarray, lo: np.ndarray, hi: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """Linear interpolation between order statistics that tolerates infinite values."""
    with np.errstate(invalid="ignore"):
        mixed = s[lo] * (1.0 - frac) + s[hi] * frac
    return np.asarray(np.where(frac == 0.0, s[lo], np.where(np.isnan(mixed), s[hi], mixed)))


FEW_EDGES = 16  # edges up to which `bins_at` compares values with each edge instead of searching


def bins_at(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each value's bin among sorted `edges`: `np.searchsorted(edges, values, side="left")`, exactly.

    Deciles cut a column of unsorted values into segments or cells (the onset's mix and segment
    scans, the windows' segment bins): a binary search of each value into ten edges mispredicts a
    branch at every step, ~20 ns a value; one comparison pass per edge costs a quarter of that.
    A value's bin is the count of edges below it, i.e. the edges minus those at or above it: a
    NaN is at or above none, so it lands past the last edge, where numpy sorts it. Many edges, NaN
    edges or other dtypes are searched as before.
    """
    if (
        edges.shape[0] > FEW_EDGES
        or edges.dtype != np.float64
        or values.dtype != np.float64
        or values.ndim != 1
        or bool(np.isnan(edges).any())
    ):
        return np.searchsorted(edges, values, side="left")
    values = np.ascontiguousarray(values)  # a stride sample of a column: gathered once, not once an edge
    out = np.full(values.shape[0], edges.shape[0], dtype=np.intp)
    at_or_above = np.empty(values.shape[0], dtype=bool)
    for e in edges:
        np.less_equal(values, e, out=at_or_above)
        out -= at_or_above
    return out


_EXACT_QUOTIENT = 2.0**50  # quotients below this in size: numpy's floored division is the true floor


def floor_quotient(x: np.ndarray, d: float) -> np.ndarray:
    """`x // d` (floats), bit for bit: the bins of a million timestamps at a third of the CPU.

    numpy floors a float quotient through `fmod` (~5 ns a value). The rounded quotient `x / d`
    has the true quotient's floor unless it came out whole (the true one may lie just below a
    whole number); those values, and any beyond 2**50 in size, missing or infinite, are divided
    by numpy's floored division itself. A time bin is rarely whole: only a row exactly on a bin's
    edge (the log's first) goes the slow way.
    """
    q: np.ndarray = np.divide(x, d)
    out: np.ndarray = np.floor(q)
    fast = np.less(q, _EXACT_QUOTIENT)  # (a NaN is not: it goes the slow way)
    fast &= np.greater(q, -_EXACT_QUOTIENT)
    fast &= np.not_equal(out, q)
    del q
    if not fast.all():
        slow = ~fast
        out[slow] = np.floor_divide(x[slow], d)
    return out


def bin_counts_sorted(sorted_x: np.ndarray, inner_edges: np.ndarray) -> np.ndarray:
    """Counts in bins (-inf, e1], (e1, e2], ..., (e_k, inf) of a sorted sample."""
    cum = np.searchsorted(sorted_x, inner_edges, side="right")
    return np.diff(np.concatenate(([0], cum, [sorted_x.shape[0]])))


def psi_from_counts(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Population stability index of two histograms over the same bins."""
    p = reference_counts / max(reference_counts.sum(), 1)
    q = current_counts / max(current_counts.sum(), 1)
    p = np.where(p > 0, p, PSI_EPSILON)
    q = np.where(q > 0, q, PSI_EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """PSI of `current` against `reference` on `bins` reference-quantile bins.

    Bins are (-inf, e1], ..., (e_{k-1}, inf) with e_i the i/bins quantile of the reference
    (linear interpolation); tied edges merge; empty bins count as PSI_EPSILON. NaNs are dropped.
    """
    ref, cur = _finite_sorted(reference), _finite_sorted(current)
    if ref.shape[0] == 0 or cur.shape[0] == 0:
        return float("nan")
    edges = quantile_edges(ref, bins)
    return psi_from_counts(bin_counts_sorted(ref, edges), bin_counts_sorted(cur, edges))


def two_proportion_se(p_ref: float, n_ref: int, p_cur: float, n_cur: int) -> float:
    """Standard error of the difference of two shares under the pooled null (no change): the one
    yardstick the missing-rate, error-rate and replay checks hold a rise to."""
    pooled = (p_ref * n_ref + p_cur * n_cur) / max(n_ref + n_cur, 1)
    return math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / max(n_ref, 1) + 1 / max(n_cur, 1)))


def js_divergence(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    """Jensen–Shannon divergence (base 2, in [0, 1]) of two count vectors."""
    p = p_counts / max(p_counts.sum(), 1)
    q = q_counts / max(q_counts.sum(), 1)
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        kp = np.where(p > 0, p * np.log2(p / m), 0.0)
        kq = np.where(q > 0, q * np.log2(q / m), 0.0)
    return float(max(0.0, 0.5 * (kp.sum() + kq.sum())))


def chi2_homogeneity(p_counts: np.ndarray, q_counts: np.ndarray) -> tuple[float, float, float]:
    """Chi-square test that two count vectors share one distribution.

    Returns (statistic, p-value, Cramér's V); categories empty in both are ignored.
    """
    table = np.vstack([p_counts, q_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    total = table.sum()
    if table.shape[1] < 2 or total == 0 or np.any(table.sum(axis=1) == 0):
        return 0.0, 1.0, 0.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / total
    stat = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    return stat, float(special.chdtrc(dof, stat)), float(math.sqrt(stat / total))


def mann_whitney_u(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sided Mann–Whitney U test (U of `a`, p), as scipy.stats.mannwhitneyu method="auto".

    Exact null distribution when one sample has at most 8 values and there are no ties,
    otherwise the normal approximation with tie and continuity corrections. NaNs are dropped.
    """
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    n1, n2 = x.shape[0], y.shape[0]
    if n1 == 0 or n2 == 0:
        raise ValueError("mann_whitney_u needs at least one non-NaN value in each sample")
    both = np.concatenate([x, y])
    order = np.argsort(both, kind="stable")
    sorted_all = both[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_all[1:] != sorted_all[:-1])))
    tie_sizes: np.ndarray = np.diff(np.append(starts, sorted_all.shape[0])).astype(np.int64)
    avg_rank = starts + (tie_sizes + 1) / 2.0  # 1-based average rank of each tie group
    ranks = np.empty_like(both)
    ranks[order] = np.repeat(avg_rank, tie_sizes)
    u1 = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2.0)
    u = max(u1, n1 * n2 - u1)
    ties = bool(np.any(tie_sizes > 1))
    if (n1 > 8 and n2 > 8) or ties:
        n = n1 + n2
        tie_term = float(np.sum(tie_sizes.astype(np.float64) ** 3 - tie_sizes))
        s = math.sqrt(n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1)))) if n > 1 else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            # all values tied: s == 0 and z is +-inf or nan, exactly as in scipy
            z = np.float64(u - n1 * n2 / 2.0 - 0.5) / np.float64(s)
        p = 2.0 * float(special.ndtr(-z))
    else:
        p = 2.0 * _mwu_exact_sf(int(u), n1, n2)
    return u1, float(np.clip(p, 0.0, 1.0))


def _mwu_exact_sf(u: int, n1: int, n2: int) -> float:
    """P(U >= u) under the null, from the Gaussian-binomial generating function."""
    small, large = min(n1, n2), max(n1, n2)
    size = small * large + 1
    poly = np.zeros(size)
    poly[0] = 1.0
    # prod_{i=1..small} (1 - q^(large+i)) / (1 - q^i)
    for i in range(1, small + 1):
        shift = large + i
        if shift < size:
            poly[shift:] = poly[shift:] - poly[:-shift].copy()
        # divide by (1 - q^i): running sum with stride i
        pad = (-size) % i
        grid = np.concatenate([poly, np.zeros(pad)]).reshape(-1, i)
        poly = np.cumsum(grid, axis=0).ravel()[:size]
    total = poly.sum()
    return float(poly[u:].sum() / total)


def mean_shift_split(values: np.ndarray, lo_frac: float = 0.0, hi_frac: float = 1.0) -> tuple[int, float]:
    """Best single step in the mean of a series: (split index, strength).

    The split maximizes the CUSUM statistic |mean_right - mean_left| * sqrt(k(n-k)/n) over
    positions between `lo_frac` and `hi_frac` of the points. Its strength asks how much better a
    step explains the series than a straight line does: sqrt((SSE_line - SSE_step) / s^2) with s^2
    the residual variance around the step. An abrupt change scores high; a smooth trend (a
    diurnal traffic wave) scores near zero because a line already explains it. NaNs are ignored.
    """
    y = np.asarray(values, dtype=np.float64)
    idx = np.flatnonzero(~np.isnan(y))
    npts = idx.shape[0]
    if npts < 8:
        return 0, 0.0
    yv = y[idx]
    cs = np.cumsum(yv)
    k = np.arange(1, npts)
    mean_l = cs[:-1] / k
    mean_r = (cs[-1] - cs[:-1]) / (npts - k)
    stat = np.abs(mean_r - mean_l) * np.sqrt(k * (npts - k) / npts)
    lo = max(2, int(lo_frac * npts))
    hi = min(npts - 3, int(hi_frac * npts))
    if hi <= lo:
        return 0, 0.0
    stat[:lo] = -1.0
    stat[hi:] = -1.0
    best = int(np.argmax(stat))
    kb = best + 1
    sse_step = float(np.sum((yv[:kb] - mean_l[best]) ** 2) + np.sum((yv[kb:] - mean_r[best]) ** 2))
    x = idx.astype(np.float64)
    xc = x - x.mean()
    slope = float(np.dot(xc, yv - yv.mean()) / max(np.dot(xc, xc), 1e-12))
    sse_line = float(np.sum((yv - yv.mean() - slope * xc) ** 2))
    s2 = sse_step / max(npts - 3, 1)
    gain = max(sse_line - sse_step, 0.0)
    if s2 <= 0:
        return int(idx[kb]), (float("inf") if gain > 0 else 0.0)
    return int(idx[kb]), float(math.sqrt(gain / s2))


def binomial_loglik(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Log likelihood of `k` events in `n` trials at their own rate k / n (0 for empty parts)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, k / np.maximum(n, 1e-12), 0.0)
        a = np.where(k > 0, k * np.log(np.maximum(p, 1e-300)), 0.0)
        b = np.where(n - k > 0, (n - k) * np.log(np.maximum(1.0 - p, 1e-300)), 0.0)
    return np.asarray(a + b)


def rate_increase_split(
    hits: np.ndarray, totals: np.ndarray, lo_frac: float = 0.0, hi_frac: float = 1.0
) -> tuple[int, float]:
    """Best single rise in a rate of rare events per bin: (split index, strength).

    For rare events (the share of extreme losses) a Gaussian residual variance pooled over the
    series understates how quiet the series was before the step; the binomial likelihood ratio
    of "one rate" against "a lower rate, then a higher one" does not. Strength is sqrt(2 * log
    likelihood ratio) of the best split, comparable to a z score; only increases count.
    """
    h = np.asarray(hits, dtype=np.float64)
    t = np.asarray(totals, dtype=np.float64)
    nb = h.shape[0]
    lo = max(1, int(lo_frac * nb))
    hi = min(nb - 1, int(hi_frac * nb))
    if hi <= lo or t.sum() <= 0:
        return 0, 0.0
    ch, ct = np.cumsum(h), np.cumsum(t)
    hl, tl = ch[lo - 1 : hi - 1], ct[lo - 1 : hi - 1]
    hr, tr = ch[-1] - hl, ct[-1] - tl
    whole = float(binomial_loglik(np.array([ch[-1]]), np.array([ct[-1]]))[0])
    llr = binomial_loglik(hl, tl) + binomial_loglik(hr, tr) - whole
    rising = (hr / np.maximum(tr, 1e-12)) > (hl / np.maximum(tl, 1e-12))
    valid = rising & (tl > 0) & (tr > 0)
    if not valid.any():
        return 0, 0.0
    llr = np.where(valid, llr, -1.0)
    best = int(np.argmax(llr))
    return lo + best, float(math.sqrt(max(2.0 * float(llr[best]), 0.0)))


def mean_shift_rows(
    values: np.ndarray, lo_frac: float = 0.0, hi_frac: float = 1.0, *, rising: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """`mean_shift_split` for every row of a matrix at once: (split index, strength) per row.

    Rows are series over the same bins (NaN = an empty bin); for each row the step between
    valid points that maximizes the CUSUM statistic, and its strength as a step-over-a-line
    gain in residual standard deviations, exactly as `mean_shift_split` scores one series. With
    ``rising`` only increases count (a falling step scores 0). Vectorized over rows and splits:
    a scan over hundreds of per-segment loss series costs a few cumulative sums.
    """
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 2 or y.shape[1] == 0:
        raise ValueError("mean_shift_rows needs a 2-D matrix with at least one column")
    rows, cols = y.shape
    valid = np.isfinite(y)
    yz = np.where(valid, y, 0.0)
    x = np.broadcast_to(np.arange(cols, dtype=np.float64), y.shape)
    xz = np.where(valid, x, 0.0)
    npts = valid.sum(axis=1).astype(np.float64)
    k = np.cumsum(valid, axis=1).astype(np.float64)  # valid points up to and including each bin
    s1 = np.cumsum(yz, axis=1)
    s2 = np.cumsum(yz * yz, axis=1)
    n_all = npts[:, None]
    t1, t2 = s1[:, -1:], s2[:, -1:]
    # a split after bin j: left = valid points up to j (k of them), right = the rest; the right
    # part must start at a valid point (the onset is the first bin after the step)
    nxt_valid = np.zeros_like(valid)
    nxt_valid[:, :-1] = valid[:, 1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_l = s1 / k
        mean_r = (t1 - s1) / (n_all - k)
        diff = mean_r - mean_l
        stat = (diff if rising else np.abs(diff)) * np.sqrt(k * (n_all - k) / n_all)
    lo = np.maximum(2, np.floor(lo_frac * npts))[:, None]
    hi = np.minimum(npts - 3, np.floor(hi_frac * npts))[:, None]
    # mean_shift_split's split at valid index kb keeps kb points on the left (kb = best + 1)
    allowed = nxt_valid & (k >= lo + 1) & (k <= hi) & (k >= 1) & (n_all - k >= 1)
    stat = np.where(allowed & np.isfinite(stat), stat, -np.inf)
    best = np.argmax(stat, axis=1)
    ok = (npts >= 8) & np.isfinite(stat[np.arange(rows), best]) & (hi[:, 0] > lo[:, 0])
    r = np.arange(rows)
    kb = k[r, best]
    sl, ql = s1[r, best], s2[r, best]
    sr, qr = t1[:, 0] - sl, t2[:, 0] - ql
    with np.errstate(invalid="ignore", divide="ignore"):
        sse_step = (ql - sl * sl / kb) + (qr - sr * sr / (npts - kb))
        sx = xz.sum(axis=1)
        sxx = (xz * xz).sum(axis=1)
        sxy = (xz * yz).sum(axis=1)
        sxx_c = sxx - sx * sx / npts
        sxy_c = sxy - sx * t1[:, 0] / npts
        syy_c = t2[:, 0] - t1[:, 0] ** 2 / npts
        sse_line = syy_c - np.where(sxx_c > 1e-12, sxy_c * sxy_c / np.maximum(sxx_c, 1e-12), 0.0)
        s2_res = sse_step / np.maximum(npts - 3, 1)
        gain = np.maximum(sse_line - sse_step, 0.0)
        strength = np.where(s2_res > 0, np.sqrt(gain / s2_res), np.where(gain > 0, np.inf, 0.0))
    strength = np.where(ok, strength, 0.0)
    split = np.where(ok, best + 1, 0)
    return split.astype(np.int64), strength
