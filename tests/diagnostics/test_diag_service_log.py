"""Service symptoms in the prediction log's own columns: slow requests that come in bursts, and a
latency or error rise that a new version's rows carry (lead's log-only service probe).

The logs are independent draws (a known regression model, 20,000 rows over twelve hours, the onset
at two thirds), the shape outside checks build.
"""

from __future__ import annotations

import numpy as np
import pytest

from diagnostics import PredictionLog, diagnose

START = 1_795_000_000.0
SPAN = 12 * 3600.0
N = 20_000


def _log(seed: int) -> tuple[PredictionLog, float, np.random.Generator]:
    rng = np.random.default_rng(seed)
    ts = START + np.sort(rng.uniform(0.0, SPAN, N))
    x = rng.uniform(size=(N, 4))
    truth = 10 * np.sin(np.pi * x[:, 0] * x[:, 1]) + 10 * x[:, 2] + 5 * x[:, 3]
    log = PredictionLog(
        timestamp=ts,
        model_version=np.full(N, "v12", dtype=object),
        prediction=truth + rng.normal(0.0, 0.3, N),
        label=truth + rng.normal(0.0, 1.0, N),
        latency_ms=rng.lognormal(np.log(35.0), 0.3, N),
        error=(rng.random(N) < 0.004).astype(float),
        features={f"x{i}": x[:, i] for i in range(4)},
        name="log",
    )
    return log, float(ts[int(2 * N / 3)]), rng


@pytest.mark.parametrize("seed", [0, 1])
def test_slow_minutes_that_come_and_go_all_day_are_not_a_latency_regression(seed: int) -> None:
    """Every request five times slower in 3% of the minutes (a GC pause, a batch job), all day;
    the window after the onset happens to hold a few more of those minutes than the one before."""
    log, onset, rng = _log(seed)
    minute = ((log.timestamp - START) // 60).astype(np.int64)
    minutes = int(minute.max()) + 1
    onset_minute = int((onset - START) // 60)
    bursts = rng.choice(minutes, int(0.03 * minutes), replace=False)
    extra = rng.choice(np.arange(onset_minute, minutes), 6, replace=False)  # a little unlucky after
    slow = np.isin(minute, np.concatenate([bursts, extra]))
    assert log.latency_ms is not None
    log.latency_ms = np.where(slow, 5.0 * log.latency_ms, log.latency_ms)
    d = diagnose(log, onset=onset)
    assert d.culprit_kind == "none", [f.evidence for f in d.findings[:2]]


@pytest.mark.parametrize("seed", [0])
def test_a_slow_tail_of_every_minute_is_still_latency(seed: int) -> None:
    """6% of the requests ten times slower, spread over every minute after the onset."""
    log, onset, rng = _log(seed)
    assert log.latency_ms is not None
    slow = (log.timestamp >= onset) & (rng.random(N) < 0.06)
    log.latency_ms = np.where(slow, 10.0 * log.latency_ms, log.latency_ms)
    d = diagnose(log, onset=onset)
    assert (d.cause, d.culprit_kind, d.recommended_mitigation) == ("service", "latency", "escalate_service")


def _canary(log: PredictionLog, onset: float, rng: np.random.Generator) -> np.ndarray:
    canary = (log.timestamp >= onset) & (rng.random(N) < 0.2)
    log.model_version = np.where(canary, "v13", np.asarray(log.model_version, dtype=object))
    return canary


@pytest.mark.parametrize("seed", [0, 1])
def test_latency_a_new_versions_rows_carry_rolls_that_version_back(seed: int) -> None:
    log, onset, rng = _log(seed)
    canary = _canary(log, onset, rng)
    assert log.latency_ms is not None
    log.latency_ms = np.where(canary, 3.0 * log.latency_ms, log.latency_ms)
    d = diagnose(log, onset=onset)
    assert (d.cause, d.culprit_kind, d.recommended_mitigation) == ("service", "latency", "rollback")
    top = d.findings[0]
    assert top.details["carried_by_version"] == "v13" and "Carried by version v13" in top.evidence


@pytest.mark.parametrize("seed", [0])
def test_errors_a_new_versions_rows_carry_roll_that_version_back(seed: int) -> None:
    log, onset, rng = _log(seed)
    canary = _canary(log, onset, rng)
    assert log.error is not None
    log.error = np.where(canary & (rng.random(N) < 0.06), 1.0, log.error)
    d = diagnose(log, onset=onset)
    assert (d.cause, d.culprit_kind, d.recommended_mitigation) == ("service", "errors", "rollback")
    assert d.findings[0].details["carried_by_version"] == "v13"


def test_every_request_slower_beside_a_harmless_canary_is_not_the_canarys() -> None:
    log, onset, rng = _log(3)
    _canary(log, onset, rng)
    assert log.latency_ms is not None
    log.latency_ms = np.where(log.timestamp >= onset, 2.0 * log.latency_ms, log.latency_ms)
    d = diagnose(log, onset=onset)
    assert (d.cause, d.culprit_kind, d.recommended_mitigation) == ("service", "latency", "escalate_service")
    assert "carried_by_version" not in d.findings[0].details
