"""Shortcuts taken for a large log's sake give what the plain computation gives.

`clock_features._sample` strides a column without gaps instead of listing its finite rows;
`onset_mix.mix_codes` reads its distinct values and deciles off one sort; the onset's mean
series reuse the rows per bin of a series without gaps; the log's own clock (`Context.log_utc_offset`)
is found once a diagnosis.
"""

from __future__ import annotations

import numpy as np
import pytest

from diagnostics import clock_features, diagnose
from diagnostics.clock_features import SAMPLE, _sample
from diagnostics.log import Categorical, PredictionLog
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


def _clock_log(with_hour: bool) -> tuple[PredictionLog, float]:
    """Three days of a regression at UTC+2, its hour-of-day input (or none), a drift after the onset."""
    rng = np.random.default_rng(11)
    n = 30_000
    ts = np.sort(rng.uniform(0.0, 3 * 86400.0, n)) + 1_772_755_200.0  # 2026-03-06, a Friday
    x = rng.normal(0.0, 1.0, n)
    onset = float(ts[int(0.7 * n)])
    x[ts >= onset] += 1.0
    pred = 2.0 * x
    feats: dict[str, np.ndarray | Categorical] = {"x": x, "z": rng.normal(0.0, 1.0, n)}
    if with_hour:
        feats["hour"] = np.floor((ts / 3600.0 + 2.0) % 24.0)
    log = PredictionLog(timestamp=ts, model_version=np.full(n, "v1"), prediction=pred,
                        label=pred + rng.normal(0.0, 0.5, n), features=feats)
    return log, onset


@pytest.mark.parametrize("with_hour", [True, False])
def test_the_log_clock_is_found_once_a_diagnosis(monkeypatch: pytest.MonkeyPatch, with_hour: bool) -> None:
    """Every check that asks the log's UTC offset gets `clock_features.log_utc_offset`'s answer, found
    once (main found it up to 7 times a diagnosis, every column asked each time)."""
    from diagnostics import context

    log, onset = _clock_log(with_hour)
    answers: list[float | None] = []
    real = clock_features.log_utc_offset

    def counted(features: dict[str, np.ndarray | Categorical], ts: np.ndarray) -> float | None:
        answers.append(real(features, ts))
        return answers[-1]

    monkeypatch.setattr(context, "log_utc_offset", counted)
    asked: list[float | None] = []
    plain = context.Context.log_utc_offset

    def spy(self: context.Context) -> float | None:
        asked.append(plain(self))
        return asked[-1]

    monkeypatch.setattr(context.Context, "log_utc_offset", spy)
    diagnose(log, onset=onset)
    assert len(answers) == 1
    assert len(asked) > 1 and set(asked) == {real(log.features, log.timestamp)}
    assert asked[0] == (2.0 if with_hour else None)


def test_a_context_copied_onto_another_log_reads_that_logs_clock() -> None:
    """The kept answer is the log's it was read from: a copy onto another log asks again."""
    from dataclasses import replace

    from diagnostics.context import Context, detect_task

    hourly, _ = _clock_log(True)
    plain_log, _ = _clock_log(False)
    task = detect_task(hourly.prediction, hourly.label)
    empty = np.empty(0)
    ctx = Context(log=hourly, reference=hourly, current=hourly, onset=0.0, task=task, ref_loss=empty,
                  cur_loss=empty)
    assert ctx.log_utc_offset() == 2.0
    assert replace(ctx, onset=1.0).log_clock is ctx.log_clock  # carried along
    assert replace(ctx, log=plain_log).log_utc_offset() is None
    assert ctx.log_utc_offset() == 2.0


def test_the_diagnosis_runs_blas_on_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every BLAS library answers one thread while the checks run, and gets its own count back after."""
    from threadpoolctl import threadpool_info

    from diagnostics import engine

    def blas_threads() -> list[int]:
        return [int(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    seen: list[list[int]] = []
    real = engine.data_findings

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(blas_threads())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "data_findings", spy)
    log, onset = _clock_log(True)
    diagnose(log, onset=onset)
    assert seen and all(threads == [1] * len(before) for threads in seen)
    assert blas_threads() == before
