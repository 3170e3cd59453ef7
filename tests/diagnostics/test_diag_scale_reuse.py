"""Work a large log's diagnosis did twice, or did in full where a part answers, gives what the plain
computation gives (issue-21s): each shortcut against the computation it replaces, bit for bit, and
the counts that say the work is done once."""

from __future__ import annotations

import numpy as np
import pytest

from diagnostics import diagnose, silences, value_grid
from diagnostics.clock_features import _finite_rows, _sample, _sample_joined
from diagnostics.log import PredictionLog
from diagnostics.stats import FEW_EDGES, TAIL_QUANTILE_MIN, bins_at, tail_quantiles


def _awkward(rng: np.random.Generator, n: int) -> np.ndarray:
    """Values with NaN, infinities, signed zeros and ties among normal ones."""
    v = rng.normal(size=n)
    for value, share in ((np.nan, 0.05), (np.inf, 0.02), (-np.inf, 0.02), (0.0, 0.05), (-0.0, 0.05)):
        v[rng.random(n) < share] = value
    v[rng.random(n) < 0.2] = np.round(v[rng.random(n) < 0.2][:1].sum(), 1) if n else 0.0
    return v


@pytest.mark.parametrize("k", [0, 1, 2, 9, FEW_EDGES, FEW_EDGES + 1])
@pytest.mark.parametrize("strided", [False, True])
def test_bins_at_is_searchsorted_left(k: int, strided: bool) -> None:
    rng = np.random.default_rng(k)
    v = _awkward(rng, 30_000)
    edges = np.unique(np.round(rng.normal(size=k), 1))
    v[rng.random(v.size) < 0.2] = rng.choice(edges) if edges.size else 0.0  # values on the edges
    values = v[::3] if strided else v
    got = bins_at(edges, values)
    assert got.dtype == np.intp
    assert np.array_equal(got, np.searchsorted(edges, values, side="left"))


@pytest.mark.parametrize("shape", ["normal", "integers", "sorted", "reversed", "heavy", "zeros"])
@pytest.mark.parametrize("q", [(0.01, 0.99), (0.001, 0.999), (0.0, 1.0), (0.05,), (0.9,)])
def test_tail_quantiles_are_np_quantile_bit_for_bit(monkeypatch: pytest.MonkeyPatch, shape: str,
                                                      q: tuple[float, ...]) -> None:
    rng = np.random.default_rng(len(shape))
    n = TAIL_QUANTILE_MIN + 12_345
    v = {
        "normal": rng.normal(size=n),
        "integers": rng.integers(0, 7, n).astype(float),
        "sorted": np.sort(rng.exponential(size=n)),
        "reversed": np.sort(rng.exponential(size=n))[::-1].copy(),
        "heavy": rng.standard_cauchy(size=n) * 1e6,
        "zeros": np.where(rng.random(n) < 0.4, 0.0, np.round(rng.normal(size=n), 1)),
    }[shape]
    want = np.quantile(v, q)
    called: list[int] = []
    real = np.quantile
    monkeypatch.setattr(np, "quantile", lambda *a, **k: called.append(1) or real(*a, **k))
    got = tail_quantiles(v, np.array(q))
    assert np.array_equal(got.view(np.int64), want.view(np.int64))
    assert not called  # the tails alone were partitioned


def test_tail_quantiles_of_a_small_or_central_cut_are_np_quantiles() -> None:
    v = np.random.default_rng(3).normal(size=TAIL_QUANTILE_MIN * 2)
    gap = v.copy()
    gap[7] = np.nan
    for values, q in ((v[:100], (0.01, 0.99)), (v, (0.5,)), (v, (0.25, 0.99)), (gap, (0.01, 0.99))):
        assert np.array_equal(tail_quantiles(values, np.array(q)), np.quantile(values, q), equal_nan=True)


@pytest.mark.parametrize("gaps", [False, True])
@pytest.mark.parametrize("sizes", [(0, 9000), (9000, 0), (5, 7), (12_345, 6_789), (40_000, 1)])
def test_the_joined_sample_is_the_sample_of_the_join(gaps: bool, sizes: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(sizes))
    a, b = rng.integers(0, 7, sizes[0]).astype(float), rng.integers(0, 7, sizes[1]).astype(float)
    if gaps:
        a[rng.random(a.size) < 0.3] = np.nan
        b[rng.random(b.size) < 0.1] = np.nan
    a_ts, b_ts = np.arange(a.size, dtype=float), np.arange(a.size, a.size + b.size, dtype=float)
    got = _sample_joined(a, a_ts, b, b_ts, _finite_rows(a))
    want = _sample(np.concatenate([a, b]), np.concatenate([a_ts, b_ts]))
    assert np.array_equal(got[0], want[0], equal_nan=True) and np.array_equal(got[1], want[1])


def test_gap_rows_keep_the_logs_expected_rows_and_compute_any_other() -> None:
    ts = np.sort(np.random.default_rng(5).uniform(0.0, 86400.0, 5000))
    kept = silences.GapRows(ts)
    first = kept.expected_rows(ts)
    assert np.array_equal(first, silences.expected_rows(ts))
    assert kept.expected_rows(ts.copy()) is first  # the same timestamps, joined again from two windows
    other = ts[:-10]
    assert np.array_equal(kept.expected_rows(other), silences.expected_rows(other))


def _drift_log() -> PredictionLog:
    """Two days of steady traffic, an input drifted since the 31st hour."""
    rng = np.random.default_rng(21)
    n = 40_000
    ts = np.sort(rng.uniform(0.0, 2 * 86400.0, n)) + 1_772_755_200.0
    x = rng.normal(size=n)
    x[ts > ts[0] + 31 * 3600.0] += 1.5
    pred = 2.0 * x
    return PredictionLog(timestamp=ts, model_version=np.full(n, "v1"), prediction=pred,
                         label=pred + rng.normal(0.0, 0.5, n), features={"x": x, "z": rng.normal(size=n)})


def test_the_logs_silences_are_weighed_once_a_diagnosis(monkeypatch: pytest.MonkeyPatch) -> None:
    """The onset scan and the traffic check weigh the same log's gaps: once (main weighed them twice)."""
    calls: list[int] = []
    real = silences.expected_rows

    def counted(ts: np.ndarray) -> np.ndarray:
        calls.append(ts.size)
        return real(ts)

    monkeypatch.setattr(silences, "expected_rows", counted)
    improbable: list[silences.Silence | None] = []
    plain = silences.improbable_silence

    def spy(*args: object, **kwargs: object) -> silences.Silence | None:
        improbable.append(plain(*args, **kwargs))  # type: ignore[arg-type]
        return improbable[-1]

    from diagnostics import service_checks

    monkeypatch.setattr(service_checks, "improbable_silence", spy)
    log = _drift_log()
    assert diagnose(log).onset_detected
    assert improbable  # the traffic check weighed the silences too
    assert calls == [len(log)]


def test_the_grid_checks_read_each_share_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """`snapped_to_grid` and `left_grid` ask the reference's share of the same grids: read once each,
    and the in-place share is the plain formula's."""
    rng = np.random.default_rng(8)
    rs = np.sort(np.round(rng.normal(0.0, 500.0, 60_000), 1))  # tenths, too many values to be discrete
    cs = np.sort(np.round(rng.normal(0.0, 500.0, 30_000), 3))
    for s in (rs, cs):
        for grid in value_grid.GRIDS:
            x = value_grid._stride(s) / grid
            plain = float(np.mean(np.abs(x - np.round(x)) > 1e-6 * np.maximum(1.0, np.abs(x))))
            assert value_grid._off_grid_share(s, grid) == plain
    read: list[tuple[int, float]] = []
    real = value_grid._off_grid_share
    monkeypatch.setattr(value_grid, "_off_grid_share", lambda s, g: read.append((s.size, g)) or real(s, g))
    parts = value_grid.grid_finding_parts("x", rs, cs, cs)
    assert parts is not None and "left its grid" in parts[1]
    assert len(read) == len(set(read))


@pytest.mark.parametrize("shape", ["continuous", "discrete", "edge"])
def test_distinct_values_of_a_sorted_reference(shape: str) -> None:
    rng = np.random.default_rng(4)
    n = 20_000
    most = n // value_grid.MIN_ROWS_PER_VALUE
    rs = np.sort({"continuous": rng.normal(size=n), "discrete": rng.integers(0, 30, n).astype(float),
                  "edge": rng.permutation(np.arange(n) % most).astype(float)}[shape])
    distinct = np.unique(rs)
    want = distinct if distinct.size * value_grid.MIN_ROWS_PER_VALUE <= n else None
    got = value_grid._distinct_sorted(rs)
    assert (got is None) == (want is None) and (got is None or np.array_equal(got, want))


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [int(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]


def test_overlapping_diagnoses_keep_blas_on_one_thread() -> None:
    """Two diagnoses at once (the bot's workers): the first to finish leaves the other on one BLAS
    thread; the library's own count comes back when the last one finishes."""
    from diagnostics import engine

    before = _blas_threads()
    if not before or max(before) < 2:
        pytest.skip("BLAS runs one thread here already")
    first, second = engine._one_blas_thread(), engine._one_blas_thread()
    first.__enter__()
    second.__enter__()
    assert _blas_threads() == [1] * len(before)
    first.__exit__(None, None, None)  # the first diagnosis ends while the second still runs
    assert _blas_threads() == [1] * len(before)
    second.__exit__(None, None, None)
    assert _blas_threads() == before


def test_the_blas_limit_is_restored_when_a_diagnosis_fails() -> None:
    from diagnostics import engine

    before = _blas_threads()
    with pytest.raises(ValueError), engine._one_blas_thread():
        raise ValueError("a bad log")
    assert _blas_threads() == before
    assert engine._one_blas_thread._running == 0
