"""Onset of a local regression: the loss series of every input segment, scanned at once.

A drift that hits a few percent of the inputs barely moves the mean loss of a time bin (the
rest of the traffic dilutes it), and a 0/1 loss has no tail to watch. Inside the segment it
hits, though, the loss steps up plainly. Each feature is cut into segments on the head of the
log (numeric deciles plus "missing"; the top categories plus "other/missing"), the loss is
summed per (segment, time bin) in one `bincount` per feature, and every segment's series is
scored by `mean_shift_rows` — the same step-over-a-line strength as the global series, with
rises only. Segments are many, so a segment step needs more strength than a global one to
count (`SEGMENT_PENALTY`), which keeps healthy logs free of onsets.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from diagnostics.log import Categorical, PredictionLog, take_rows
from diagnostics.stats import bins_at, mean_shift_rows, quantile_edges

SEGMENT_BINS = 10
MAX_CATEGORIES = 9
MAX_FEATURES = 64
MAX_ROWS = 50_000  # labelled rows scanned at most (one searchsorted and two bincounts each per feature)
MIN_ROWS_PER_CELL = 5  # a (segment, time bin) cell with fewer labelled rows is left empty
MIN_SEGMENT_SHARE = 0.02
ROWS_PER_CELL = 40  # aim: this many labelled rows per cell of a decile segment
MIN_TIME_BINS = 12
SEGMENT_PENALTY = 1.5  # hundreds of series scanned: divide a segment's strength before comparing


@dataclass(frozen=True)
class SegmentStep:
    strength: float  # already divided by SEGMENT_PENALTY
    first_bin: int  # in the caller's time bins
    series: str


def _codes(values: np.ndarray | Categorical, head: int) -> tuple[np.ndarray, list[str]] | None:
    """Segment code per row, cut on the first ``head`` rows; names of the segments."""
    if isinstance(values, Categorical):
        present = values.codes[:head] >= 0
        if not present.any():
            return None
        counts = np.bincount(values.codes[:head][present], minlength=len(values.categories))
        top = np.argsort(-counts)[:MAX_CATEGORIES]
        top = top[counts[top] > 0]
        lookup = np.full(len(values.categories) + 1, len(top), dtype=np.int64)  # other and missing
        lookup[top] = np.arange(len(top))
        return lookup[values.codes], [f"={values.categories[i]}" for i in top] + [" other/missing"]
    finite = values[:head][np.isfinite(values[:head])]
    if finite.size < 50:
        return None
    edges = quantile_edges(np.sort(finite), SEGMENT_BINS)
    if edges.size == 0:
        return None
    codes = bins_at(edges, values)
    codes = np.where(np.isnan(values), edges.size + 1, codes)
    names = [f" bin {i + 1} of {edges.size + 1}" for i in range(edges.size + 1)] + [" missing"]
    return codes, names


def segment_time_sums(
    log: PredictionLog, idx: np.ndarray, head: int, tb: np.ndarray, t_bins: int, y: np.ndarray, max_features: int
) -> Iterator[tuple[str, list[str], np.ndarray, np.ndarray]]:
    """Per feature: its segment names, rows and sums of ``y`` per (segment, time bin).

    ``idx`` are the log's rows looked at (time-ordered), ``tb`` their time bins (0..t_bins-1);
    segments are cut on the first ``head`` of them. One searchsorted and two bincounts a feature.
    """
    for name, values in list(log.features.items())[:max_features]:
        cut = _codes(take_rows(values, idx), head)
        if cut is None:
            continue
        codes, labels = cut
        k = len(labels)
        cell = codes * t_bins + tb
        n = np.bincount(cell, minlength=k * t_bins).reshape(k, t_bins)
        s = np.bincount(cell, weights=y, minlength=k * t_bins).reshape(k, t_bins)
        yield name, labels, n, s


def segment_steps(
    log: PredictionLog, loss: np.ndarray, rows: slice, bins: np.ndarray, n_bins: int, *, head_fraction: float
) -> list[SegmentStep]:
    """The strongest rising loss step of each feature's segments (over the time-ordered ``rows``).

    ``bins`` holds the caller's time bin (0..n_bins-1) of each sampled row; segment series use
    coarser bins (several of the caller's) so a decile segment still has about `ROWS_PER_CELL`
    labelled rows per bin, and report their step in the caller's bins.
    """
    sampled_loss = loss[rows]
    pos = np.flatnonzero(np.isfinite(sampled_loss))
    if pos.size < 40 * MIN_TIME_BINS:
        return []
    if pos.size > MAX_ROWS:  # a regular (time-ordered) thinning: segment means need no more rows
        pos = pos[:: int(math.ceil(pos.size / MAX_ROWS))]
    labelled = int(pos.size)
    start, _, step = rows.indices(len(log))
    idx = start + pos * step  # the thinned labelled rows, as rows of the log
    t_bins = int(min(n_bins, max(MIN_TIME_BINS, labelled // (SEGMENT_BINS * ROWS_PER_CELL))))
    factor = int(math.ceil(n_bins / t_bins))
    t_bins = int(math.ceil(n_bins / factor))
    tb = bins[pos] // factor
    y = sampled_loss[pos]
    head = max(1, int(labelled * head_fraction))
    series: list[np.ndarray] = []
    names: list[str] = []
    for name, labels, n, s in segment_time_sums(log, idx, head, tb, t_bins, y, MAX_FEATURES):
        share = n.sum(axis=1) / labelled
        keep = share >= MIN_SEGMENT_SHARE
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n >= MIN_ROWS_PER_CELL, s / np.maximum(n, 1), np.nan)
        series.append(mean[keep])
        names += [f"segment:{name}{labels[i]}" for i in np.flatnonzero(keep)]
    if not series:
        return []
    split, strength = mean_shift_rows(np.vstack(series), lo_frac=head_fraction, hi_frac=0.95, rising=True)
    strength = np.where(np.isfinite(strength), strength, 1e6)
    out = [SegmentStep(float(z) / SEGMENT_PENALTY, int(at) * factor, nm)
           for z, at, nm in zip(strength, split, names, strict=True) if z > 0]
    return out
