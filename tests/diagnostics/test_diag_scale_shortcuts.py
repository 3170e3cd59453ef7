"""Shortcuts taken for a large log's sake give what the plain computation gives.

`clock_features._sample` strides a column without gaps instead of listing its finite rows;
`onset_mix.mix_codes` reads its distinct values and deciles off one sort; the onset's mean
series reuse the rows per bin of a series without gaps.
"""

from __future__ import annotations

import numpy as np
import pytest

from diagnostics.clock_features import SAMPLE, _sample
from diagnostics.onset_mix import DECILES, MAX_DISTINCT, mix_codes
from diagnostics.stats import quantile_edges


def _plain_sample(values: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = np.flatnonzero(np.isfinite(values))
    ok = ok[:: max(1, ok.size // SAMPLE)]
    return values[ok], ts[ok]


@pytest.mark.parametrize("n", [50, SAMPLE - 1, SAMPLE, 3 * SAMPLE + 7])
@pytest.mark.parametrize("gaps", [False, True])
def test_clock_sample_is_every_kth_finite_row(n: int, gaps: bool) -> None:
    rng = np.random.default_rng(n)
    values = rng.integers(0, 24, n).astype(float)
    if gaps:
        values[rng.random(n) < 0.1] = np.nan
    ts = np.sort(rng.uniform(0, 86400, n))
    got, want = _sample(values, ts), _plain_sample(values, ts)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


@pytest.mark.parametrize("shape", ["normal", "few", "ties"])
def test_mix_codes_from_one_sort(shape: str) -> None:
    rng = np.random.default_rng(7)
    n, head = 5000, 2000
    v = {"normal": rng.normal(size=n), "few": rng.integers(0, 5, n).astype(float),
         "ties": np.round(rng.normal(size=n), 1)}[shape]
    v[rng.random(n) < 0.05] = np.nan
    cut = mix_codes(v, head)
    assert cut is not None
    cells, names = cut
    h = v[:head][np.isfinite(v[:head])]
    distinct = np.unique(h)
    if distinct.size <= MAX_DISTINCT:
        pos = np.searchsorted(distinct, v)
        hit = (pos < distinct.size) & (distinct[np.minimum(pos, distinct.size - 1)] == v)
        want = np.where(hit, pos, distinct.size)
        assert len(names) == distinct.size + 2
    else:
        want = np.searchsorted(quantile_edges(np.sort(h), DECILES), v, side="left")
    want = np.where(np.isnan(v), len(names) - 1, want)
    assert np.array_equal(cells, want)
