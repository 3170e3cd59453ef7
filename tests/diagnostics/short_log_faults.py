"""The feed faults the short-log tests inject, and the one check they all make.

Every rule that clears a healthy short log's clock-following input (a glide, a steep wave, a
changed mix of rows) is guarded by the same faults on the same log: the input offset by its
reference spread, ramped to twice that within an hour, a fifth of its rows moved by four spreads,
its unit changed (x100), or stuck at its last value. One builder per log shape calls `move`; one
loop (`assert_quiet_but_faults_named`) says the healthy log is quiet and each fault is named.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from diagnostics import diagnose
from diagnostics.loader import frame_to_log
from diagnostics.log import PredictionLog

HOUR = 3600.0


def move(
    served: np.ndarray,
    after: np.ndarray,
    t: np.ndarray,
    onset: float,
    sd: float,
    fault: str,
    rng: np.random.Generator,
    *,
    sign: float = 1.0,
) -> None:
    """Inject `fault` into `served` (in place) on the rows `after` the onset; `sign` turns the
    offset and the ramp (down, with a falling wave, so the window does not return to the reference)."""
    if fault == "offset":
        served[after] += sign * sd
    elif fault == "ramp":
        served[after] += sign * 2.0 * sd * np.clip((t[after] - onset) / HOUR, 0.0, 1.0)
    elif fault == "fifth":
        served[after & (rng.random(t.size) < 0.2)] += 4.0 * sd
    elif fault == "unit":
        served[after] *= 100.0
    elif fault == "stuck":
        served[after] = served[~after][-1]
    elif fault:
        raise ValueError(f"unknown fault {fault!r}")


def assert_quiet_but_faults_named(
    build: Callable[[int, str], tuple[PredictionLog, float]],
    seeds: Iterable[int],
    faults: Iterable[str],
    culprit: str,
    reference: Callable[[int], PredictionLog] | None = None,
) -> None:
    """Each seed's healthy log (`build(seed, "")`) diagnosed "none" with its onset given, and each
    fault on it named as a data fault of `culprit`; against `reference(seed)` when given (a file)."""
    faults = tuple(faults)
    for seed in seeds:
        ref = reference(seed) if reference is not None else None
        log, onset = build(seed, "")
        d = diagnose(log, reference=ref, onset=onset)
        assert d.cause == "none", (seed, [(f.check, f.subject, f.evidence) for f in d.findings[:2]])
        for fault in faults:
            bad, onset = build(seed, fault)
            d = diagnose(bad, reference=ref, onset=onset)
            assert (d.cause, d.culprit_name) == ("data", culprit), (seed, fault, d.cause, d.culprit_name)


def assert_quiet_in_both_modes(
    build: Callable[[int], tuple[PredictionLog, float]],
    seeds: Iterable[int],
    reference: Callable[[int], PredictionLog] | None = None,
) -> None:
    """Each seed's healthy log (`build(seed)`) diagnosed "none" with its onset given and with it found;
    against `reference(seed)` when given (a file)."""
    for seed in seeds:
        log, onset = build(seed)
        for given in (onset, None):
            ref = reference(seed) if reference is not None else None
            d = diagnose(log, reference=ref, onset=given)
            assert d.cause == "none", (seed, given, [(f.check, f.subject, f.evidence) for f in d.findings[:2]])


def evening_rows(rng: np.random.Generator, pool: pd.DataFrame, hour: np.ndarray) -> pd.DataFrame:
    """A bundled set's rows served through the day, drawn towards large values of the pool's first
    column in the evening (the cycles generator's tilt, peaking at 19:00)."""
    n = len(pool)
    tilt = 0.5 + 0.5 * np.cos(2 * np.pi * (hour - 19) / 24)
    order = np.argsort(pool.iloc[:, 0].to_numpy())
    rows = order[np.clip((0.35 * tilt + 0.65 * rng.random(hour.size)) * n, 0, n - 1).astype(int)]
    return pool.iloc[rows].reset_index(drop=True)


def classifier_log(
    rng: np.random.Generator,
    t: np.ndarray,
    inputs: pd.DataFrame,
    logits: tuple[np.ndarray, np.ndarray],
    late: np.ndarray,
    hour: np.ndarray,
) -> PredictionLog:
    """A classifier's log of `inputs` as served: its answers from the served logit, its labels drawn
    from the true one and withheld since the onset (`late`)."""
    served, truth = logits
    y = (rng.random(t.size) < 1 / (1 + np.exp(-truth))).astype(float)
    df = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(t, unit="s", utc=True),
            "model_version": "v1",
            "prediction": np.round(1 / (1 + np.exp(-served)), 4),
            "label": np.where(late, np.nan, y),
            "latency_ms": rng.lognormal(3.5, 0.3, t.size),
            **{k: inputs[k].to_numpy() for k in inputs.columns},
            "hour": np.floor(hour),
        }
    )
    return frame_to_log(df)
