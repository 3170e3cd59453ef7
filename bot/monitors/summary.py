"""Window summaries: the few numbers per column that every monitor check needs.

A monitor never needs the rows themselves, only counts: per numeric feature its null count,
range, moments and cumulative counts at fixed edges; per categorical feature its value counts;
labelled/correct counts per model version; a latency histogram on fixed log-spaced edges; the
error count. Those are sums, so a database computes them in one scan (`sources`) and a stream
of Parquet/CSV batches merges them chunk by chunk: memory stays flat whatever the window size.
The numpy path here is also the load-everything baseline the SQL path is checked against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

FINE_BINS = 32  # equal-width bins over the reference range; checks merge them into quantile bins
TOP_CATEGORIES = 200
# 0.5 ms .. 2 min, ~22% apart: a p95 read from this histogram is within ~10% of the exact one,
# plenty for ratio thresholds like 1.5x, and cheap enough to compute in SQL.
LATENCY_EDGES: tuple[float, ...] = tuple(float(x) for x in np.geomspace(0.5, 120_000.0, 64))

Task = Literal["classification", "regression"]
TsKind = Literal["numeric", "datetime", "text"]


@dataclass(frozen=True)
class Layout:
    """How a source's columns map onto the prediction-log contract (found by probing a sample)."""

    timestamp: str
    ts_kind: TsKind
    ts_sep: str  # "T" or " " for text timestamps, so bounds compare lexicographically
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    task: Task
    has_version: bool
    has_label: bool
    has_latency: bool
    error_kind: Literal["none", "bool", "numeric", "text"]
    columns: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"numeric": list(self.numeric), "categorical": list(self.categorical), "task": self.task}


@dataclass
class NumericStats:
    count: int = 0
    nulls: int = 0
    min: float | None = None
    max: float | None = None
    sum: float = 0.0
    sumsq: float = 0.0
    below: int = 0  # values under the first edge (the reference minimum)
    cum: list[int] = field(default_factory=list)  # count of values <= each edge

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None

    @property
    def std(self) -> float | None:
        if not self.count:
            return None
        var = self.sumsq / self.count - (self.sum / self.count) ** 2
        return float(np.sqrt(max(var, 0.0)))


@dataclass
class VersionStats:
    rows: int = 0
    labelled: int = 0
    correct: int = 0
    pairs: int = 0
    abs_err: float = 0.0
    sq_err: float = 0.0


@dataclass
class WindowSummary:
    rows: int = 0
    numeric: dict[str, NumericStats] = field(default_factory=dict)
    categorical: dict[str, dict[str, int]] = field(default_factory=dict)  # None values under "\x00null"
    versions: dict[str, VersionStats] = field(default_factory=dict)
    latency_count: int = 0
    latency_cum: list[int] = field(default_factory=list)
    error_count: int = 0  # rows with a known error flag
    errors: int = 0

    # -------- quality over all versions
    def total(self) -> VersionStats:
        out = VersionStats()
        for v in self.versions.values():
            out.rows += v.rows
            out.labelled += v.labelled
            out.correct += v.correct
            out.pairs += v.pairs
            out.abs_err += v.abs_err
            out.sq_err += v.sq_err
        return out

    def latency_quantile(self, q: float) -> float | None:
        if not self.latency_count or not self.latency_cum:
            return None
        return quantile_from_cum(np.asarray(LATENCY_EDGES), np.asarray(self.latency_cum), self.latency_count, q)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "numeric": {k: vars(v) for k, v in self.numeric.items()},
            "categorical": self.categorical,
            "versions": {k: vars(v) for k, v in self.versions.items()},
            "latency_count": self.latency_count,
            "latency_cum": self.latency_cum,
            "error_count": self.error_count,
            "errors": self.errors,
        }


NULL_KEY = "\x00null"


def quantile_from_cum(edges: np.ndarray, cum: np.ndarray, count: int, q: float) -> float:
    """Interpolate (log-linearly) inside the bin where the cumulative count reaches ``q``."""
    target = q * count
    i = int(np.searchsorted(cum, target, side="left"))
    if i <= 0:
        return float(edges[0])
    if i >= len(edges):
        return float(edges[-1])
    lo_c, hi_c = float(cum[i - 1]), float(cum[i])
    frac = 0.0 if hi_c == lo_c else (target - lo_c) / (hi_c - lo_c)
    lo, hi = np.log(edges[i - 1]), np.log(edges[i])
    return float(np.exp(lo + frac * (hi - lo)))


def fine_edges(lo: float | None, hi: float | None) -> list[float]:
    """Equal-width edges over the reference range (one edge for a constant feature)."""
    if lo is None or hi is None:
        return []
    if hi <= lo:
        return [float(lo)]
    return [float(x) for x in np.linspace(lo, hi, FINE_BINS + 1)]


# ---------------------------------------------------------------- numpy path (files, baseline)


def epoch_seconds(values: Any) -> np.ndarray:
    """Timestamps of any contract form (datetime, ISO text, epoch seconds) as float epoch seconds."""
    s = pd.Series(values)
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype=float, na_value=np.nan)
    ts = pd.to_datetime(s, utc=True, errors="coerce", format="mixed") if s.dtype == object else \
        pd.to_datetime(s, utc=True, errors="coerce")
    out = ts.to_numpy(dtype="datetime64[ns]").astype("int64").astype(float) / 1e9
    out[ts.isna().to_numpy()] = np.nan
    return out


def _as_float(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _error_flags(values: pd.Series) -> tuple[int, int]:
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        known = values.notna()
        text = values[known].astype(str).str.lower()
        return int(known.sum()), int(text.isin(["1", "true", "t", "yes", "1.0"]).sum())
    arr = _as_float(values)
    known = ~np.isnan(arr)
    return int(known.sum()), int((arr[known] != 0).sum())


def summarize_frame(frame: pd.DataFrame, layout: Layout, edges: dict[str, list[float]]) -> WindowSummary:
    """The summary of the rows of ``frame`` (already restricted to the window)."""
    out = WindowSummary(rows=len(frame))
    for name in layout.numeric:
        arr = _as_float(frame[name])
        ok = arr[~np.isnan(arr)]
        st = NumericStats(count=int(ok.size), nulls=int(arr.size - ok.size))
        if ok.size:
            st.min, st.max = float(ok.min()), float(ok.max())
            st.sum, st.sumsq = float(ok.sum()), float(np.dot(ok, ok))
        e = edges.get(name)
        if e:
            ok.sort()
            st.cum = [int(c) for c in np.searchsorted(ok, np.asarray(e), side="right")]
            st.below = int(np.searchsorted(ok, e[0], side="left"))
        out.numeric[name] = st
    for name in layout.categorical:
        counts = frame[name].astype(object).where(frame[name].notna(), NULL_KEY).astype(str).value_counts()
        out.categorical[name] = {str(k): int(v) for k, v in counts.items()}
    versions = frame["model_version"].astype(str) if layout.has_version else pd.Series(["all"] * len(frame))
    pred = frame["prediction"] if "prediction" in frame else pd.Series([None] * len(frame))
    if layout.has_label:
        label = frame["label"]
        labelled = label.notna().to_numpy()
        if layout.task == "classification":
            correct = (labelled & pred.notna().to_numpy()
                       & (label.astype(str).to_numpy() == pred.astype(str).to_numpy()))
            diff = np.zeros(len(frame))
            pairs = labelled & pred.notna().to_numpy()
        else:
            lab, prd = _as_float(label), _as_float(pred)
            pairs = ~np.isnan(lab) & ~np.isnan(prd)
            diff = np.where(pairs, lab - prd, 0.0)
            correct = np.zeros(len(frame), dtype=bool)
    vkeys = versions.to_numpy()
    for v in pd.unique(vkeys):
        m = vkeys == v
        st_v = VersionStats(rows=int(m.sum()))
        if layout.has_label:
            st_v.labelled = int(labelled[m].sum())
            st_v.correct = int(correct[m].sum())
            st_v.pairs = int(pairs[m].sum())
            st_v.abs_err = float(np.abs(diff[m]).sum())
            st_v.sq_err = float((diff[m] ** 2).sum())
        out.versions[str(v)] = st_v
    if layout.has_latency:
        lat = _as_float(frame["latency_ms"])
        lat = np.sort(lat[~np.isnan(lat)])
        out.latency_count = int(lat.size)
        out.latency_cum = [int(c) for c in np.searchsorted(lat, np.asarray(LATENCY_EDGES), side="right")]
    if layout.error_kind != "none":
        out.error_count, out.errors = _error_flags(frame["error"])
    return out


def merge(a: WindowSummary, b: WindowSummary) -> WindowSummary:
    """Sum of two summaries over disjoint rows (chunks of one window)."""
    out = WindowSummary(rows=a.rows + b.rows)
    for name in set(a.numeric) | set(b.numeric):
        x, y = a.numeric.get(name, NumericStats()), b.numeric.get(name, NumericStats())
        mins = [v for v in (x.min, y.min) if v is not None]
        maxs = [v for v in (x.max, y.max) if v is not None]
        cum = [p + q for p, q in zip(x.cum, y.cum, strict=True)] if x.cum and y.cum else (x.cum or y.cum)
        out.numeric[name] = NumericStats(
            count=x.count + y.count, nulls=x.nulls + y.nulls, min=min(mins) if mins else None,
            max=max(maxs) if maxs else None, sum=x.sum + y.sum, sumsq=x.sumsq + y.sumsq,
            below=x.below + y.below, cum=list(cum),
        )
    for name in set(a.categorical) | set(b.categorical):
        merged = dict(a.categorical.get(name, {}))
        for k, v in b.categorical.get(name, {}).items():
            merged[k] = merged.get(k, 0) + v
        out.categorical[name] = merged
    for key in set(a.versions) | set(b.versions):
        x2, y2 = a.versions.get(key, VersionStats()), b.versions.get(key, VersionStats())
        out.versions[key] = VersionStats(
            rows=x2.rows + y2.rows, labelled=x2.labelled + y2.labelled, correct=x2.correct + y2.correct,
            pairs=x2.pairs + y2.pairs, abs_err=x2.abs_err + y2.abs_err, sq_err=x2.sq_err + y2.sq_err,
        )
    out.latency_count = a.latency_count + b.latency_count
    if a.latency_cum and b.latency_cum:
        out.latency_cum = [p + q for p, q in zip(a.latency_cum, b.latency_cum, strict=True)]
    else:
        out.latency_cum = list(a.latency_cum or b.latency_cum)
    out.error_count = a.error_count + b.error_count
    out.errors = a.errors + b.errors
    return out


def cap_categories(summary: WindowSummary) -> WindowSummary:
    """Keep the most frequent values per categorical feature (as the SQL path does)."""
    for name, counts in summary.categorical.items():
        if len(counts) > TOP_CATEGORIES:
            top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_CATEGORIES]
            summary.categorical[name] = dict(top)
    return summary
