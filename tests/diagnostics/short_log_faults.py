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

from diagnostics import diagnose
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
