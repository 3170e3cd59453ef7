"""Shared preparation for the checks: windows, task type, per-row loss, feature influence.

Everything here is computed once per diagnosis so each check stays a single pass per column.
Subsamples (fixed seed) keep the model-level estimates (influence, surrogate) cheap on
millions of rows; per-column drift statistics always use every row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from diagnostics.clock_features import log_utc_offset
from diagnostics.log import Categorical, PredictionLog, align_categorical, as_categorical, present, take_rows
from diagnostics.silences import GapRows
from diagnostics.stats import bins_at, quantile_edges

SUBSAMPLE = 40_000
MAX_CLASSES = 8
SEGMENT_BINS = 10
MAX_SEGMENT_CATEGORIES = 20


@dataclass
class Task:
    """What the model predicts: 'classification' (class labels), 'binary_score' or 'regression'."""

    kind: str
    classes: np.ndarray | None = None  # class names for classification
    positive: str | None = None


def detect_task(pred: np.ndarray | Categorical, label: np.ndarray | Categorical | None) -> Task:
    if isinstance(pred, Categorical):
        return Task("classification", classes=pred.categories)
    if label is None:
        finite = pred[np.isfinite(pred)]
        if finite.size and finite.min() >= 0 and finite.max() <= 1 and not np.all(finite == np.round(finite)):
            return Task("binary_score")
        return Task("regression")
    if isinstance(label, Categorical):
        return Task("classification", classes=label.categories)
    lab = label[np.isfinite(label)]
    pv = pred[np.isfinite(pred)]
    if lab.size and np.all(np.isin(lab, (0.0, 1.0))) and pv.size and pv.min() >= 0 and pv.max() <= 1:
        if np.all(np.isin(pv, (0.0, 1.0))):
            return Task("classification", classes=np.array(["0", "1"], dtype=object))
        return Task("binary_score")
    if lab.size and np.all(lab == np.round(lab)) and np.unique(lab[:50_000]).size <= 20 and np.all(pv == np.round(pv)):
        return Task("classification")
    return Task("regression")


def class_codes(values: np.ndarray | Categorical, classes: np.ndarray) -> np.ndarray:
    """Map predictions or labels (strings or integers) onto codes of `classes`; -1 = missing/other."""
    if isinstance(values, Categorical):
        # a category among no classes is -1 in the table itself: one gather of a million codes
        lookup = {str(c): i for i, c in enumerate(classes)}
        table = np.array([lookup.get(str(c), -1) for c in values.categories] + [-1], dtype=np.int64)
        return np.asarray(table[values.codes])
    vals = np.asarray(values, dtype=np.float64)
    nums = np.array([_as_float(c) for c in classes])
    order = np.argsort(nums)
    pos = np.searchsorted(nums[order], vals)
    pos = np.clip(pos, 0, len(nums) - 1)
    hit = nums[order][pos] == vals
    return np.where(hit, order[pos], -1)


def _as_float(value: object) -> float:
    try:
        return float(str(value))
    except ValueError:
        return float("nan")  # a class name that is not a number matches no numeric value


def row_loss(pred: np.ndarray | Categorical, label: np.ndarray | Categorical | None, task: Task) -> np.ndarray:
    """Per-row loss (NaN where unlabelled or no prediction): 0/1 error for class names, the squared
    error (Brier) for a binary score, the absolute error for a regression.

    A probability is scored by a proper rule: `|label - score|` is smallest when every score is
    pushed to 0 or 1, so a version whose calibration broke (overconfident, same ranking) looked
    better than the calibrated one it replaced; `(label - score)^2` is smallest at the true
    probability, so over- and underconfidence both cost.
    """
    n = len(pred)
    if label is None:
        return np.full(n, np.nan)
    if task.kind == "classification":
        classes = task.classes
        if classes is None:
            assert not isinstance(label, Categorical)
            lab = np.asarray(label, dtype=np.float64)
            classes = np.unique(lab[np.isfinite(lab)]).astype(str)
            classes = np.array([c[:-2] if c.endswith(".0") else c for c in classes], dtype=object)
            task.classes = classes
        p = class_codes(pred, classes)
        y = class_codes(label, classes)
        known = present(label)
        loss = (p != y).astype(np.float64)
        loss[~known] = np.nan
        if isinstance(pred, Categorical):
            loss[pred.codes < 0] = np.nan
        return np.asarray(loss)
    assert not isinstance(pred, Categorical)
    if isinstance(label, Categorical):
        return np.full(n, np.nan)
    if task.kind == "binary_score":
        return np.asarray(np.square(label - pred))
    return np.asarray(np.abs(label - pred))


def loss_name(task: Task) -> str:
    """What `row_loss` measures, in the words a finding uses for it."""
    return {"classification": "error rate", "binary_score": "Brier score"}.get(task.kind, "mean absolute error")


def performance_summary(
    pred: np.ndarray | Categorical, label: np.ndarray | Categorical | None, loss: np.ndarray, task: Task
) -> dict[str, float]:
    """Window metrics: accuracy/F1/AUC for classification, MAE/RMSE for regression."""
    ok = np.isfinite(loss)
    n = int(ok.sum())
    out: dict[str, float] = {"labelled": float(n)}
    if n == 0 or label is None:
        return out
    if task.kind == "classification":
        out["accuracy"] = float(1.0 - loss[ok].mean())
        assert task.classes is not None
        p = class_codes(pred, task.classes)[ok]
        y = class_codes(label, task.classes)[ok]
        k = len(task.classes)
        if k >= 2:
            tp = np.bincount(y[(p == y) & (y >= 0)], minlength=k)
            pc = np.bincount(p[p >= 0], minlength=k)
            yc = np.bincount(y[y >= 0], minlength=k)
            with np.errstate(divide="ignore", invalid="ignore"):
                f1 = np.where(pc + yc > 0, 2 * tp / (pc + yc), np.nan)
            present = yc > 0
            out["f1"] = float(np.nanmean(f1[present])) if present.any() else float("nan")
    elif task.kind == "binary_score":
        assert not isinstance(pred, Categorical) and not isinstance(label, Categorical)
        score, truth = pred[ok], label[ok]
        hard = (score >= 0.5).astype(np.float64)
        out["accuracy"] = float(np.mean(hard == truth))
        hits = float(np.sum((hard == 1) & (truth == 1)))
        denom = float(np.sum(hard == 1) + np.sum(truth == 1))
        out["f1"] = 2 * hits / denom if denom else float("nan")
        out["auc"] = auc(score, truth)
        out["brier"] = float(loss[ok].mean())
    else:
        err = loss[ok]
        out["mae"] = float(err.mean())
        out["rmse"] = float(math.sqrt(np.mean(err**2)))
    return out


def auc(score: np.ndarray, y: np.ndarray) -> float:
    """ROC AUC = P(score of a positive > score of a negative) + P(tie) / 2.

    Two sorts (numpy's SIMD sort, far cheaper than an argsort) and one `searchsorted` of the
    sorted positives into the sorted negatives.
    """
    pos = np.sort(score[y == 1])
    neg = np.sort(score[y != 1])
    n1, n0 = pos.shape[0], neg.shape[0]
    if n1 == 0 or n0 == 0:
        return float("nan")
    below = np.searchsorted(neg, pos, side="left").astype(np.float64)
    at_or_below = np.searchsorted(neg, pos, side="right").astype(np.float64)
    return float((below.sum() + 0.5 * (at_or_below - below).sum()) / (n1 * n0))


def prediction_matrix(
    pred: np.ndarray | Categorical, ref_pred: np.ndarray | Categorical
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions as a numeric matrix (standardized score or one-hot of the top classes).

    Returns (matrix, valid row mask). Used by influence, surrogate and prediction-shift checks so
    numeric and class predictions are handled by one code path.
    """
    if isinstance(pred, Categorical):
        assert isinstance(ref_pred, Categorical)
        ref_codes, codes, cats = align_categorical(ref_pred, pred)
        counts = np.bincount(ref_codes[ref_codes >= 0], minlength=len(cats))
        top = np.argsort(-counts)[:MAX_CLASSES]
        top = top[counts[top] > 0]
        lookup = np.full(len(cats) + 1, -1)
        lookup[top] = np.arange(len(top))
        idx = lookup[codes]
        mat = np.zeros((codes.shape[0], len(top)))
        rows = np.flatnonzero(idx >= 0)
        mat[rows, idx[rows]] = 1.0
        return mat, codes >= 0
    assert not isinstance(ref_pred, Categorical)
    ref_ok = ref_pred[np.isfinite(ref_pred)]
    mu = float(ref_ok.mean()) if ref_ok.size else 0.0
    sd = float(ref_ok.std()) if ref_ok.size else 1.0
    sd = sd if sd > 0 else 1.0
    valid = np.isfinite(pred)
    return ((np.where(valid, pred, mu) - mu) / sd)[:, None], valid


def subsample_index(n: int, size: int = SUBSAMPLE, seed: int = 0) -> np.ndarray:
    if n <= size:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=size, replace=False))


@dataclass
class FeatureBins:
    """How a feature is cut into segments: numeric reference deciles or top categories."""

    name: str
    numeric: bool
    edges: np.ndarray  # inner edges (numeric)
    categories: np.ndarray  # category names for bins (categorical)
    n_bins: int  # including a trailing "missing/other" bin

    def assign(self, values: np.ndarray | Categorical) -> np.ndarray:
        """Bin index per row (int16); the last bin holds missing (numeric) or other values."""
        if self.numeric:
            assert not isinstance(values, Categorical)
            b = bins_at(self.edges, values)
            return np.where(np.isnan(values), self.n_bins - 1, b).astype(np.int16)
        cat = values if isinstance(values, Categorical) else as_categorical(values)
        lookup = {str(c): i for i, c in enumerate(self.categories)}
        table = np.array([lookup.get(str(c), self.n_bins - 1) for c in cat.categories] + [self.n_bins - 1])
        return np.asarray(table[cat.codes].astype(np.int16))

    def label(self, lo: int, hi: int | None = None) -> str:
        hi = lo if hi is None else hi
        if self.numeric:
            if lo == self.n_bins - 1:
                return f"{self.name} is missing"
            left = "-inf" if lo == 0 else f"{self.edges[lo - 1]:.4g}"
            right = "inf" if hi >= len(self.edges) else f"{self.edges[hi]:.4g}"
            return f"{self.name} in ({left}, {right}]"
        if lo == self.n_bins - 1:
            return f"{self.name} is other/missing"
        return f"{self.name}={self.categories[lo]}"


def make_bins(name: str, ref_values: np.ndarray | Categorical) -> FeatureBins | None:
    if isinstance(ref_values, Categorical):
        counts = np.bincount(ref_values.codes[ref_values.codes >= 0], minlength=len(ref_values.categories))
        top = np.argsort(-counts)[:MAX_SEGMENT_CATEGORIES]
        top = top[counts[top] > 0]
        if top.size == 0:
            return None
        return FeatureBins(name, False, np.empty(0), ref_values.categories[top], len(top) + 1)
    finite = np.sort(ref_values[np.isfinite(ref_values)])
    if finite.size < 20:
        return None
    edges = quantile_edges(finite, SEGMENT_BINS)
    edges = edges[edges < finite[-1]]  # the top edge would leave an empty last bin
    return FeatureBins(name, True, edges, np.empty(0, dtype=object), len(edges) + 2)


@dataclass
class Context:
    """Everything the checks share about one diagnosis."""

    log: PredictionLog
    reference: PredictionLog
    current: PredictionLog
    onset: float
    task: Task
    ref_loss: np.ndarray
    cur_loss: np.ndarray
    influence: dict[str, float] = field(default_factory=dict)
    influence_raw: dict[str, float] = field(default_factory=dict)
    bins: dict[str, FeatureBins] = field(default_factory=dict)
    ref_sample: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    cur_sample: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    ref_bin_codes: dict[str, np.ndarray] = field(default_factory=dict)
    cur_bin_codes: dict[str, np.ndarray] = field(default_factory=dict)
    # late labels (`diagnostics.late_labels`): expected per-row loss of the current window
    cur_loss_estimate: np.ndarray | None = None
    estimator: Any = None
    label_model: Any = None  # `diagnostics.label_model.LabelModel`, fitted once on demand (False: not possible)
    # the reference stacks training labels and the log's answers before the onset: no row holds
    # both (`engine._model_baseline`), so label-only rows teach the label and answered rows answer
    labels_apart: bool = False
    # the log's own clock, found on first use: (the log it was read from, `clock_features.log_utc_offset`);
    # a copy (`dataclasses.replace`) carries it, and reads it again once its log is another
    log_clock: tuple[PredictionLog, float | None] | None = field(default=None, repr=False, compare=False)
    # the rows the traffic around each of the log's gaps would have sent (`silences.GapRows`), kept
    # from the onset scan for the traffic check
    log_rows: GapRows | None = field(default=None, repr=False, compare=False)

    def log_utc_offset(self) -> float | None:
        """The UTC offset of the log's own clock (`clock_features.log_utc_offset`), found once per context.

        Five checks ask it (the traffic's closed hours, an input's days, the calendar's cells, the
        conditions a loss is matched in); each answer asks every column whether it is the hour
        of the day, ~0.05 s on a 1M-row log of 50 inputs without one. Kept with the log it was
        read from, so a context copied onto another log (`dataclasses.replace`) reads that one's.
        """
        if self.log_clock is None or self.log_clock[0] is not self.log:
            self.log_clock = (self.log, log_utc_offset(self.log.features, self.log.timestamp))
        return self.log_clock[1]


def _entropy(counts: np.ndarray) -> float:
    total = counts.sum()
    if total <= 0:
        return 0.0
    p = counts[counts > 0] / total
    return float(-(p * np.log(p)).sum())


def estimate_influence(ctx: Context) -> None:
    """Each feature's association with the prediction on the reference window.

    Uncertainty coefficient U = I(feature bin; prediction bin) / H(prediction bin) with the
    Miller–Madow bias correction, on a subsample. An unused feature scores ~0 whatever its
    drift, so drift on it cannot outrank drift on a feature the model relies on.

    A reference without predictions (training data) says nothing about what the model uses;
    the log's own rows do (the reference's bins, the log's predictions): a model's reliance on a
    feature shows in any window it served.
    """
    idx = ctx.ref_sample
    pred = take_rows(ctx.reference.prediction, idx)
    pmat, pvalid = prediction_matrix(pred, pred)
    codes = ctx.ref_bin_codes
    if not pvalid.any() and len(ctx.log):
        idx = subsample_index(len(ctx.log), seed=3)
        pred = take_rows(ctx.log.prediction, idx)
        pmat, pvalid = prediction_matrix(pred, pred)
        codes = window_bin_codes(ctx.bins, ctx.log, idx)
    if pmat.shape[1] == 1:
        col = pmat[:, 0]
        pedges = quantile_edges(np.sort(col[pvalid]), 10) if pvalid.any() else np.empty(0)
        pbin = np.searchsorted(pedges, col)
        n_pbins = len(pedges) + 1
    elif pmat.shape[1] == 0:  # no class prediction in the reference sample: nothing to associate
        pbin = np.zeros(pmat.shape[0], dtype=np.int64)
        n_pbins = 1
    else:
        pbin = np.where(pmat.sum(axis=1) > 0, np.argmax(pmat, axis=1), pmat.shape[1])
        n_pbins = pmat.shape[1] + 1
    pbin = pbin[pvalid]
    n = pbin.shape[0]
    h_pred = _entropy(np.bincount(pbin, minlength=n_pbins))
    for name, bins in ctx.bins.items():
        if name not in codes:
            ctx.influence_raw[name] = 0.0
            ctx.influence[name] = 0.0
            continue
        fb = codes[name][pvalid].astype(np.int64)
        if n < 20 or h_pred <= 0:
            ctx.influence_raw[name] = 0.0
            ctx.influence[name] = 0.0
            continue
        joint = np.bincount(fb * n_pbins + pbin, minlength=bins.n_bins * n_pbins)
        hx = _entropy(np.bincount(fb, minlength=bins.n_bins))
        hxy = _entropy(joint)
        mi = hx + h_pred - hxy
        kx = int(np.count_nonzero(np.bincount(fb, minlength=bins.n_bins)))
        ky = int(np.count_nonzero(np.bincount(pbin, minlength=n_pbins)))
        kxy = int(np.count_nonzero(joint))
        mi -= ((kxy - 1) - (kx - 1) - (ky - 1)) / (2.0 * n)  # Miller–Madow bias correction
        u = max(0.0, mi / h_pred)
        ctx.influence_raw[name] = u
        ctx.influence[name] = float(np.clip((u - 0.005) / 0.06, 0.0, 1.0))


def prepare_windows(ctx: Context) -> None:
    """Samples, segment bins and influence: what every check shares (`diagnose`, late-label verification).

    Segment bins and influence work on fixed-seed subsamples of each window; influence is a
    property of the reference alone, so it is known even for a column the current log lost.
    """
    ref, current = ctx.reference, ctx.current
    ctx.ref_sample = subsample_index(len(ref), seed=1)
    ctx.cur_sample = subsample_index(len(current), seed=2)
    for name, values in ref.features.items():
        ref_part = values.take(ctx.ref_sample) if isinstance(values, Categorical) else values[ctx.ref_sample]
        bins = make_bins(name, ref_part)
        if bins is None:
            continue
        ctx.bins[name] = bins
        ctx.ref_bin_codes[name] = bins.assign(ref_part)
    ctx.cur_bin_codes = window_bin_codes(ctx.bins, current, ctx.cur_sample)
    estimate_influence(ctx)


def window_bin_codes(bins: dict[str, FeatureBins], log: PredictionLog, idx: np.ndarray) -> dict[str, np.ndarray]:
    """Each binned feature's bin for rows `idx` of `log`; a column the log lost or retyped has none."""
    codes: dict[str, np.ndarray] = {}
    for name, b in bins.items():
        values = log.features.get(name)
        if values is None or isinstance(values, Categorical) == b.numeric:
            continue
        codes[name] = b.assign(take_rows(values, idx))
    return codes
