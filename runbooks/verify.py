"""Did the metric recover? A canary-style judgement of after-mitigation against baseline.

Like Kayenta and Argo Rollouts' judges: the measurements taken after the mitigation are
compared with the pre-incident baseline by a one-sided Mann–Whitney U rank test (robust to
outliers and to non-normal metrics), and a significant difference only counts as "not
recovered" when its size — the Hodges–Lehmann shift relative to the baseline median — is
above an effect-size floor. Too few measurements on either side is "inconclusive", never a
pass: silence is not evidence of recovery.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
import numpy as np

from runbooks.schema import Expectation

Result = Literal["pass", "fail", "inconclusive"]
_MAX_PAIRS_SIDE = 2000
_MAX_POINTS = 10_000


class MetricUnavailable(Exception):
    """The measurements could not be fetched; the verdict is inconclusive, with this reason."""


@dataclass(frozen=True)
class RecoveryVerdict:
    result: Result
    message: str
    n_baseline: int
    n_after: int
    measurements: int
    better: str
    min_effect: float
    alpha: float
    p_value: float | None = None
    effect: float | None = None
    baseline_median: float | None = None
    after_median: float | None = None
    estimated: bool = False  # the after-mitigation figure is an estimate (its labels have not arrived)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mann_whitney_u(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    try:
        from diagnostics import mann_whitney_u
    except ImportError:  # pragma: no cover - diagnostics ships with the package
        from scipy.stats import mannwhitneyu

        res = mannwhitneyu(a, b, alternative="two-sided")
        return float(res.statistic), float(res.pvalue)
    return mann_whitney_u(a, b)


def _thin(x: np.ndarray) -> np.ndarray:
    if x.shape[0] <= _MAX_PAIRS_SIDE:
        return x
    return x[np.linspace(0, x.shape[0] - 1, _MAX_PAIRS_SIDE).astype(int)]


def judge(baseline: Sequence[float] | np.ndarray, after: Sequence[float] | np.ndarray,
          expect: Expectation) -> RecoveryVerdict:
    """pass / fail / inconclusive for ``after`` against ``baseline`` under ``expect``."""
    b = np.asarray(baseline, dtype=np.float64)
    a = np.asarray(after, dtype=np.float64)
    b, a = b[np.isfinite(b)], a[np.isfinite(a)]
    common: dict[str, Any] = {
        "n_baseline": int(b.shape[0]), "n_after": int(a.shape[0]), "measurements": expect.measurements,
        "better": expect.better, "min_effect": expect.min_effect, "alpha": expect.alpha,
    }
    if b.shape[0] < expect.measurements or a.shape[0] < expect.measurements:
        return RecoveryVerdict(
            "inconclusive",
            f"too little data to judge: {a.shape[0]} measurement(s) after the mitigation and {b.shape[0]} "
            f"in the baseline; {expect.measurements} needed on each side",
            **common,
        )
    u_after, p_two = _mann_whitney_u(a, b)
    n_a, n_b = a.shape[0], b.shape[0]
    # "Worse" is higher values when lower is better, and the other way round.
    after_ranks_high = u_after > n_a * n_b / 2.0
    worse_side = after_ranks_high if expect.better == "lower" else not after_ranks_high
    p_worse = p_two / 2.0 if worse_side else 1.0 - p_two / 2.0
    shift = float(np.median(np.subtract.outer(_thin(a), _thin(b))))  # Hodges–Lehmann estimate
    worse_shift = shift if expect.better == "lower" else -shift
    base_median = float(np.median(b))
    scale = abs(base_median)
    if scale == 0.0:
        iqr = float(np.subtract(*np.percentile(b, [75, 25])))
        scale = iqr if iqr > 0 else 1.0
    effect = worse_shift / scale
    after_median = float(np.median(a))
    numbers = (f"median {after_median:.4g} after vs {base_median:.4g} baseline, "
               f"{'worse' if effect > 0 else 'better or equal'} by {abs(effect):.1%}, "
               f"one-sided Mann–Whitney p={p_worse:.3g}, n={n_a}/{n_b}")
    details: dict[str, Any] = {**common, "p_value": p_worse, "effect": effect, "baseline_median": base_median,
               "after_median": after_median}
    if p_worse < expect.alpha and effect > expect.min_effect:
        return RecoveryVerdict("fail", f"not recovered: {numbers} (floor {expect.min_effect:.0%}, "
                               f"alpha {expect.alpha})", **details)
    return RecoveryVerdict("pass", f"recovered: {numbers}", **details)


def prometheus_range(base_url: str, query: str, start: datetime, end: datetime, step_s: float,
                     *, timeout: float = 10.0) -> np.ndarray:
    """Values of a one-series PromQL range query (``/api/v1/query_range``)."""
    if end <= start:
        return np.empty(0)
    step_s = max(step_s, 0.001)
    if (end - start).total_seconds() / step_s > _MAX_POINTS:  # Prometheus refuses more than 11,000 points
        start = end - timedelta(seconds=_MAX_POINTS * step_s)
    url = base_url.rstrip("/") + "/api/v1/query_range"
    params = {"query": query, "start": f"{start.timestamp():.3f}", "end": f"{end.timestamp():.3f}",
              "step": f"{step_s:g}"}
    try:
        resp = httpx.get(url, params=params, timeout=timeout)
    except httpx.HTTPError as exc:
        raise MetricUnavailable(f"Prometheus at {base_url} unreachable: {type(exc).__name__}: {exc}") from exc
    try:
        payload = resp.json()
    except ValueError as exc:
        raise MetricUnavailable(f"Prometheus answered HTTP {resp.status_code} with non-JSON") from exc
    if resp.status_code != 200 or payload.get("status") != "success":
        raise MetricUnavailable(f"Prometheus refused the query {query!r}: HTTP {resp.status_code} "
                                f"{payload.get('errorType', '')} {payload.get('error', '')}".strip())
    result = payload.get("data", {}).get("result", [])
    if not result:
        return np.empty(0)
    if len(result) > 1:
        raise MetricUnavailable(f"the query {query!r} returns {len(result)} series; aggregate it to one "
                                "(e.g. with sum() or avg())")
    values = [float(v) for _, v in result[0].get("values", [])]
    return np.asarray(values, dtype=np.float64)


def _realized(log: Any, metric: str) -> np.ndarray:
    """Per-row correctness (accuracy) or absolute error (mae); NaN where the label is not known yet."""
    from diagnostics.context import detect_task, row_loss

    if log.label is None:
        raise MetricUnavailable(f"{log.name}: no 'label' column, so {metric} cannot be measured")
    task = detect_task(log.prediction, log.label)
    if metric == "mae":
        if task.kind != "regression":
            raise MetricUnavailable(f"{log.name}: mae needs numeric predictions and labels (a regression log)")
        return np.asarray(row_loss(log.prediction, log.label, task), dtype=np.float64)
    if task.kind == "binary_score":  # a probability: the hard prediction is score >= 0.5
        label = np.asarray(log.label, dtype=np.float64)
        return np.where(np.isfinite(label), ((np.asarray(log.prediction) >= 0.5) == (label == 1.0)) * 1.0, np.nan)
    pred, label = _decoded(log.prediction), _decoded(log.label)
    known = np.array([v is not None and not (isinstance(v, float) and math.isnan(v)) for v in label])
    return np.where(known, (pred.astype(str) == label.astype(str)).astype(np.float64), np.nan)


def estimated_after_buckets(log: Any, metric: str, baseline_start: float, baseline_end: float, after_start: float,
                            bucket_s: float) -> tuple[np.ndarray, str]:
    """Per-bucket *estimated* accuracy/mae after the mitigation, for rows whose labels have not arrived.

    The estimator (`diagnostics.estimate`) is fitted on the labelled baseline rows: confidence-based
    for probability scores (accuracy), a learned error model for regression (mae), and for class
    names without probabilities a label model of the baseline (accuracy: how likely each row's
    class is right given its inputs). MetricUnavailable says when none of them can be fitted.
    Returns the buckets and a sentence saying how the figure was estimated.
    """
    from diagnostics.context import detect_task, row_loss
    from diagnostics.estimate import fit_estimator

    if metric not in ("accuracy", "mae") or log.label is None:
        raise MetricUnavailable(f"{metric} cannot be estimated without labels")
    ts = np.asarray(log.timestamp, dtype=np.float64)
    task = detect_task(log.prediction, log.label)
    base = log.take(np.flatnonzero((ts >= baseline_start) & (ts < baseline_end)))
    if task.kind == "classification" and metric == "accuracy":
        return _class_name_buckets(log, base, ts, after_start, bucket_s)
    est = fit_estimator(base, row_loss(base.prediction, base.label, task), task)
    wanted = "confidence" if metric == "accuracy" else "learned_loss"
    if est is None or est.method != wanted:
        why = ("its predictions are class names without probabilities" if task.kind == "classification"
               else f"the baseline has too few labelled rows or the wrong kind of prediction for {metric}")
        raise MetricUnavailable(f"labels after the mitigation have not arrived and {metric} cannot be estimated: {why}")
    after_idx = np.flatnonzero(ts >= after_start)
    after = log.take(after_idx)
    per_row = est.expected_accuracy(after) if metric == "accuracy" else est.expected_loss(after)
    how = ("from the predicted probabilities" + (" recalibrated on the baseline" if est.calibrated else "")
           if est.method == "confidence" else "by an error model learned on the labelled baseline")
    return _buckets(ts[after_idx], per_row, after_start, bucket_s, f"{metric} after the mitigation estimated {how}")


def _class_name_buckets(log: Any, base: Any, ts: np.ndarray, after_start: float,
                        bucket_s: float) -> tuple[np.ndarray, str]:
    """Class names carry no confidence: each row's chance of being right comes from a label model
    learned on the labelled baseline (the label its inputs likely have, `diagnostics.late_labels`)."""
    from diagnostics.late_labels import estimated_class_accuracy

    after_idx = np.flatnonzero(ts >= after_start)
    got = estimated_class_accuracy(base, log.take(after_idx))
    if got is None:
        raise MetricUnavailable("labels after the mitigation have not arrived and accuracy cannot be estimated: "
                                "the baseline has too few labelled rows to learn the labels from the inputs")
    rows, per_row = got
    return _buckets(ts[after_idx][rows], per_row, after_start, bucket_s,
                    "accuracy after the mitigation estimated from the inputs by a label model learned on the "
                    "labelled baseline")


def _buckets(ts: np.ndarray, per_row: np.ndarray, after_start: float, bucket_s: float,
             how: str) -> tuple[np.ndarray, str]:
    ok = np.isfinite(per_row)
    if not ok.any():
        return np.empty(0), ""
    buckets = np.floor((ts[ok] - after_start) / bucket_s).astype(np.int64)
    sums = np.bincount(buckets, weights=per_row[ok])
    counts = np.bincount(buckets)
    return np.asarray(sums[counts > 0] / counts[counts > 0]), how


def _decoded(values: Any) -> np.ndarray:
    to_numpy = getattr(values, "to_numpy", None)
    return np.asarray(to_numpy() if callable(to_numpy) else values)


def log_metric_buckets(log: Any, metric: str, start: float, end: float, bucket_s: float) -> np.ndarray:
    """Per-bucket metric of a `PredictionLog` between epoch ``start`` and ``end`` (empty buckets dropped)."""
    ts = np.asarray(log.timestamp, dtype=np.float64)
    sel = (ts >= start) & (ts < end)
    if not sel.any():
        return np.empty(0)
    if metric in ("accuracy", "mae"):
        per_row = _realized(log, metric)
    elif metric == "error_rate":
        if log.error is None:
            raise MetricUnavailable(f"{log.name}: no 'error' column, so the error rate cannot be measured")
        per_row = np.asarray(log.error, dtype=np.float64)
    elif metric == "latency_ms":
        if log.latency_ms is None:
            raise MetricUnavailable(f"{log.name}: no 'latency_ms' column")
        per_row = np.asarray(log.latency_ms, dtype=np.float64)
    elif metric == "mean_prediction":
        per_row = np.asarray(_decoded(log.prediction), dtype=np.float64)
    else:
        raise MetricUnavailable(f"unknown log metric {metric!r}")
    sel &= np.isfinite(per_row)
    if not sel.any():
        return np.empty(0)
    buckets = np.floor((ts[sel] - start) / bucket_s).astype(np.int64)
    sums = np.bincount(buckets, weights=per_row[sel])
    counts = np.bincount(buckets)
    nonempty = counts > 0
    return np.asarray(sums[nonempty] / counts[nonempty], dtype=np.float64)
