"""A margin under the 1M x 50 diagnosis's 2x floor, every answer unchanged (issue-25a): each shortcut
against the plain computation it replaces, bit for bit, missing and infinite values included."""

from __future__ import annotations

import numpy as np
import pytest

from diagnostics import clock_features, onset, phase, population_shift, replay, stale_values, value_grid
from diagnostics.log import Categorical
from diagnostics.phase import hour_of_day
from diagnostics.stats import floor_quotient, sorted_values, tail_quantiles


def _same_bits(got: np.ndarray, want: np.ndarray) -> bool:
    return got.dtype == want.dtype and got.shape == want.shape and np.array_equal(
        np.ascontiguousarray(got).view(np.uint8), np.ascontiguousarray(want).view(np.uint8)
    )


def _awkward_times(seed: int) -> np.ndarray:
    """Epoch seconds of a log, then values a log never holds but a reference without time or a bad
    row might: missing, infinite, signed zeros, huge, tiny, negative, exactly on hours and days."""
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.uniform(1.79e9, 1.79e9 + 3 * 86_400, 5_000))
    edges = np.arange(-50, 50, dtype=np.float64) * 3_600.0 + 1.79e9
    odd = [np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, -5e-324, -1.0, -3_600.0, -3_599.5, 1e20, -1e20,
           2.0**52 * 3_600.0, 2.0**63 * 3_600.0, -(2.0**70), 1e300, -1e300, 1.79e308]
    return np.concatenate([ts, edges, np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf), odd])


@pytest.mark.parametrize("seed", range(4))
def test_hour_of_day_is_the_float_expression(seed: int) -> None:
    ts = _awkward_times(seed)
    for x in (ts, ts[::3], ts[:5_000], np.empty(0), ts[5_000:]):
        with np.errstate(invalid="ignore"):
            want = (np.floor(x / 3_600.0) % 24).astype(np.int64)
            got = hour_of_day(x)
        assert _same_bits(got, want)


def test_hour_of_day_warns_only_where_the_float_expression_does() -> None:
    with np.errstate(invalid="raise"):
        hour_of_day(np.array([1e300, 2.0**70, -1e300, 5.0, 1.79e9]))  # huge but finite: no invalid cast
        with pytest.raises(FloatingPointError):
            hour_of_day(np.array([1.79e9, np.nan]))


@pytest.mark.parametrize("d", [3_600.0, 600.0, 86_400.0, 0.1, 1 / 3, 7.3, 1e-9, 3.0])
def test_floor_quotient_is_numpys_floored_division(d: float) -> None:
    rng = np.random.default_rng(int(d * 1000) % 97)
    ts = _awkward_times(int(d) % 5)
    whole = np.arange(-2_000, 2_000, dtype=np.float64) * d
    wide = rng.normal(size=20_000) * 10.0 ** rng.integers(-12, 20, 20_000)
    for x in (ts - 1.79e9, ts, whole, np.nextafter(whole, np.inf), np.nextafter(whole, -np.inf), wide, wide[::7],
              np.empty(0), np.array([2.0**51 * d + 0.5 * d, -(2.0**51) * d - 0.5 * d, 2.0**50 * d, np.nan])):
        with np.errstate(all="ignore"):
            want = x // d
            got = floor_quotient(x, d)
        assert _same_bits(got, want)


def _plain_bin_means(ts: np.ndarray, v: np.ndarray, start: float, n_bins: int) -> tuple[np.ndarray, np.ndarray, float]:
    """`stale_values._bin_means` until issue-25a: every input's rows masked and binned afresh."""
    ok = np.isfinite(v)
    b = ((ts[ok] - start) // stale_values.BIN_S).astype(np.int64)
    keep = (b >= 0) & (b < n_bins)
    b, x = b[keep], v[ok][keep]
    n = np.bincount(b, minlength=n_bins).astype(np.float64)
    s = np.bincount(b, weights=x, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.where(n > 0, s / n, np.nan)
    within = float(((x - m[b]) ** 2).sum() / max(x.size - int((n > 0).sum()), 1))
    return m, n, within


@pytest.mark.parametrize("seed", range(6))
def test_the_ten_minute_means_as_the_plain_masks(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 30_000
    ts = np.sort(rng.uniform(0.0, 2 * 86_400.0, n)) + 1.79e9
    start = float(ts[0]) + (0.0 if seed % 2 else 1_800.0)  # rows before the first bin when it starts later
    n_bins = int((float(ts[-1]) - start) // stale_values.BIN_S) + 1 - (seed % 3)  # and after the last
    every_row = stale_values._EveryRow(ts, start)
    full = rng.normal(20.0, 5.0, n)
    gaps = full.copy()
    gaps[rng.random(n) < 0.05] = np.nan
    gaps[::997] = np.inf
    for v in (full, gaps, np.full(n, 3.0), np.full(n, np.nan), full * 0.0, -full):
        got, want = stale_values._bin_means(ts, v, start, n_bins, every_row), _plain_bin_means(ts, v, start, n_bins)
        assert _same_bits(got[0], want[0]) and _same_bits(got[1], want[1]) and repr(got[2]) == repr(want[2])


def test_every_rows_bins_are_computed_once() -> None:
    ts = np.arange(10_000, dtype=np.float64) * 7.0
    every_row = stale_values._EveryRow(ts, 0.0)
    assert every_row() is every_row()


def _plain_ramp_start(values: np.ndarray, step_bin: int, lo_bin: int) -> int | None:
    """`onset.ramp_start` until issue-25a (the shapes through `np.clip` with broadcast bounds)."""
    y = np.asarray(values, dtype=np.float64)
    idx = np.flatnonzero(np.isfinite(y))
    if idx.size < 12 or step_bin <= lo_bin + 1:
        return None
    yv = y[idx]
    x = idx.astype(np.float64)
    starts = np.arange(lo_bin, step_bin, dtype=np.float64)
    widths = np.array([w for w in onset.RAMP_WIDTHS if w < idx.size], dtype=np.float64)
    h = np.repeat(starts, widths.size)[:, None]
    w = np.tile(widths, starts.size)[:, None]
    shapes = np.clip(x[None, :] - h, 0.0, w) / w
    step = (x >= step_bin).astype(np.float64)[None, :]

    def fit(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        gc = g - g.mean(axis=1, keepdims=True)
        yc = yv - yv.mean()
        var = np.einsum("ij,ij->i", gc, gc)
        cov = gc @ yc
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = np.where(var > 0, cov / var, 0.0)
            sse = float(yc @ yc) - np.where(var > 0, cov * cov / var, 0.0)
        return sse, slope

    sse_ramp, slope_ramp = fit(shapes)
    sse_step, slope_step = fit(step)
    same_way = np.sign(slope_ramp) == np.sign(slope_step[0])
    sse_ramp = np.where(same_way, sse_ramp, np.inf)
    best = int(np.argmin(sse_ramp))
    s2 = float(sse_ramp[best]) / max(idx.size - 3, 1)
    if not np.isfinite(sse_ramp[best]) or s2 <= 0:
        return None
    if (float(sse_step[0]) - float(sse_ramp[best])) / s2 < onset.RAMP_GAIN:
        return None
    return int(h[best, 0])


@pytest.mark.parametrize("seed", range(12))
def test_the_ramp_start_as_the_plain_clip(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 400))
    t = np.arange(n, dtype=np.float64)
    foot, width = int(rng.integers(n // 4, n // 2)), int(rng.integers(1, 60))
    y = rng.normal(0.0, 1.0, n) + 4.0 * np.clip((t - foot) / width, 0.0, 1.0) * (1 if seed % 2 else -1)
    y[rng.random(n) < 0.1] = np.nan  # empty bins
    if seed % 3 == 0:
        y[rng.integers(0, n)] = np.inf
    if seed % 4 == 0:
        y[: n // 3] = 0.0  # a flat head
    step = min(n - 2, foot + width // 2 + 1)
    for lo in (0, n // 8, step - 1, step):
        with np.errstate(all="ignore"):
            assert onset.ramp_start(y, step, lo) == _plain_ramp_start(y, step, lo)


_MULT = np.uint64(0x9E3779B97F4A7C15)


def _plain_row_keys(features: dict[str, np.ndarray | Categorical], rows: slice, names: list[str]) -> np.ndarray:
    """`replay._row_keys` until issue-25a: each mixing step its own array."""
    key: np.ndarray | None = None
    with np.errstate(over="ignore"):
        for name in names:
            col = features[name]
            if isinstance(col, Categorical):
                bits = col.codes[rows].astype(np.uint64)
            else:
                bits = np.ascontiguousarray(col[rows], dtype=np.float64).view(np.uint64)
            key = bits.copy() if key is None else key * _MULT + bits
        assert key is not None
        key = key ^ (key >> np.uint64(31))
        key = key * _MULT
        return np.asarray(key ^ (key >> np.uint64(29)))


def test_the_row_keys_as_the_plain_mixing() -> None:
    rng = np.random.default_rng(8)
    n = 20_000
    x = rng.normal(size=n)
    x[::17] = np.nan
    x[::29] = -0.0
    x[::31] = np.inf
    features: dict[str, np.ndarray | Categorical] = {
        "x": x,
        "k": rng.integers(0, 50, n).astype(np.float64),
        "c": Categorical(rng.integers(-1, 4, n).astype(np.int32), np.array(list("abcd"), dtype=object)),
        "y": rng.lognormal(size=n)[::-1],  # a reversed view: not contiguous
    }
    for rows in (slice(0, n), slice(5_000, n), slice(0, n, 3)):
        for names in (["x"], ["c"], ["x", "k", "c", "y"], ["c", "y", "x"]):
            got = replay._row_keys(features, rows, names)
            assert got is not None and _same_bits(got, _plain_row_keys(features, rows, names))
    assert replay._row_keys(features, slice(0, n), []) is None
    others = replay._row_keys(features, slice(0, n), ["k", "c"])
    assert others is not None
    kept, steps = others.copy(), rng.integers(0, 9, n).astype(np.float64)
    with np.errstate(over="ignore"):
        plain = others * _MULT + steps.view(np.uint64)
    assert _same_bits(replay._mix(others, steps.view(np.uint64)), plain) and _same_bits(others, kept)  # not written


@pytest.mark.parametrize("seed", range(8))
def test_more_than_codes_as_sorting_every_value(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 3 * population_shift.CODES_HEAD))
    k = int(rng.integers(1, 2 * population_shift.MAX_CODES))
    for sample in (
        rng.integers(0, k, n).astype(np.float64),  # a few codes
        np.where(np.arange(n) < population_shift.CODES_HEAD, 1.0, rng.integers(0, k, n)),  # the head holds one
        rng.normal(size=n),  # continuous
        np.where(rng.random(n) < 0.3, np.nan, rng.integers(0, k, n)),  # missing values don't count
        np.where(rng.random(n) < 0.3, np.inf, rng.integers(0, k, n)),
    ):
        plain = np.unique(sample[np.isfinite(sample)]).size > population_shift.MAX_CODES
        assert population_shift._more_than_codes(sample) == plain


def _plain_cycle_share(values: np.ndarray, ts: np.ndarray, hours: np.ndarray | None = None) -> float:
    """`phase.daily_cycle_share` until issue-25a."""
    ok = np.isfinite(values)
    n_ok = int(ok.sum())
    if n_ok < 24 * phase.MIN_ROWS_PER_HOUR:
        return 0.0
    whole = n_ok == values.shape[0]
    v = values if whole else values[ok]
    lo, hi = tail_quantiles(v, phase.WINSOR)
    v = np.clip(v, lo, hi)
    h = hours if hours is not None else hour_of_day(ts)
    h = h if whole else h[ok]
    n = np.bincount(h, minlength=24).astype(float)
    s = np.bincount(h, weights=v, minlength=24)
    total = float(((v - v.mean()) ** 2).sum())
    if not total > 0:
        return 0.0
    filled = n > 0
    between = float((s[filled] ** 2 / n[filled]).sum() - v.sum() ** 2 / v.size)
    return max(between, 0.0) / total


@pytest.mark.parametrize("seed", range(6))
def test_the_daily_cycle_share_as_the_plain_sums(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(500, 60_000))
    ts = np.sort(rng.uniform(0.0, float(rng.choice([0.3, 1.0, 3.0])) * 86_400.0, n)) + 1.79e9
    wave = 10.0 * np.sin(2 * np.pi * ts / 86_400.0) + rng.normal(0.0, 3.0, n)
    gaps = wave.copy()
    gaps[rng.random(n) < 0.2] = np.nan
    gaps[::101] = np.inf
    day = phase.DayHours.of(ts)
    assert _same_bits(day.hours, hour_of_day(ts)) and _same_bits(day.rows, np.bincount(day.hours, minlength=24) * 1.0)
    for v in (wave, gaps, rng.normal(size=n), np.full(n, 2.0), wave * 1e-300, wave[::-1].copy()):
        want = _plain_cycle_share(v, ts)
        for hours in (None, day.hours, day):
            assert repr(phase.daily_cycle_share(v, ts, hours)) == repr(want)


def _plain_new_inner_values(rs: np.ndarray, cs: np.ndarray) -> tuple[float, np.ndarray] | None:
    """`value_grid.new_inner_values` until issue-25a: every current row searched among the values."""
    if rs.shape[0] < value_grid.MIN_ROWS or cs.shape[0] < value_grid.MIN_ROWS:
        return None
    values = value_grid._distinct_sorted(rs)
    if values is None:
        return None
    inside = cs[(cs >= values[0]) & (cs <= values[-1])]
    if inside.shape[0] == 0:
        return 0.0, np.empty(0)
    pos = np.clip(np.searchsorted(values, inside), 0, values.shape[0] - 1)
    new = inside[values[pos] != inside]
    if new.shape[0] == 0:
        return 0.0, np.empty(0)
    nv, nc = np.unique(new, return_counts=True)
    return new.shape[0] / cs.shape[0], nv[np.argsort(-nc, kind="stable")[:10]]


@pytest.mark.parametrize("seed", range(40))
def test_new_inner_values_as_searching_every_row(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k, n = int(rng.integers(1, 200)), int(rng.integers(150, 20_000))
    base = np.unique(np.round(rng.normal(0, 5, 5), 1)) if seed % 5 == 0 else np.arange(k, dtype=float) - k // 2
    r, c = rng.choice(base, n).astype(float), rng.choice(base, n).astype(float)
    if seed % 3 == 0:
        moved = rng.random(n) < 0.2
        c[moved] += 0.5  # between the reference's values
    if seed % 4 == 0:
        c[::7], r[::11] = np.inf, -np.inf
    if seed % 6 == 0:
        r[r == 0] = -0.0  # a signed zero equals the other's zero
        c[::13] = 0.0
    if seed % 7 == 0:
        c[::5] = np.nan
    if seed % 8 == 0:
        c += 1_000.0  # every row beyond the range
    rs, cs = sorted_values(r), sorted_values(c)
    assert repr(value_grid.new_inner_values(rs, cs)) == repr(_plain_new_inner_values(rs, cs))


def _plain_clock_samples(r: np.ndarray, r_ts: np.ndarray, c: np.ndarray, c_ts: np.ndarray) -> tuple[object, ...]:
    """What `clock_input` read before issue-25a: the reference sampled afresh for each question."""
    return (
        clock_features.best_offset(r, r_ts),
        clock_features.best_weekday(r, r_ts),
        clock_features._weekday_fit(*clock_features._sample(np.concatenate([r, c]), np.concatenate([r_ts, c_ts])), 0.6),
    )


@pytest.mark.parametrize("gaps", [0.0, 0.2])
def test_the_clock_questions_read_one_sample_of_the_reference(gaps: float) -> None:
    rng = np.random.default_rng(int(gaps * 10))
    ts = np.sort(rng.uniform(0.0, 3 * 86_400.0, 30_000)) + 1.79e9
    cut = 20_000
    hour = np.floor((ts / 3_600.0 + 2.0) % 24.0)
    weekday = ((ts / 3_600.0 + 2.0) // 24.0 + 3) % 7
    columns = ((hour, "hour"), (weekday, "weekday"), (rng.normal(size=ts.size), None),
               (rng.integers(0, 24, ts.size) * 1.0, None))
    for col, unit in columns:
        col = col.copy()
        col[rng.random(col.size) < gaps] = np.nan
        r, r_ts, c, c_ts = col[:cut], ts[:cut], col[cut:], ts[cut:]
        ok_r = clock_features._finite_rows(r)
        rv, rt = clock_features._sample_at(r, r_ts, ok_r)
        plain_v, plain_t = clock_features._sample(r, r_ts)
        assert _same_bits(rv, plain_v) and _same_bits(rt, plain_t)
        offset, week, joined = _plain_clock_samples(r, r_ts, c, c_ts)
        assert clock_features._offset_fit(rv, rt) == offset
        assert clock_features._weekday_fit(rv, rt, clock_features.MIN_MATCH) == week
        assert clock_features._weekday_fit(*clock_features._sample_joined(r, r_ts, c, c_ts, ok_r), 0.6) == joined
        found = clock_features.clock_input("x", r, r_ts, c, c_ts, 1.0)
        assert (found.unit if found is not None else None) == unit
