"""The exported gauges of one monitor run, from the rows the engine judges (read once).

A run reads each window once: the exact row counts come from one `COUNT(*)` per window, and
everything else — drift, missing shares, quality, latency, error rate — from the same
(possibly sampled) arrays the diagnostics engine judges, with the engine's own statistics
(the drift gauge is the PSI on reference deciles that `diagnose`'s drift check quotes), so a
graph and a verdict can never disagree about what they measured. Sampling keeps the same share
of both windows; every gauge but the row counts is a share or a quantile, which sampling leaves
unbiased (100,000 rows put a decile PSI's noise near 0.0001).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bot.monitors.layout import Task
from bot.monitors.schema import ChecksSpec
from diagnostics.context import detect_task, row_loss
from diagnostics.log import Categorical, PredictionLog, align_categorical
from diagnostics.stats import bin_counts_sorted, psi_from_counts, quantile_edges


def watched_features(checks: ChecksSpec, names: list[str]) -> list[str]:
    """The features a monitor looks at (``checks.drift.features`` minus ``ignore``; all by default)."""
    drift = checks.drift
    if drift is None:
        return names
    keep = [n for n in names if drift.features is None or n in drift.features]
    return [n for n in keep if n not in set(drift.ignore)]


def feature_psi(ref: np.ndarray | Categorical, cur: np.ndarray | Categorical) -> float | None:
    """PSI of one feature as `diagnose` computes it: reference deciles, or the categories of both."""
    if isinstance(ref, Categorical) != isinstance(cur, Categorical):
        return None
    if isinstance(ref, Categorical):
        assert isinstance(cur, Categorical)
        r_codes, c_codes, cats = align_categorical(ref, cur)
        r = np.bincount(r_codes[r_codes >= 0], minlength=len(cats))
        c = np.bincount(c_codes[c_codes >= 0], minlength=len(cats))
        if not r.sum() or not c.sum():
            return 0.0
        seen = (r > 0) | (c > 0)
        return psi_from_counts(r[seen], c[seen])
    assert not isinstance(cur, Categorical)
    rs = np.sort(ref)[: ref.shape[0] - int(np.isnan(ref).sum())]
    cs = np.sort(cur)[: cur.shape[0] - int(np.isnan(cur).sum())]
    if not rs.size or not cs.size:
        return None
    edges = quantile_edges(rs, 10)
    return psi_from_counts(bin_counts_sorted(rs, edges), bin_counts_sorted(cs, edges))


def missing_share(values: np.ndarray | Categorical) -> float:
    n = len(values)
    if not n:
        return 0.0
    empty = values.codes < 0 if isinstance(values, Categorical) else np.isnan(values)
    return float(np.count_nonzero(empty)) / n


def _metric_terms(log: PredictionLog, metric: str) -> np.ndarray:
    """Per row, the term whose mean gives the metric (NaN where unlabelled or not applicable).

    accuracy: 1 - hit (the value is 1 - mean); mae: |error|; rmse: error² (the value is the
    root of the mean). Classification losses are 0/1, so their "mae" is the error rate.
    """
    task = detect_task(log.prediction, log.label)
    loss = row_loss(log.prediction, log.label, task)
    if metric == "rmse":
        return loss**2
    if metric != "accuracy":
        return loss
    if task.kind == "classification":
        return loss
    if task.kind == "binary_score" and not isinstance(log.prediction, Categorical):
        assert not isinstance(log.label, Categorical) and log.label is not None
        miss = ((log.prediction >= 0.5) != (log.label >= 0.5)).astype(np.float64)
        return np.where(np.isfinite(loss), miss, np.nan)
    return np.full(len(log), np.nan)  # no accuracy for a regression


def _metric_value(total: float, count: float, metric: str) -> float | None:
    if count <= 0:
        return None
    mean = total / count
    return 1.0 - mean if metric == "accuracy" else math.sqrt(mean) if metric == "rmse" else mean


def quality(log: PredictionLog, metric: str) -> tuple[float | None, dict[str, float]]:
    """The metric over the window and per model version (versions without labels left out)."""
    terms = _metric_terms(log, metric)
    ok = np.isfinite(terms)
    overall = _metric_value(float(terms[ok].sum()), float(ok.sum()), metric)
    version = log.model_version
    assert isinstance(version, Categorical)
    keep = ok & (version.codes >= 0)
    k = len(version.categories)
    counts = np.bincount(version.codes[keep], minlength=k)
    sums = np.bincount(version.codes[keep], weights=terms[keep], minlength=k)
    per_version: dict[str, float] = {}
    for i in np.flatnonzero(counts):
        value = _metric_value(float(sums[i]), float(counts[i]), metric)
        if value is not None:
            per_version[str(version.categories[i])] = value
    return overall, per_version


def _quantile(values: np.ndarray | None, q: float) -> float | None:
    if values is None:
        return None
    finite = values[np.isfinite(values)]
    return float(np.quantile(finite, q)) if finite.size else None


def window_metrics(checks: ChecksSpec, task: Task, reference: PredictionLog, current: PredictionLog, *,
                   rows: int, reference_rows: int, current_minutes: float,
                   reference_minutes: float | None) -> dict[str, Any]:
    """The gauges of one run; ``rows``/``reference_rows`` are the windows' exact counts."""
    metrics: dict[str, Any] = {"rows": rows, "reference_rows": reference_rows}
    drift: dict[str, float] = {}
    missing: dict[str, float] = {}
    for name in watched_features(checks, [n for n in current.features if n in reference.features]):
        r, c = reference.features[name], current.features[name]
        if isinstance(r, Categorical) != isinstance(c, Categorical):
            continue  # a retyped column: `diagnose` reports it (schema_change); no gauge compares them
        value = feature_psi(r, c)
        if value is not None:
            drift[name] = value
        missing[name] = missing_share(c)
    metrics["drift"] = {k: round(v, 6) for k, v in drift.items()}
    metrics["missing"] = {k: round(v, 6) for k, v in missing.items()}
    q = checks.quality
    metric = (q.metric if q is not None and q.metric else None) or (
        "accuracy" if task == "classification" else "mae")
    value, per_version = quality(current, metric)
    ref_value, _ = quality(reference, metric)
    metrics["quality"] = {"metric": metric, "value": value, "reference": ref_value, "per_version": per_version}
    quantile = checks.latency.quantile if checks.latency is not None else 0.95
    metrics["latency"] = {"quantile": quantile, "value_ms": _quantile(current.latency_ms, quantile),
                          "reference_ms": _quantile(reference.latency_ms, quantile)}
    error = current.error
    known = error[np.isfinite(error)] if error is not None else np.empty(0)
    metrics["error_rate"] = float(np.count_nonzero(known)) / known.size if known.size else None
    metrics["rows_per_minute"] = rows / current_minutes if current_minutes > 0 else None
    if reference_minutes:
        metrics["reference_rows_per_minute"] = reference_rows / reference_minutes
    return metrics
