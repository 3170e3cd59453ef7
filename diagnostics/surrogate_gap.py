"""A version's labelled loss against the baseline's on the version's own rows, the baseline's
answers there read from a smooth surrogate of its input -> prediction map.

Why: across windows (a version deployed to all traffic) the two-sample comparison carries every
row's label noise and the two windows' different inputs: a mortgage-denial score (12% positives)
whose new version is 6.7% worse in Brier on 4,765 labelled rows, z 5.6 on the same rows, read
Brier 0.0730 -> 0.0755, z 0.6, because the current window's applicants happened to be easier. The
nearest-input pairing (`diagnostics.matched.paired_gap`) cancels the label noise but, on inputs
that do not repeat, the baseline's answer at the nearest of its own inputs fits a row worse than
its answer at the row would (+16% Brier there): the version looked 11% *better* (z -6.8), and with
that flattery measured on the reference and taken out the pairing's own noise left z 1.1.

Numeric answers (a score, a regression) have a map that least squares recovers: the baseline's
answers on its reference rows (labels not needed) are fitted, in the score's logit for a binary
score, on its inputs (numbers standardized with their squares and a missing flag, categories
one-hot), cross-fitted on two halves. Per row the version's loss minus the surrogate's loss against
the same label cancels the label noise as a pairing does; the surrogate's own misfit is measured
the same way on the baseline's labelled reference rows (its loss minus the surrogate's, the
surrogate from the other half) and taken out:

    gap = mean_version(loss_v - loss_s) - mean_baseline(loss_b - loss_s)

with a two-sample z of those per-row differences. A redeploy of the same model has a gap of
sampling noise only; the surrogate's misfit on drifted inputs is the caller's concern (a
comparison across windows is discounted by the data score). Class-name answers keep the pairing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from diagnostics.context import Context, row_loss
from diagnostics.log import Categorical, align_categorical, take_rows
from diagnostics.matched import LossGap

SURROGATE_FEATURES = 16  # the inputs the map is fitted on, most influential first
MIN_INFLUENCE = 0.02  # inputs the model hardly reads add terms, not fit
MAX_LEVELS = 20  # most common categories one-hot per input; the rest share a column
MIN_ROWS_PER_TERM = 10  # rows a fitted coefficient needs (per half)
RIDGE = 1e-3  # a light ridge: collinear one-hots stay solvable
MISFIT_BLOCKS = 4  # stretches of the baseline's rows in time order whose misfits must agree
SCORE_CLIP = 1e-4  # scores are fitted in their logit, clipped this far from 0 and 1


@dataclass(frozen=True)
class SurrogateGap(LossGap):
    """The version's labelled loss against the baseline's surrogate-read loss on the same rows."""

    n: int  # labelled version rows compared
    n_baseline: int  # labelled baseline rows whose surrogate misfit was measured
    loss_version: float
    loss_baseline: float  # the surrogate's loss on the version's rows plus its misfit
    z: float
    misfit: float  # the baseline's loss minus its surrogate's, on its labelled rows


def _columns(ctx: Context, feats: list[str], b_idx: np.ndarray, v_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Design matrices (baseline's reference rows, version's current rows): intercept, each number
    standardized on the baseline's rows with its square and a missing flag, each category one-hot."""
    b_cols: list[np.ndarray] = [np.ones(b_idx.size)]
    v_cols: list[np.ndarray] = [np.ones(v_idx.size)]
    for f in feats:
        rf, cf = ctx.reference.features[f], ctx.current.features[f]
        if isinstance(rf, Categorical) or isinstance(cf, Categorical):
            if not (isinstance(rf, Categorical) and isinstance(cf, Categorical)):
                continue
            rc, cc, _ = align_categorical(rf, cf)
            rb, cb = rc[b_idx], cc[v_idx]
            counts = np.bincount(rb[rb >= 0]) if (rb >= 0).any() else np.zeros(0, dtype=np.int64)
            for level in np.argsort(counts)[::-1][:MAX_LEVELS]:
                if counts[level] >= MIN_ROWS_PER_TERM:
                    b_cols.append((rb == level).astype(np.float64))
                    v_cols.append((cb == level).astype(np.float64))
            continue
        rb_num, cb_num = np.asarray(rf[b_idx], dtype=np.float64), np.asarray(cf[v_idx], dtype=np.float64)
        ok = np.isfinite(rb_num)
        if int(ok.sum()) < MIN_ROWS_PER_TERM:
            continue
        mean, sd = float(rb_num[ok].mean()), float(rb_num[ok].std())
        sd = sd if sd > 0 else 1.0
        zb = np.where(ok, (rb_num - mean) / sd, 0.0)
        zc = np.where(np.isfinite(cb_num), (cb_num - mean) / sd, 0.0)
        b_cols += [zb, zb**2]
        v_cols += [zc, zc**2]
        if not ok.all():
            b_cols.append((~ok).astype(np.float64))
            v_cols.append((~np.isfinite(cb_num)).astype(np.float64))
    return np.stack(b_cols, axis=1), np.stack(v_cols, axis=1)


def _solve(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    gram = x.T @ x
    return np.asarray(np.linalg.solve(gram + RIDGE * np.trace(gram) / gram.shape[0] * np.eye(gram.shape[0]), x.T @ y))


def _misfit_variance(misfit: np.ndarray) -> float:
    """The variance of the misfit carried to the version's rows: the spread of its mean across
    MISFIT_BLOCKS stretches of the baseline's rows in time order, the version's window taken as
    one more stretch. A surrogate that fits the baseline's map unevenly (a quadratic in the hour
    against a bike-count model's two commute peaks) has a misfit that moves with the hours and
    days a stretch holds: a refitted gbm read 19% worse at z 13 while its misfit ranged -0.27 to
    -2.75 across the four quarters of its reference. An even fit moves only by sampling noise,
    about what the plain standard error gave (a few times it, with four stretches)."""
    means = np.array([float(part.mean()) for part in np.array_split(misfit, MISFIT_BLOCKS)])
    return max(float(means.var(ddof=1)), float(misfit.var(ddof=1)) / misfit.size)


def surrogate_gap(
    ctx: Context, v: int, base: int, rv: np.ndarray, cv: np.ndarray, min_rows: int
) -> SurrogateGap | None:
    """The version's labelled current rows against the baseline's surrogate answers there (module
    docstring). None for class-name answers, without labels, or with too few rows for the fit."""
    if ctx.task.kind == "classification" or ctx.current.label is None or ctx.reference.label is None:
        return None
    rp, cp = ctx.reference.prediction, ctx.current.prediction
    if isinstance(rp, Categorical) or isinstance(cp, Categorical):
        return None
    feats = [
        f
        for f in sorted(ctx.influence, key=lambda f: ctx.influence_raw.get(f, 0.0), reverse=True)
        if ctx.influence.get(f, 0.0) >= MIN_INFLUENCE and f in ctx.reference.features and f in ctx.current.features
    ][:SURROGATE_FEATURES]
    if not feats:
        return None
    b_idx = ctx.ref_sample[rv[ctx.ref_sample] == base]
    b_idx = b_idx[np.isfinite(rp[b_idx])]
    v_idx = ctx.cur_sample[cv[ctx.cur_sample] == v]
    v_idx = v_idx[np.isfinite(ctx.cur_loss[v_idx]) & np.isfinite(cp[v_idx])]
    if v_idx.size < min_rows or b_idx.size < 2 * min_rows:
        return None
    xb, xv = _columns(ctx, feats, b_idx, v_idx)
    if b_idx.size < 2 * MIN_ROWS_PER_TERM * xb.shape[1]:
        return None
    score = ctx.task.kind == "binary_score"

    def link(p: np.ndarray) -> np.ndarray:
        if not score:
            return p
        q = np.clip(p, SCORE_CLIP, 1.0 - SCORE_CLIP)
        return np.asarray(np.log(q / (1.0 - q)))

    def unlink(s: np.ndarray) -> np.ndarray:
        return np.asarray(1.0 / (1.0 + np.exp(-s))) if score else s

    target = link(np.asarray(rp[b_idx], dtype=np.float64))
    half = (np.arange(b_idx.size) * 7919) % 2 == 0  # interleaved halves: reference rows are in time order
    s_b = np.empty(b_idx.size)
    s_v = np.empty(v_idx.size)
    v_half = (np.arange(v_idx.size) % 2) == 0
    for side in (True, False):
        beta = _solve(xb[half == side], target[half == side])
        s_b[half != side] = xb[half != side] @ beta  # cross-fitted: each row by the other half's fit
        s_v[v_half == side] = xv[v_half == side] @ beta  # the version's rows by a fit of the same size
    label_b = take_rows(ctx.reference.label, b_idx)
    misfit = ctx.ref_loss[b_idx] - row_loss(unlink(s_b), label_b, ctx.task)
    misfit = misfit[np.isfinite(misfit)]
    assert ctx.current.label is not None
    loss_s = row_loss(unlink(s_v), take_rows(ctx.current.label, v_idx), ctx.task)
    loss_v = ctx.cur_loss[v_idx]
    ok = np.isfinite(loss_s)
    diff = loss_v[ok] - loss_s[ok]
    if diff.size < min_rows or misfit.size < min_rows:
        return None
    gap = float(diff.mean()) - float(misfit.mean())
    se = math.sqrt(float(diff.var(ddof=1)) / diff.size + _misfit_variance(misfit))
    base_loss = float(loss_s[ok].mean()) + float(misfit.mean())
    return SurrogateGap(
        n=int(diff.size),
        n_baseline=int(misfit.size),
        loss_version=float(loss_v[ok].mean()),
        loss_baseline=base_loss,
        z=gap / se if se > 0 else 0.0,
        misfit=float(misfit.mean()),
    )
