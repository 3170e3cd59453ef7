"""A margin under the 1M x 50 diagnosis's 2x floor, every answer unchanged (issue-25a): each shortcut
against the plain computation it replaces, bit for bit, missing and infinite values included."""

from __future__ import annotations

import numpy as np
import pytest

from diagnostics import onset, stale_values
from diagnostics.phase import hour_of_day
from diagnostics.stats import floor_quotient


def _same_bits(got: np.ndarray, want: np.ndarray) -> bool:
    return got.dtype == want.dtype and got.shape == want.shape and np.array_equal(
        got.view(np.uint8), want.view(np.uint8)
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
