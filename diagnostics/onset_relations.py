"""Onset of a change that shows only in a relation or a rate: the series a finding rests on.

Some faults leave every column's marginal where it was, so the level, spread and mix scans of
`onset.py` see nothing, and the window fell back to the last quarter of the log (nine hours
late on a two-day log) although the diagnosis at the right time names the cause plainly:

- an input slid by one row within a request batch (each row reads its neighbour's value): the
  input keeps its distribution but no longer moves with the inputs it moved with (a credit
  rating with its limit) -- the relation `feature_relations` judges;
- a value broadcast over a batch (every row carries the batch's first row's age): the share of
  rows repeating the row just before them steps up from chance to most of the rows;
- one client's calls failing: the error rate of that client's rows steps up while the overall
  rate, diluted by the other clients and a daily wave, moves too little to date the log.

Each series is what the finding itself measures, per time bin: the product of the centred head
ranks of an input and its strongest head partner (its mean is the rank correlation), the share
of rows equal to the row before them, the error rate per input segment (cut as `onset_segments`
cuts them). All of them are scored at once by the step-over-a-line strength of
the other scans (`mean_shift_rows`; the error rates as binomial rises, like the extreme-loss
share), one pass per column on the caller's time-ordered sample.
They are candidates only (`onset.Candidate`): the engine keeps one when a diagnosis at its step
names the same input (or the errors), so a healthy log's wobble names nothing and changes nothing.
"""

from __future__ import annotations

import numpy as np

from diagnostics.feature_relations import _centred_ranks, _pairwise_corr
from diagnostics.log import Categorical, PredictionLog
from diagnostics.onset_segments import MIN_SEGMENT_SHARE, segment_time_sums
from diagnostics.stats import mean_shift_rows, rate_increase_split

MAX_FEATURES = 24  # the first numeric inputs paired (a p x p head correlation stays small)
MAX_SAME_FEATURES = 64
PARTNER = 0.5  # |head rank correlation| that makes an input's strongest partner worth watching
MIN_HEAD_ROWS = 200
MAX_SAME_SHARE = 0.5  # an input already repeating its neighbour on half the head's rows is a slow one
MIN_ROWS_PER_BIN = 3
PENALTY = 1.5  # one series per input (and per segment for the errors), like the segments
# a relation candidate is confirmed only by a diagnosis naming its own input; any error-rate
# verdict confirms an error candidate, so its step must pass the global bar (6) after the
# penalty on its own (a healthy log's chance rise in one region's errors scored 3.5)
ERRORS_Z = 4.0


def _per_bin(values: np.ndarray, bins: np.ndarray, n_bins: int) -> np.ndarray:
    """Per-bin means of the finite values (NaN where a bin has too few)."""
    ok = np.isfinite(values)
    n = np.bincount(bins[ok], minlength=n_bins)
    s = np.bincount(bins[ok], weights=values[ok], minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n >= MIN_ROWS_PER_BIN, s / np.maximum(n, 1), np.nan)


def _partner_series(
    log: PredictionLog, rows: slice, bins: np.ndarray, n_bins: int, head: int
) -> tuple[list[np.ndarray], list[str]]:
    """Per numeric input with a strong head partner: the per-bin mean of their rank product.

    Ranks are the head's (searchsorted into its sorted values), centred to [-0.5, 0.5] and
    signed by the head's correlation, so the series sits near the head's relation and falls
    when the input stops moving with its partner (read as a rise: the series is negated).
    """
    numeric = [(k, v) for k, v in log.features.items() if not isinstance(v, Categorical)][:MAX_FEATURES]
    if len(numeric) < 2:
        return [], []
    names = [k for k, _ in numeric]
    cols = [np.asarray(v[rows], dtype=np.float64) for _, v in numeric]
    if cols[0].shape[0] < MIN_HEAD_ROWS * 2 or head < MIN_HEAD_ROWS:
        return [], []
    z, m = _centred_ranks([c[:head] for c in cols])
    r, _ = _pairwise_corr(z, m)
    r = np.where(np.isfinite(r), r, 0.0)
    np.fill_diagonal(r, 0.0)
    ranks: dict[int, np.ndarray] = {}

    def centred(j: int) -> np.ndarray:
        if j not in ranks:
            v = cols[j]
            h = np.sort(v[:head][np.isfinite(v[:head])])
            u = (np.searchsorted(h, v, side="left") + np.searchsorted(h, v, side="right")) / (2.0 * max(h.size, 1))
            ranks[j] = np.where(np.isfinite(v), u - 0.5, np.nan)
        return ranks[j]

    out: list[np.ndarray] = []
    labels: list[str] = []
    for j, name in enumerate(names):
        k = int(np.argmax(np.abs(r[j])))
        if abs(r[j, k]) < PARTNER:
            continue
        prod = centred(j) * centred(k) * np.sign(r[j, k])
        out.append(-_per_bin(prod, bins, n_bins))
        labels.append(f"relation:{name}")
    return out, labels


def _same_series(
    log: PredictionLog, rows: slice, bins: np.ndarray, n_bins: int, head: int
) -> tuple[list[np.ndarray], list[str]]:
    """Per input: the per-bin share of rows equal to the log's row just before them.

    Compared in the full log (not the sample: a stride would compare rows far apart), at the
    sampled rows only. An input that already repeats its neighbour on most head rows (a slow
    setting, a day's name) is left out: its share has nowhere to step to.
    """
    start, stop, step = rows.indices(len(log))
    idx = np.arange(start, stop, step)
    idx = idx[idx >= 1]
    if idx.size < MIN_HEAD_ROWS * 2:
        return [], []
    b = bins[-idx.size :]
    h = max(1, min(head, idx.size))
    out: list[np.ndarray] = []
    labels: list[str] = []
    for name, values in list(log.features.items())[:MAX_SAME_FEATURES]:
        if isinstance(values, Categorical):
            a, p = values.codes[idx], values.codes[idx - 1]
            known = (a >= 0) & (p >= 0)
        else:
            a, p = values[idx], values[idx - 1]
            known = np.isfinite(a) & np.isfinite(p)
        same = np.where(known, (a == p).astype(np.float64), np.nan)
        head_share = float(np.nanmean(same[:h])) if known[:h].any() else 1.0
        if not head_share < MAX_SAME_SHARE:
            continue
        out.append(_per_bin(same, b, n_bins))
        labels.append(f"relation:{name}")
    return out, labels


def _error_steps(
    log: PredictionLog, rows: slice, bins: np.ndarray, n_bins: int, head_fraction: float
) -> list[tuple[float, int, str]]:
    """Per input segment: the rise of its error rate, a binomial step on the caller's own bins.

    Failures are rare events (0.2% of calls), so a segment's per-bin mean is mostly zeros and a
    Gaussian step over it is weak and coarse; the binomial likelihood ratio of one rate against
    a lower then a higher one (`rate_increase_split`, as the extreme-loss share) is not. One
    bincount per input; the segments are cut on the head as `onset_segments` cuts them.
    """
    err = np.asarray(log.error, dtype=np.float64)[rows]
    known = np.isfinite(err)
    if int(known.sum()) < MIN_HEAD_ROWS * 2:
        return []
    start, _, step = rows.indices(len(log))
    idx = (start + np.arange(err.shape[0]) * step)[known]
    head = max(1, int(idx.size * head_fraction))
    out: list[tuple[float, int, str]] = []
    sums = segment_time_sums(log, idx, head, bins[known], n_bins, err[known], MAX_SAME_FEATURES)
    for name, labels, n, failed in sums:
        calls = n.astype(np.float64)
        share = calls.sum(axis=1) / max(float(calls.sum()), 1.0)
        for i in np.flatnonzero((share >= MIN_SEGMENT_SHARE) & (failed.sum(axis=1) > 0)):
            at, z = rate_increase_split(failed[i], calls[i], lo_frac=head_fraction, hi_frac=0.95)
            if z / PENALTY >= ERRORS_Z:
                out.append((z / PENALTY, at, f"errors:{name}{labels[i]}"))
    return out


def relation_steps(
    log: PredictionLog, rows: slice, bins: np.ndarray, n_bins: int, *, head_fraction: float
) -> list[tuple[float, int, str]]:
    """(strength after the penalty, first bin, series) of the relation and per-segment error steps.

    Relation series are named "relation:<input>" (an input and its partner both step; the
    diagnosis at the step names the one that broke), the error rates "errors:<segment>".
    The strongest step per series name is kept.
    """
    head = max(1, int(bins.shape[0] * head_fraction))
    series: list[np.ndarray] = []
    names: list[str] = []
    for found in (_partner_series(log, rows, bins, n_bins, head), _same_series(log, rows, bins, n_bins, head)):
        series += found[0]
        names += found[1]
    out: list[tuple[float, int, str]] = []
    if series:
        at, strength = mean_shift_rows(np.vstack(series), lo_frac=head_fraction, hi_frac=0.95, rising=True)
        out += [(float(z) / PENALTY, int(a), nm)
                for z, a, nm in zip(strength, at, names, strict=True) if np.isfinite(z) and z > 0]
    if log.error is not None:
        out += _error_steps(log, rows, bins, n_bins, head_fraction)
    best: dict[str, tuple[float, int, str]] = {}
    for c in out:
        if c[2] not in best or c[0] > best[c[2]][0]:
            best[c[2]] = c
    return sorted(best.values(), key=lambda c: -c[0])
