"""The statistics against scipy (to 1e-9) and hand-computed cases."""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs

from diagnostics import js_divergence, ks_2samp, mann_whitney_u, psi
from diagnostics.stats import chi2_homogeneity, ks_statistic_bounded, ks_statistic_sorted, mean_shift_split

# values on a coarse grid so ties are common; NaN mixed in
_value = hs.one_of(
    hs.integers(-6, 6).map(lambda v: v / 2.0),
    hs.floats(-50, 50, allow_nan=False, allow_infinity=False),
    hs.just(float("nan")),
)
_sample = hs.lists(_value, min_size=1, max_size=120)


def _has_finite(xs: list[float]) -> bool:
    return any(not math.isnan(x) for x in xs)


@settings(max_examples=300, deadline=None)
@given(_sample, _sample)
def test_ks_matches_scipy_with_ties_and_nans(a: list[float], b: list[float]) -> None:
    if not (_has_finite(a) and _has_finite(b)):
        return
    d, p = ks_2samp(np.array(a), np.array(b))
    ref = st.ks_2samp(np.array(a), np.array(b), nan_policy="omit")
    assert d == pytest.approx(float(ref.statistic), abs=1e-9)
    assert p == pytest.approx(float(ref.pvalue), abs=1e-9)


@pytest.mark.parametrize(
    ("n1", "n2", "shift"), [(500, 700, 0.0), (3000, 1999, 0.05), (8000, 10000, 0.02), (12000, 20000, 0.01)]
)
def test_ks_matches_scipy_on_larger_samples(n1: int, n2: int, shift: float) -> None:
    rng = np.random.default_rng(n1)
    a = np.round(rng.normal(size=n1), 2)
    b = np.round(rng.normal(shift, size=n2), 2)
    d, p = ks_2samp(a, b)
    ref = st.ks_2samp(a, b)
    assert d == pytest.approx(float(ref.statistic), abs=1e-9)
    assert p == pytest.approx(float(ref.pvalue), abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    hs.integers(5_000, 120_000),
    hs.integers(5_000, 120_000),
    hs.integers(0, 3),
    hs.floats(0, 0.3),
    hs.integers(0, 2**31),
)
def test_bounded_ks_brackets_the_exact_statistic(n1: int, n2: int, decimals: int, shift: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = np.sort(np.round(rng.normal(size=n1), decimals))
    b = np.sort(np.round(rng.normal(shift, 1.3, size=n2), decimals))
    d, bound = ks_statistic_bounded(a, b, points=1024)
    exact = ks_statistic_sorted(a, b)
    assert d - 1e-12 <= exact <= d + bound + 1e-12
    assert bound <= 2.0 / 1024 + 1e-12  # every open grid interval holds < n/points of either sample


def _ks_on_grid_by_search(a: np.ndarray, b: np.ndarray, points: int) -> tuple[float, float]:
    """The bounded KS with all four counts by `np.searchsorted` at every grid value (the plain computation)."""
    grid = np.unique(np.concatenate([a[:: max(1, a.size // points)], a[-1:], b[:: max(1, b.size // points)], b[-1:]]))
    ra, la = np.searchsorted(a, grid, side="right"), np.searchsorted(a, grid, side="left")
    rb, lb = np.searchsorted(b, grid, side="right"), np.searchsorted(b, grid, side="left")
    d = float(max(np.abs(ra / a.size - rb / b.size).max(), np.abs(la / a.size - lb / b.size).max()))
    open_a = np.diff(np.concatenate(([0], ra))) - (ra - la)
    open_b = np.diff(np.concatenate(([0], rb))) - (rb - lb)
    return d, float(max(open_a.max() / a.size, open_b.max() / b.size))


@settings(max_examples=80, deadline=None)
@given(
    hs.integers(3_000, 60_000),
    hs.integers(3_000, 60_000),
    hs.sampled_from(["continuous", "tenths", "few", "shared", "one_value_each"]),
    hs.sampled_from([64, 1024]),
    hs.integers(0, 2**31),
)
def test_bounded_ks_counts_equal_the_plain_searches(n1: int, n2: int, shape: str, points: int, seed: int) -> None:
    """Counting a sample's own grid values where they stand gives the searches' counts: the same d and bound."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n1), rng.normal(0.2, 1.3, size=n2)
    if shape == "tenths":
        a, b = np.round(a, 1), np.round(b, 1)
    elif shape == "few":
        a, b = rng.integers(0, 4, n1).astype(float), rng.integers(1, 6, n2).astype(float)
    elif shape == "shared":  # the same values in both samples, many ties across them
        pool = rng.normal(size=500)
        a, b = rng.choice(pool, n1), rng.choice(pool, n2)
    elif shape == "one_value_each":
        a, b = np.full(n1, 1.0), np.full(n2, 2.0)
    a, b = np.sort(a), np.sort(b)
    if n1 + n2 <= 4 * points:
        return
    assert ks_statistic_bounded(a, b, points) == _ks_on_grid_by_search(a, b, points)


@settings(max_examples=300, deadline=None)
@given(_sample, _sample)
def test_mann_whitney_matches_scipy(a: list[float], b: list[float]) -> None:
    x = np.array([v for v in a if not math.isnan(v)])
    y = np.array([v for v in b if not math.isnan(v)])
    if x.size == 0 or y.size == 0:
        return
    u, p = mann_whitney_u(x, y)
    ref = st.mannwhitneyu(x, y)
    assert u == pytest.approx(float(ref.statistic), abs=1e-9)
    assert p == pytest.approx(float(ref.pvalue), abs=1e-9)


@pytest.mark.parametrize(("n1", "n2"), [(3, 5), (8, 8), (5, 40), (1, 7)])
def test_mann_whitney_exact_branch_matches_scipy(n1: int, n2: int) -> None:
    rng = np.random.default_rng(n1 * 100 + n2)
    for _ in range(20):
        x, y = rng.normal(size=n1), rng.normal(0.5, size=n2)
        u, p = mann_whitney_u(x, y)
        ref = st.mannwhitneyu(x, y)
        assert (u, p) == (pytest.approx(float(ref.statistic), abs=1e-9), pytest.approx(float(ref.pvalue), abs=1e-9))


def test_psi_hand_computed_case() -> None:
    # reference 0..99: deciles at 9.9, 19.8, ... so each bin holds 10 reference values
    reference = np.arange(100, dtype=float)
    # current: 20 values in the first bin, 0 in the second, 10 in each of the other eight
    current = np.concatenate([np.linspace(0, 9, 20), np.arange(20, 100, dtype=float)])
    p = np.full(10, 0.1)
    q = np.array([0.2, 0.0] + [0.1] * 8)
    q_floor = np.where(q > 0, q, 1e-4)
    expected = float(np.sum((q_floor - p) * np.log(q_floor / p)))
    assert psi(reference, current) == pytest.approx(expected, abs=1e-12)
    # = 0.1*ln 2 + (1e-4 - 0.1)*ln(1e-3)
    assert expected == pytest.approx(0.1 * math.log(2) + (1e-4 - 0.1) * math.log(1e-3), abs=1e-12)
    assert psi(reference, reference) == pytest.approx(0.0, abs=1e-12)


def test_psi_ignores_nans_and_merges_tied_edges() -> None:
    reference = np.array([0.0] * 50 + [1.0] * 50 + [np.nan] * 10)
    current = np.array([0.0] * 25 + [1.0] * 75)
    # tied deciles collapse to edges {0, 1}: bins (-inf,0], (0,1], (1,inf) -> p=(.5,.5,0) q=(.25,.75,0)
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert psi(reference, current) == pytest.approx(expected, abs=1e-12)


def test_chi2_and_js_against_references() -> None:
    p = np.array([30, 50, 20])
    q = np.array([20, 40, 60])
    stat, pvalue, _ = chi2_homogeneity(p, q)
    ref = st.chi2_contingency(np.vstack([p, q]), correction=False)
    assert stat == pytest.approx(ref.statistic, rel=1e-12)
    assert pvalue == pytest.approx(ref.pvalue, rel=1e-9)
    from scipy.spatial.distance import jensenshannon

    assert js_divergence(p, q) == pytest.approx(jensenshannon(p, q, base=2) ** 2, abs=1e-12)
    assert js_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    assert js_divergence(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)


def test_mean_shift_split_finds_a_step_and_ignores_a_smooth_wave() -> None:
    rng = np.random.default_rng(0)
    step = 25 + rng.normal(0, 5, 400)
    step[260:] *= 0.5
    at, z = mean_shift_split(step)
    assert abs(at - 260) <= 2 and z > 10
    # a diurnal wave moving the level by as much as the step, smoothly, scores far lower
    wave = 25 * (1 - 0.5 * np.linspace(0, 1, 400)) + rng.normal(0, 5, 400)
    assert mean_shift_split(wave)[1] < z / 3


def test_auc_matches_sklearn_with_ties() -> None:
    from sklearn.metrics import roc_auc_score

    from diagnostics.context import auc

    rng = np.random.default_rng(3)
    for _ in range(20):
        y = (rng.random(400) < 0.3).astype(float)
        score = np.round(rng.random(400) + 0.4 * y, 1)
        assert auc(score, y) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a.view(np.int64), b.view(np.int64)))


@settings(max_examples=80, deadline=None)
@given(
    hs.integers(4096, 20_000),
    hs.integers(-50, 50),
    hs.integers(1, 300),
    hs.floats(0, 0.3),
    hs.sampled_from(["whole", "fraction_off_probe", "negative_zero", "wide", "huge", "inf", "continuous"]),
    hs.integers(0, 2**31),
    hs.booleans(),
)
def test_sorted_values_equals_numpy_sort_bit_for_bit(
    n: int, lo: int, width: int, nan_share: float, twist: str, seed: int, fast_sort: bool
) -> None:
    """Counting (whole numbers in a narrow range) or sorting, whatever the stopwatch said of np.sort,
    the array is np.sort's, NaNs sliced off."""
    from diagnostics import stats
    from diagnostics.stats import sorted_values

    rng = np.random.default_rng(seed)
    x = rng.integers(lo, lo + width, n).astype(np.float64)
    if twist == "fraction_off_probe":
        x[1 + rng.integers(0, 63)] += 0.5  # off the probe's stride: only the full check sees it
    elif twist == "negative_zero":
        x[rng.integers(0, n)] = -0.0
    elif twist == "wide":
        x[0] = lo + 10 * n  # a range wider than the rows: no counting
    elif twist == "huge":
        x[0] = 2.0**60
    elif twist == "inf":
        x[rng.integers(0, n)] = np.inf
    elif twist == "continuous":
        x = rng.normal(lo, width, n)
    x[rng.random(n) < nan_share] = np.nan
    n_nan = int(np.isnan(x).sum())
    expected = np.sort(x)[: n - n_nan]
    with mock.patch.object(stats, "comparison_sort_is_fast", lambda _: fast_sort):
        assert _same_bits(sorted_values(x, n_nan), expected)
        assert _same_bits(sorted_values(x), expected)


def _sizes_sorted_by_numpy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the arrays `stats` hands to np.sort from now on (the call goes through)."""
    from diagnostics import stats

    calls: list[int] = []
    real = np.sort

    def spy(a: np.ndarray, *args: object, **kwargs: object) -> np.ndarray:
        calls.append(a.shape[0])
        return real(a, *args, **kwargs)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(stats.np, "sort", spy)
    return calls


def test_a_fast_comparison_sort_sorts_every_column_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where np.sort is a SIMD sort (~7 ns a value against the buckets' 30 and counting's 5, session 20's
    machine) every large column goes to it once, whole numbers and continuous alike: no counting, no buckets."""
    from diagnostics import stats

    real = np.sort
    monkeypatch.setattr(stats, "comparison_sort_is_fast", lambda _: True)
    slower: list[str] = []
    monkeypatch.setattr(stats, "_counted_sorted", lambda *a: slower.append("counted"))
    monkeypatch.setattr(stats, "_bucket_sorted", lambda *a: slower.append("buckets"))
    calls = _sizes_sorted_by_numpy(monkeypatch)
    rng = np.random.default_rng(0)
    ages = rng.integers(18, 90, 50_000).astype(np.float64)
    x = rng.normal(size=100_000)
    x[::10] = np.nan
    assert _same_bits(stats.sorted_values(ages, 0), real(ages))
    assert _same_bits(stats.sorted_values(x), real(x)[:90_000])
    assert calls == [50_000, 100_000]
    assert slower == []


def test_comparison_sort_is_timed_on_a_probe_of_the_column(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stopwatch sorts a stride sample of ~SORT_PROBE values, not the column, and answers a bool."""
    from diagnostics import stats

    sorted_sizes: list[int] = []
    real_sort = np.ndarray.sort

    class Probe(np.ndarray):
        def sort(self, *args: object, **kwargs: object) -> None:
            sorted_sizes.append(self.shape[0])
            real_sort(self, *args, **kwargs)  # type: ignore[arg-type]

    x = np.random.default_rng(2).normal(size=1_000_000).view(Probe)
    assert isinstance(stats.comparison_sort_is_fast(x), bool)
    assert sorted_sizes and max(sorted_sizes) <= 2 * stats.SORT_PROBE


def test_sorted_values_counts_whole_numbers_instead_of_sorting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where np.sort is slow (~50 ns a value, session 15's machine) a column of whole numbers never
    reaches np.sort; a continuous one does."""
    from diagnostics import stats

    real = np.sort
    monkeypatch.setattr(stats, "comparison_sort_is_fast", lambda _: False)
    calls = _sizes_sorted_by_numpy(monkeypatch)
    rng = np.random.default_rng(0)
    ages = rng.integers(18, 90, 50_000).astype(np.float64)
    assert _same_bits(stats.sorted_values(ages, 0), real(ages))
    assert calls == []
    stats.sorted_values(rng.normal(size=5_000), 0)  # below BUCKET_MIN: the comparison sort
    assert calls == [5_000]


def test_large_continuous_columns_are_sorted_through_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where np.sort is slow, above BUCKET_MIN a continuous column reaches np.sort only as its probe; a
    column of a few values, one holding -0.0 and one of a tail too heavy for equal-width buckets sort whole."""
    from diagnostics import stats

    real = np.sort
    monkeypatch.setattr(stats, "comparison_sort_is_fast", lambda _: False)
    calls = _sizes_sorted_by_numpy(monkeypatch)
    rng = np.random.default_rng(1)
    n = 100_000
    x = rng.normal(size=n)
    assert _same_bits(stats.sorted_values(x, 0), real(x))
    assert calls and max(calls) < n
    few = rng.choice([0.5, 1.5, 2.25], n)
    zero = rng.normal(size=n)
    zero[7] = -0.0
    heavy = np.exp(rng.normal(0.0, 6.0, n))  # log-normal, sigma 6: nearly every value in the first buckets
    for column in (few, zero, heavy):
        calls.clear()
        assert _same_bits(stats.sorted_values(column, 0), real(column))
        assert calls[-1] == n


@settings(max_examples=60, deadline=None)
@given(
    hs.integers(32_768, 120_000),
    hs.floats(0, 0.3),
    hs.sampled_from(
        ["normal", "lognormal", "ties", "sorted", "reversed", "outliers", "inf", "negative_zero", "tiny_range", "mixed",
         "extremes"]
    ),
    hs.integers(0, 2**31),
)
def test_bucket_sort_equals_numpy_sort_bit_for_bit(n: int, nan_share: float, shape: str, seed: int) -> None:
    """Through buckets or not, a large column's sorted values are np.sort's, NaNs sliced off."""
    from diagnostics.stats import _bucket_sorted, sorted_values

    rng = np.random.default_rng(seed)
    x = {
        "normal": lambda: rng.normal(3.0, 2.0, n),
        "lognormal": lambda: rng.lognormal(3.0, 1.2, n),
        "ties": lambda: np.round(rng.normal(50.0, 10.0, n), 1),
        "sorted": lambda: np.sort(rng.uniform(0.0, 1e9, n)),
        "reversed": lambda: np.sort(rng.uniform(-5.0, 5.0, n))[::-1].copy(),
        "outliers": lambda: np.where(rng.random(n) < 0.001, 1e12, rng.normal(size=n)),
        "inf": lambda: np.where(rng.random(n) < 0.01, np.inf, rng.normal(size=n)),
        "negative_zero": lambda: np.where(rng.random(n) < 0.01, -0.0, rng.normal(size=n)),
        "tiny_range": lambda: 1.0 + rng.integers(0, 5000, n) * np.finfo(np.float64).eps,
        "mixed": lambda: np.where(rng.random(n) < 0.3, 0.0, rng.exponential(size=n)),
        "extremes": lambda: np.where(rng.random(n) < 0.0005, rng.choice([-1.7e308, 1.7e308], n), rng.normal(size=n)),
    }[shape]()
    x[rng.random(n) < nan_share] = np.nan
    n_nan = int(np.isnan(x).sum())
    expected = np.sort(x)[: n - n_nan]
    assert _same_bits(sorted_values(x, n_nan), expected)
    bucketed = _bucket_sorted(x, n_nan)
    assert bucketed is None or _same_bits(bucketed, expected)


def test_daily_cycle_share_with_the_hours_given_equals_computing_them() -> None:
    """The hours a caller computed once per log give the share the timestamps give, NaNs or not."""
    from diagnostics.phase import daily_cycle_share, hour_of_day

    rng = np.random.default_rng(3)
    ts = np.sort(rng.uniform(0.0, 3 * 86400.0, 20_000))
    wave = np.sin(2 * np.pi * ts / 86400.0) + rng.normal(0.0, 0.5, ts.size)
    holed = wave.copy()
    holed[rng.random(ts.size) < 0.1] = np.nan
    for values in (wave, holed):
        share = daily_cycle_share(values, ts)
        assert share > 0.3
        assert daily_cycle_share(values, ts, hour_of_day(ts)) == share
    # the hours passed are the ones used (a caller holding another clock's hours gets those)
    assert daily_cycle_share(wave, ts, np.zeros(ts.size, dtype=np.int64)) < 1e-9
