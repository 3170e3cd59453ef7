"""The onset of an error rise on a log whose traffic follows the day (lead, session 14).

The error series was a per-bin mean: an 8% failure rate starting in the evening trough sits in bins
of a few dozen calls, noisy next to the day's full bins, and the step was dated hours late (2.5-5 h
in round 13's worlds). Errors are rare events: scanned as a binomial rate rise, each bin weighed by
its calls, the step is dated where it is."""

from __future__ import annotations

import numpy as np
import pytest

from diagnostics import PredictionLog, diagnose

START = 1_795_000_000.0
DAY = 86400.0
N = 10_000


def _log(seed: int, onset_frac: float, extra_errors: float) -> tuple[PredictionLog, float]:
    rng = np.random.default_rng(seed)
    t = START + rng.uniform(0.0, 2 * DAY, 4 * N)
    wave = 0.5 + 0.45 * np.sin(2 * np.pi * ((t % DAY) / 3600.0 - 8.0) / 24.0)
    ts = np.sort(rng.permutation(t[rng.uniform(size=t.size) < wave])[:N])
    n = ts.size
    x = rng.normal(size=(n, 3))
    truth = 2.0 * x[:, 0] + x[:, 1] - 0.5 * x[:, 2]
    onset = float(ts[0] + onset_frac * (ts[-1] - ts[0]))
    error = (rng.uniform(size=n) < 0.002).astype(float)
    error = np.where((ts >= onset) & (rng.uniform(size=n) < extra_errors), 1.0, error)
    log = PredictionLog(
        timestamp=ts,
        model_version=np.full(n, "3.0.2", dtype=object),
        prediction=truth + rng.normal(0.0, 0.3, n),
        label=truth + rng.normal(0.0, 1.0, n),
        latency_ms=rng.lognormal(np.log(42.0), 0.3, n),
        error=error,
        features={f"x{i}": x[:, i] for i in range(3)},
        name="errors",
    )
    return log, onset


@pytest.mark.parametrize(("seed", "onset_frac"), [(0, 0.6), (1, 0.6), (2, 0.55), (3, 0.65)])
def test_an_error_rise_is_dated_at_its_onset_on_a_diurnal_log(seed: int, onset_frac: float) -> None:
    log, onset = _log(seed, onset_frac, 0.08)
    d = diagnose(log)
    assert (d.cause, d.culprit_kind) == ("service", "errors"), [f.evidence for f in d.findings[:2]]
    assert abs(d.onset - onset) <= 30 * 60, (d.onset - onset) / 60


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_same_log_without_a_rise_stays_quiet(seed: int) -> None:
    log, _ = _log(seed, 0.6, 0.0)
    d = diagnose(log)
    assert d.culprit_kind == "none", [f.evidence for f in d.findings[:2]]
