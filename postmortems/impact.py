"""What the prediction log says about an incident: how many predictions it touched, and the metric.

The postmortem reads the log (the docs/contracts.md prediction-log format) only for the impact
figures and the two charts; the diagnosis itself comes from the incident record. A log
that cannot be read is reported in the draft rather than failing it: the draft is still
useful without numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from diagnostics.loader import LogError, load_log
from diagnostics.log import RESERVED_COLUMNS, Categorical


class PredictionLogError(ValueError):
    """The log at a path cannot be used; the message names the file and what is wrong."""


def _column(values: Any) -> Any:
    return values.to_numpy() if isinstance(values, Categorical) else values


def load_prediction_log(source: str | Path) -> pd.DataFrame:
    """Read a prediction log with the diagnostics' own loader (CSV, Parquet or a SQLAlchemy URL with
    ``?table=``), as a frame with ``timestamp`` tz-aware UTC, sorted by time."""
    try:
        log = load_log(source)
    except LogError as exc:
        raise PredictionLogError(str(exc)) from exc
    data: dict[str, Any] = {
        "timestamp": pd.to_datetime(log.timestamp, unit="s", utc=True),
        "model_version": _column(log.model_version),
        "prediction": _column(log.prediction),
    }
    if log.label is not None:
        data["label"] = _column(log.label)
    if log.latency_ms is not None:
        data["latency_ms"] = log.latency_ms
    if log.error is not None:
        data["error"] = log.error
    for name, values in log.features.items():
        data[name] = _column(values)
    frame = pd.DataFrame(data)
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class Impact:
    """Counts over the impact window [onset, end]."""

    window_start: datetime
    window_end: datetime
    predictions: int
    failed_requests: int | None
    wrong_predictions: int | None
    excess_wrong_predictions: int | None
    model_versions: list[str]


def _in_window(frame: pd.DataFrame, start: datetime, end: datetime) -> pd.Series:
    ts = frame["timestamp"]
    return (ts >= pd.Timestamp(start)) & (ts <= pd.Timestamp(end))


def _is_wrong(frame: pd.DataFrame) -> pd.Series | None:
    """Per labelled row: was the prediction wrong? None when the log carries no usable label."""
    if "label" not in frame.columns or "prediction" not in frame.columns:
        return None
    labelled = frame["label"].notna()
    if not labelled.any():
        return None
    pred, label = frame["prediction"], frame["label"]
    if pd.api.types.is_numeric_dtype(pred) and pd.api.types.is_numeric_dtype(label):
        label_values = set(np.unique(label[labelled].to_numpy()))
        if label_values <= {0, 1} and pred.between(0, 1).all():
            wrong = (pred >= 0.5).astype(int) != label
        elif np.allclose(pred.to_numpy(), np.round(pred.to_numpy())):
            wrong = pred.round() != label
        else:
            return None  # regression: "wrong" has no meaning, the metric chart shows the error instead
    else:
        wrong = pred.astype(str) != label.astype(str)
    return wrong.where(labelled)


def measure_impact(frame: pd.DataFrame, start: datetime, end: datetime) -> Impact:
    inside = _in_window(frame, start, end)
    window = frame[inside]
    failed = None
    if "error" in frame.columns:
        errors = window["error"].map(lambda v: str(v).strip().lower() in ("1", "true", "1.0", "yes"))
        failed = int(errors.sum())
    wrong = _is_wrong(frame)
    wrong_n = excess = None
    if wrong is not None:
        in_wrong = wrong[inside].dropna()
        wrong_n = int(in_wrong.sum())
        before = wrong[frame["timestamp"] < pd.Timestamp(start)].dropna()
        if len(before) and len(in_wrong):
            excess = max(0, int(round(wrong_n - float(before.mean()) * len(in_wrong))))
    versions = sorted({str(v) for v in window["model_version"].dropna()}) if "model_version" in frame else []
    return Impact(start, end, int(inside.sum()), failed, wrong_n, excess, versions)


@dataclass(frozen=True)
class MetricSeries:
    name: str
    times: list[datetime]
    values: list[float]


def metric_series(frame: pd.DataFrame, metric: str, *, bins: int = 40,
                  start: datetime | None = None, end: datetime | None = None) -> MetricSeries:
    """The affected metric per time bin: "latency" (p95 ms), "errors" (rate) or "quality"."""
    if start is not None and end is not None:
        frame = frame[_in_window(frame, start, end)]
    if frame.empty:
        return MetricSeries(metric, [], [])
    ts = frame["timestamp"]
    edges = pd.date_range(ts.min(), ts.max() + pd.Timedelta(microseconds=1), periods=bins + 1)
    bucket = pd.cut(ts, edges, labels=False, include_lowest=True)
    if metric == "latency" and "latency_ms" in frame.columns:
        name, grouped = "p95 latency (ms)", frame["latency_ms"].groupby(bucket).quantile(0.95)
    elif metric == "errors" and "error" in frame.columns:
        errors = frame["error"].map(lambda v: float(str(v).strip().lower() in ("1", "true", "1.0", "yes")))
        name, grouped = "error rate", errors.groupby(bucket).mean()
    else:
        wrong = _is_wrong(frame)
        if wrong is not None:
            name, grouped = "accuracy", (1.0 - wrong.astype(float)).groupby(bucket).mean()
        elif "label" in frame.columns and frame["label"].notna().any():
            abs_err = (frame["prediction"].astype(float) - frame["label"].astype(float)).abs()
            name, grouped = "mean absolute error", abs_err.groupby(bucket).mean()
        else:
            scores = pd.to_numeric(frame["prediction"], errors="coerce")
            name, grouped = "mean prediction", scores.groupby(bucket).mean()
    grouped = grouped.dropna()
    mids = [(edges[int(i)] + (edges[int(i) + 1] - edges[int(i)]) / 2).floor("us").to_pydatetime()
            for i in grouped.index]
    return MetricSeries(name, mids, [float(v) for v in grouped.to_numpy()])


def feature_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in RESERVED_COLUMNS]
