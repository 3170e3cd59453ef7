"""Log shapes that checks built outside the project produce and the scenario suite does not.

Each test builds such a log the way an outside generator did (docs/contracts.md columns, fresh
inputs, a known model) and asserts the verdict a person on call would want.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from diagnostics import Categorical, PredictionLog, diagnose
from diagnostics.loader import load_log

MONDAY = pd.Timestamp("2026-11-16T00:00:00Z").timestamp()


def _labelled_log(n: int, ts: np.ndarray, rng: np.random.Generator, versions: np.ndarray,
                  wrong: np.ndarray | None = None) -> PredictionLog:
    """A two-input classifier's log; `wrong` marks rows a bad model answers wrongly."""
    x0 = rng.normal(size=n)
    x1 = rng.normal(size=n)
    truth = (x0 + 0.7 * x1 + rng.normal(0.0, 0.5, n) > 0).astype(int)
    pred = (x0 + 0.7 * x1 > 0).astype(int)
    if wrong is not None:
        pred = np.where(wrong, 1 - truth, pred)
    names = np.array(["no", "yes"], dtype=object)
    vcats, vcodes = np.unique(versions, return_inverse=True)
    return PredictionLog(
        timestamp=ts,
        model_version=Categorical(vcodes.astype(np.int32), vcats.astype(object)),
        prediction=Categorical(pred.astype(np.int32), names),
        label=Categorical(truth.astype(np.int32), names),
        latency_ms=rng.lognormal(np.log(30.0), 0.3, n),
        error=np.zeros(n),
        features={"x0": x0, "x1": x1},
        name="outside",
    )


def test_csv_versions_that_read_as_numbers_stay_apart(tmp_path: Path) -> None:
    """Versions "1.1" and "1.10" in a CSV: read as numbers they are one version, 1.1, and a bad
    "1.10" rollout looked like concept drift of the old version."""
    rng = np.random.default_rng(3)
    n = 6000
    ts = MONDAY + np.sort(rng.uniform(0, 6 * 3600.0, n))
    after = ts >= MONDAY + 4 * 3600.0
    versions = np.where(after, "1.10", "1.1")
    log = _labelled_log(n, ts, rng, versions, wrong=after & (rng.random(n) < 0.3))
    assert isinstance(log.prediction, Categorical) and isinstance(log.label, Categorical)
    df = pd.DataFrame({
        "timestamp": pd.to_datetime(ts, unit="s", utc=True).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "model_version": versions,
        "prediction": log.prediction.categories[log.prediction.codes],
        "label": log.label.categories[log.label.codes],
        "x0": log.features["x0"],
        "x1": log.features["x1"],
    })
    path = tmp_path / "log.csv"
    df.to_csv(path, index=False)
    loaded = load_log(path)
    assert sorted(loaded.model_version.categories.tolist()) == ["1.1", "1.10"]
    d = diagnose(loaded, onset=MONDAY + 4 * 3600.0)
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("model", "model_version", "1.10")
    assert d.recommended_mitigation == "rollback"


def _weekly_arrivals(rng: np.random.Generator, days: int, per_weekday: int, weekend: float) -> np.ndarray:
    """Arrival times over `days` days from a Monday, a weekend day carrying `weekend` of a weekday's traffic."""
    day_rows = [int(per_weekday * (weekend if d % 7 >= 5 else 1.0)) for d in range(days)]
    parts = [MONDAY + d * 86400.0 + rng.uniform(0, 86400.0, k) for d, k in enumerate(day_rows)]
    return np.sort(np.concatenate(parts))


def test_a_weekend_is_not_a_traffic_drop() -> None:
    """Two weeks of traffic that halves every weekend; an alert on Friday evening looks over the
    weekend. Against the hours just before (weekdays) it is a drop to ~50%; against the same hours
    a week earlier it is normal, and nothing is wrong."""
    rng = np.random.default_rng(5)
    ts = _weekly_arrivals(rng, 14, 2000, 0.45)
    n = ts.size
    log = _labelled_log(n, ts, rng, np.full(n, "v1"))
    alert = MONDAY + 11 * 86400.0 + 18 * 3600.0  # Friday of week two, 18:00
    d = diagnose(log, onset=alert)
    assert d.cause == "none", d.to_dict()
    assert not any(f.check == "traffic" for f in d.findings)


def test_a_real_weekend_outage_still_drops_against_last_weekend() -> None:
    """The same two weeks, but this weekend only a quarter of last weekend's requests arrive:
    below the adjacent hours and below the same hours a week earlier, so it is a traffic drop."""
    rng = np.random.default_rng(6)
    ts = _weekly_arrivals(rng, 14, 2000, 0.45)
    alert = MONDAY + 11 * 86400.0 + 18 * 3600.0
    keep = (ts < alert) | (rng.random(ts.size) < 0.25)
    ts = ts[keep]
    n = ts.size
    log = _labelled_log(n, ts, rng, np.full(n, "v1"))
    d = diagnose(log, onset=alert)
    assert (d.cause, d.culprit_kind) == ("service", "traffic"), d.to_dict()
    finding = next(f for f in d.findings if f.check == "traffic")
    assert "week earlier" in finding.evidence
    assert finding.details["rows_per_minute_week_before"] > 0
    json.loads(json.dumps(d.to_dict()), parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))


def _related_inputs(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Five inputs that move together (a latent factor) and one independent input."""
    latent = rng.normal(size=n)
    cols = {f"a{i}": latent * w + rng.normal(0.0, 0.6, n) for i, w in enumerate((1.0, 0.9, 0.8, 0.7))}
    cols["solo"] = rng.normal(size=n)
    return cols


def _relation_log(fault: str, seed: int) -> tuple[PredictionLog, float]:
    """A regression on a0 (and solo); since the onset a0 is `fault`: replaced by noise of the same
    mean and spread, shifted by 2 std, or multiplied by 100."""
    rng = np.random.default_rng(seed)
    n = 12000
    ts = MONDAY + np.sort(rng.uniform(0, 8 * 3600.0, n))
    onset = MONDAY + 5 * 3600.0
    after = ts >= onset
    x = _related_inputs(rng, n)
    truth = 3.0 * x["a0"] + x["solo"] + rng.normal(0.0, 0.5, n)
    a0 = x["a0"].copy()
    if fault == "noise":
        a0[after] = rng.normal(a0.mean(), a0.std(), after.sum())
    elif fault == "shift":
        a0[after] += 2.0 * a0.std()
    elif fault == "unit":
        a0[after] *= 100.0
    x["a0"] = a0
    pred = 3.0 * a0 + x["solo"]
    log = PredictionLog(
        timestamp=ts,
        model_version=Categorical(np.zeros(n, np.int32), np.array(["r1"], dtype=object)),
        prediction=pred,
        label=truth,
        latency_ms=None,
        error=None,
        features=x,
        name="relations",
    )
    return log, onset


def test_a_feature_replaced_by_noise_is_a_data_fault_not_concept_drift() -> None:
    """a0 replaced by Gaussian noise of the same mean and spread: its own distribution barely
    moves (no drift finding), the loss rises everywhere, and before this check the verdict was
    concept drift (retrain on the broken column). Its rank correlation with a1..a3 fell to ~0
    while a1..a3 kept theirs with each other: the column is named."""
    for seed in (1, 2):
        log, onset = _relation_log("noise", seed)
        d = diagnose(log, onset=onset)
        assert (d.cause, d.culprit_kind, d.culprit_name) == ("data", "feature", "a0"), d.to_dict()
        assert d.recommended_mitigation == "naive_model"
        top = d.findings[0]
        assert top.check == "relation_break" and top.details["broken"] == 3


def test_a_shift_or_a_unit_change_keeps_the_relations() -> None:
    """A level shift or a unit factor moves a column's values but not its ranks inside a window:
    those are drift and unit findings, never a broken relation."""
    for fault in ("shift", "unit", "none"):
        log, onset = _relation_log(fault, 3)
        d = diagnose(log, onset=onset)
        assert not any(f.check == "relation_break" for f in d.findings), (fault, d.to_dict())


def _pool_log(rng: np.random.Generator, ts: np.ndarray, rows: np.ndarray, pool: np.ndarray) -> PredictionLog:
    n = ts.size
    x = pool[rows]
    truth = x[:, 0] + 0.5 * x[:, 1]
    names = ("x0", "x1", "x2")
    return PredictionLog(
        timestamp=ts,
        model_version=Categorical(np.zeros(n, np.int32), np.array(["r1"], dtype=object)),
        prediction=truth + 0.1 * x[:, 2],
        label=truth + rng.normal(0.0, 0.3, n),
        latency_ms=rng.lognormal(np.log(30.0), 0.3, n),
        error=np.zeros(n),
        features={k: x[:, j] for j, k in enumerate(names)},
        name="pool",
    )


def test_replayed_traffic_is_a_traffic_finding() -> None:
    """A replay job re-sends the hour before the onset once, interleaved with live traffic: the
    rate rises only ~1.3x (no spike) and every distribution stays the same, so before this
    check the log was 'healthy'. A quarter of the rows since the onset repeat an earlier request."""
    rng = np.random.default_rng(11)
    n = 10000
    live = MONDAY + np.sort(rng.uniform(0, 8 * 3600.0, n))
    onset = MONDAY + 5 * 3600.0
    pool = rng.normal(size=(n, 3))
    hour = np.flatnonzero((live >= onset - 3600.0) & (live < onset))
    ts = np.concatenate([live, live[hour] + 3600.0 + rng.uniform(0, 5, hour.size)])
    rows = np.concatenate([np.arange(n), hour])
    order = np.argsort(ts, kind="stable")
    log = _pool_log(rng, ts[order], rows[order], pool)
    d = diagnose(log, onset=onset)
    verdict = (d.cause, d.culprit_kind, d.recommended_mitigation)
    assert verdict == ("service", "traffic", "escalate_service"), d.to_dict()
    f = d.findings[0]
    assert f.check == "replayed_requests" and f.details["repeated_share_current"] > 0.2


@pytest.mark.parametrize("catalogue", [400, 6000])
def test_traffic_that_always_repeats_is_not_a_replay(catalogue: int) -> None:
    """Returning users: every request comes from a catalogue of inputs. With 400 most rows
    repeat an earlier one; with 6,000 the share of repeats grows through the log (more of the
    catalogue has been seen), which counted from the log's start made the later window look
    replayed. Every row looks back equally far, so the share is steady: no finding."""
    rng = np.random.default_rng(12)
    n = 10000
    ts = MONDAY + np.sort(rng.uniform(0, 8 * 3600.0, n))
    pool = rng.normal(size=(catalogue, 3))
    log = _pool_log(rng, ts, rng.integers(0, catalogue, n), pool)
    d = diagnose(log, onset=MONDAY + 5 * 3600.0)
    assert d.cause == "none", d.to_dict()
    assert not any(f.check == "replayed_requests" for f in d.findings)


def test_a_gradual_concept_drift_is_dated_at_the_foot_of_its_ramp() -> None:
    """The label's dependence on x1 grows linearly over the last 3.2 hours of an 8-hour log (a
    concept drift that builds up). The best single step sits half-way up the ramp: the onset was
    detected 70-90 minutes late, and the reference held half the fault. The ramp's foot is
    found from the mean loss; the verdict stays concept drift."""
    rng = np.random.default_rng(21)
    n = 15000
    ts = MONDAY + np.sort(rng.uniform(0, 8 * 3600.0, n))
    onset = MONDAY + 0.6 * 8 * 3600.0
    x = {f"f{i}": rng.uniform(0, 1, n) for i in range(5)}
    truth = 10 * np.sin(np.pi * x["f0"] * x["f1"]) + 20 * (x["f2"] - 0.5) ** 2 + 10 * x["f3"] + 5 * x["f4"]
    pred = truth + rng.normal(0.0, 1.0, n)
    ramp = np.clip((ts - onset) / (ts[-1] - onset), 0.0, 1.0)
    label = truth + rng.normal(0.0, 1.0, n) + ramp * 10 * (x["f1"] - 0.5)
    log = PredictionLog(
        timestamp=ts,
        model_version=Categorical(np.zeros(n, np.int32), np.array(["2026.11.1"], dtype=object)),
        prediction=pred,
        label=label,
        latency_ms=None,
        error=None,
        features=x,
        name="gradual",
    )
    d = diagnose(log)
    assert d.onset_detected
    assert abs(d.onset - onset) < 45 * 60.0, (d.onset - onset) / 60.0
    assert (d.cause, d.culprit_kind) == ("model", "concept"), d.to_dict()
