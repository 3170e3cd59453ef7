"""Synthetic prediction logs with one injected fault each, built straight from numpy arrays.

A known model reads two important inputs (`x0`, `x1`); `noise` is logged but never read;
`tier` is a categorical derived from `x0` (so it matters), `region` is categorical and unused.
Faults break what the model *reads*, so predictions react the way a real system's would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diagnostics import Categorical, ChangeRecord, PredictionLog

START = 1_795_000_000.0  # 2026-11-18
SPAN = 6 * 3600.0
ONSET_FRAC = 0.65


@dataclass
class Case:
    log: PredictionLog
    onset: float
    changes: list[ChangeRecord]
    reference: PredictionLog | None = None


def _tier(x0: np.ndarray) -> np.ndarray:
    return np.where(x0 > 0.5, "gold", np.where(x0 > -0.5, "silver", "bronze")).astype(object)


def make_case(fault: str = "healthy", *, n: int = 6000, seed: int = 0, task: str = "classification") -> Case:
    rng = np.random.default_rng(seed)
    ts = START + np.sort(rng.uniform(0.0, SPAN, n))
    onset = START + ONSET_FRAC * SPAN
    x0 = rng.normal(size=n)
    x1 = rng.normal(size=n)
    noise = rng.lognormal(4.0, 0.5, size=n)
    region = rng.choice(np.array(["eu", "us", "apac", "latam"], dtype=object), p=[0.35, 0.3, 0.22, 0.13], size=n)
    truth = x0 + 0.7 * x1 + rng.normal(0.0, 0.4, size=n)
    latency = 25.0 * rng.lognormal(0.0, 0.3, size=n)
    error = rng.random(n) < 0.002
    versions = np.full(n, "v1", dtype=object)
    changes = [ChangeRecord(START + 3600.0, "pipeline_run", "ml", "hourly backfill")]
    after = ts >= onset
    served0, served1 = x0.copy(), x1.copy()
    tier = _tier(x0)
    bad_model = np.zeros(n, dtype=bool)

    if fault == "drift":
        x0[after] += 1.5
        served0 = x0.copy()
        tier = _tier(x0)
    elif fault == "missing":
        hit = after & (rng.random(n) < 0.5)
        x0[hit] = np.nan
        served0 = np.nan_to_num(x0, nan=0.0)
    elif fault == "stuck":
        x0[after] = x0[~after][-1]
        served0 = x0.copy()
    elif fault == "unit":
        x0[after] *= 1000.0
        served0 = x0.copy()
    elif fault == "unseen":
        tier[after] = np.char.upper(tier[after].astype(str)).astype(object)
    elif fault == "emptied":
        x0[after] = np.nan
        served0 = np.nan_to_num(x0, nan=0.0)
    elif fault in ("bad_version", "bad_version_canary", "confounded_drift_during_bad_deploy"):
        share = 0.4 if fault == "bad_version_canary" else 1.0
        bad_model = after & (rng.random(n) < share)
        versions[bad_model] = "v2"
        if fault == "confounded_drift_during_bad_deploy":
            noise[after] = noise[after] * 3.0 + 60.0
            changes.append(ChangeRecord(onset, "model_deploy", "ml", "deployed v2", "v1", "v2"))
    elif fault == "confounded_deploy_during_drift":
        deploy = onset - 600.0
        versions[ts >= deploy] = "v2"
        changes.append(ChangeRecord(deploy, "model_deploy", "ml", "deployed v2 (retrain)", "v1", "v2"))
        x0[after] += 2.0
        served0 = x0.copy()
        tier = _tier(x0)
    elif fault == "healthy_deploy":
        deploy = onset - 300.0
        versions[ts >= deploy] = "v2"
        changes.append(ChangeRecord(deploy, "model_deploy", "ml", "deployed v2 (retrain)", "v1", "v2"))

    score = served0 + 0.7 * served1
    score_bad = served1 - 0.3 * served0  # a model trained on the wrong columns
    score = np.where(bad_model, score_bad, score)

    if fault == "concept":
        flip = after & (rng.random(n) < 0.4)
        truth = np.where(flip, -truth, truth)
    elif fault == "segment":
        flip = after & (region == "apac") & (rng.random(n) < 0.8)
        truth = np.where(flip, -truth, truth)
    elif fault == "latency":
        latency[after] *= 2.5
    elif fault == "errors":
        error |= after & (rng.random(n) < 0.12)
    elif fault in ("traffic", "gap"):
        keep = ~after | (rng.random(n) < 0.25) if fault == "traffic" else ~(after & (ts < onset + 2400.0))
        ts, x0, x1, noise, region, tier = ts[keep], x0[keep], x1[keep], noise[keep], region[keep], tier[keep]
        truth, latency, error, versions, score = truth[keep], latency[keep], error[keep], versions[keep], score[keep]
        n = int(keep.sum())

    if task == "classification":
        prediction = np.where(score > 0, "pos", "neg").astype(object)
        label = np.where(truth > 0, "pos", "neg").astype(object)
        prediction[error] = None
    else:
        prediction = 3.0 * score + 10.0
        label = 3.0 * truth + 10.0
        prediction[error] = np.nan
    unlabelled = rng.random(n) > 0.85
    if task == "classification":
        label[unlabelled] = None
    else:
        label[unlabelled] = np.nan

    features: dict[str, np.ndarray | Categorical] = {"x0": x0, "x1": x1, "noise": noise, "region": region, "tier": tier}
    log = PredictionLog(
        timestamp=ts,
        model_version=versions,
        prediction=prediction,
        label=label,
        latency_ms=latency,
        error=error.astype(float),
        features=features,
        name=f"synthetic-{fault}",
    )
    return Case(log=log, onset=onset, changes=changes)


def matrix_log(
    x: np.ndarray, pred: np.ndarray, label: np.ndarray, versions: np.ndarray, start: float, step: float = 3.0
) -> PredictionLog:
    """A log of a model's answers on an input matrix (`x0`..): one row every `step` seconds, no failure."""
    n = x.shape[0]
    return PredictionLog(
        timestamp=start + np.arange(n) * step,
        model_version=versions,
        prediction=pred,
        label=label,
        latency_ms=np.full(n, 20.0),
        error=np.zeros(n, dtype=bool),
        features={f"x{i}": x[:, i].copy() for i in range(x.shape[1])},
    )
