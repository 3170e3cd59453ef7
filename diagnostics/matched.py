"""Two model versions compared on the same inputs: each labelled row of one version is paired
with the nearest row the other version served, and the two predictions are scored against the
same label.

Why: the two-sample comparison (`LossStats.z_worse`) carries the noise of every row both
versions get wrong or right alike. A classifier at 2% error that goes to 2.8% has a two-sample
z of about 1.5 on 2,000 rows each, while a paired test sees only the rows where the two
versions answer differently (McNemar's insight): if the new version is the one that is wrong on
most of those, the evidence is strong on the same rows. The baseline's answer for a row it did
not serve is read from its nearest served rows, in the six inputs that drive its predictions
most (standardized; a missing value matches only a missing value; a category only itself),
found by an approximate search (each neighbour within twice the true distance).

The baseline's loss on a row is the mean of its losses at the five nearest inputs it served
(scored against this row's label), which halves the matching noise near a decision boundary
where a single neighbour would flip a coin. A pair counts only when its fifth neighbour is
within twice the 90th percentile of the baseline's own fifth-neighbour distances (leave-one-out;
twice, because the edges of the input space are sparser than its middle), so rows whose inputs
moved away from everything the baseline served (drift) are not compared. An imperfect match
mostly favours the version, which answers its own row's input. The exception is drift: a row
pushed to the edge of what the baseline served is matched to inputs further inside, which can
sit closer to where the label came from; in the tests that costs a same-artifact redeploy
during a 0.3-std drift a 0.3% gap at z 1.2-1.5, and a comparison across windows keeps its
`1 - data score` discount for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from diagnostics.context import Context, align_categorical, row_loss
from diagnostics.log import Categorical, take_rows

MATCH_FEATURES = 6  # the most influential inputs span the match
MATCH_QUANTILE = 0.9  # a pair is kept within this quantile of the baseline's own neighbour distances
MATCH_SLACK = 2.0  # ... times this: the edges of the input space have sparser neighbours
MATCH_K = 5  # the baseline's answer is the mean loss of its answers at the 5 nearest inputs it served
MAX_VERSION_ROWS = 10_000
OWN_SAMPLE = 2_000  # baseline rows whose own neighbour distances set the cap
# approximate neighbours (each within 2x the true distance): an exact search in six dimensions
# over 80,000 rows costs seconds on a loaded core, this a fraction of one
MATCH_EPS = 1.0
FAR = 1.0e6  # coordinate of a missing value: it matches only another missing value


@dataclass(frozen=True)
class PairedGap:
    """The version's loss minus the baseline's on the same rows (paired differences)."""

    n: int  # pairs compared (labelled version rows with a close baseline row)
    loss_version: float
    loss_baseline: float
    z: float
    matched_share: float  # of the version's labelled rows, the share with a close baseline row

    @property
    def delta(self) -> float:
        return self.loss_version - self.loss_baseline

    @property
    def relative(self) -> float:
        return self.delta / max(self.loss_baseline, 1e-12)


def paired_z(diff: np.ndarray) -> float:
    """z of the mean of paired differences (for 0/1 losses, McNemar's statistic with the
    variance estimated from the pairs)."""
    n = diff.size
    if n < 2:
        return 0.0
    mean = float(diff.mean())
    sd = float(diff.std(ddof=1))
    if sd == 0.0:
        return 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
    return mean / (sd / math.sqrt(n))


def match_features(ctx: Context) -> list[str]:
    ranked = sorted(ctx.influence, key=lambda f: ctx.influence_raw.get(f, 0.0), reverse=True)
    out = []
    for f in ranked:
        if ctx.influence.get(f, 0.0) <= 0.1:
            continue
        ref_v, cur_v = ctx.reference.features.get(f), ctx.current.features.get(f)
        if ref_v is None or cur_v is None or isinstance(ref_v, Categorical) != isinstance(cur_v, Categorical):
            continue
        out.append(f)
    return out[:MATCH_FEATURES]


def _coordinates(ctx: Context, feats: list[str], ref_idx: np.ndarray, cur_idx: np.ndarray) -> np.ndarray:
    """Rows `ref_idx` of the reference then `cur_idx` of the current window as points."""
    cols = []
    for f in feats:
        ref_v, cur_v = ctx.reference.features[f], ctx.current.features[f]
        if isinstance(ref_v, Categorical):
            assert isinstance(cur_v, Categorical)
            rc, cc, _ = align_categorical(ref_v, cur_v)
            codes = np.concatenate([rc[ref_idx], cc[cur_idx]]).astype(np.float64)
            cols.append(np.where(codes < 0, -1.0, codes) * FAR)  # categories never match each other
            continue
        assert not isinstance(cur_v, Categorical)
        vals = np.concatenate([ref_v[ref_idx], cur_v[cur_idx]]).astype(np.float64)
        finite = vals[np.isfinite(vals)]
        scale = float(finite.std()) if finite.size > 1 else 1.0
        scale = scale if scale > 0 else 1.0
        cols.append(np.where(np.isfinite(vals), vals / scale, FAR))
    return np.stack(cols, axis=1) if cols else np.empty((ref_idx.size + cur_idx.size, 0))


def _valid_prediction(pred: np.ndarray | Categorical, idx: np.ndarray) -> np.ndarray:
    if isinstance(pred, Categorical):
        return np.asarray(pred.codes[idx] >= 0)
    return np.asarray(np.isfinite(pred[idx]))



def paired_gap(ctx: Context, v: int, base: int, rv: np.ndarray, cv: np.ndarray, min_pairs: int) -> PairedGap | None:
    """The version's labelled current rows against the baseline version's prediction at the
    nearest input it served (reference and current window alike: a version's map from inputs to
    predictions does not change with time). None when too few rows pair up."""
    feats = match_features(ctx)
    if not feats or ctx.current.label is None:
        return None
    v_idx = ctx.cur_sample[(cv[ctx.cur_sample] == v)]
    v_idx = v_idx[np.isfinite(ctx.cur_loss[v_idx])]
    if v_idx.size > MAX_VERSION_ROWS:
        v_idx = v_idx[np.linspace(0, v_idx.size - 1, MAX_VERSION_ROWS).astype(np.int64)]
    b_ref = ctx.ref_sample[rv[ctx.ref_sample] == base]
    b_ref = b_ref[_valid_prediction(ctx.reference.prediction, b_ref)]
    b_cur = ctx.cur_sample[cv[ctx.cur_sample] == base]
    b_cur = b_cur[_valid_prediction(ctx.current.prediction, b_cur)]
    if v_idx.size < min_pairs or b_ref.size + b_cur.size < min_pairs:
        return None
    points = _coordinates(ctx, feats, b_ref, np.concatenate([b_cur, v_idx]))
    n_b = b_ref.size + b_cur.size
    k = min(MATCH_K, n_b - 1)
    if k < 1:
        return None
    tree = cKDTree(points[:n_b])
    probe = np.linspace(0, n_b - 1, min(n_b, OWN_SAMPLE)).astype(np.int64)
    # leave-one-out: the first hit is the row itself
    own = tree.query(points[probe], k=k + 1, eps=MATCH_EPS)[0][:, k]
    cap = MATCH_SLACK * float(np.quantile(own, MATCH_QUANTILE))
    dist, j = tree.query(points[n_b:], k=k, eps=MATCH_EPS)
    dist, j = dist.reshape(-1, k), j.reshape(-1, k)
    keep = dist[:, -1] <= cap
    if int(keep.sum()) < min_pairs:
        return None
    v_rows, j = v_idx[keep], j[keep].ravel()
    rows_rep = np.repeat(v_rows, k)  # each version row's label, once per neighbour
    from_ref = j < b_ref.size
    loss_nb = np.empty(j.size)
    label = ctx.current.label
    if from_ref.any():
        loss_nb[from_ref] = row_loss(
            take_rows(ctx.reference.prediction, b_ref[j[from_ref]]), take_rows(label, rows_rep[from_ref]), ctx.task
        )
    if (~from_ref).any():
        loss_nb[~from_ref] = row_loss(
            take_rows(ctx.current.prediction, b_cur[j[~from_ref] - b_ref.size]),
            take_rows(label, rows_rep[~from_ref]),
            ctx.task,
        )
    loss_b = loss_nb.reshape(-1, k).mean(axis=1)
    loss_v = ctx.cur_loss[v_rows]
    ok = np.isfinite(loss_b) & np.isfinite(loss_v)
    if int(ok.sum()) < min_pairs:
        return None
    diff = loss_v[ok] - loss_b[ok]
    return PairedGap(
        n=int(ok.sum()),
        loss_version=float(loss_v[ok].mean()),
        loss_baseline=float(loss_b[ok].mean()),
        z=paired_z(diff),
        matched_share=float(ok.sum()) / v_idx.size,
    )
