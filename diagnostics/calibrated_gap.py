"""A version's loss estimated by the label model recalibrated on the baseline's realized loss.

The label model (`label_model`) learns the label from the inputs on the labelled reference.
When it is weaker than the served models (fresh inputs in ten or twenty dimensions, a boundary
it can only blur), its expected loss of any answer is off in level: it thinks the baseline's
answers wrong far more often than they are (0.24 estimated against 0.08 realized), and that
level error, counted as the estimate's uncertainty, swamps any gap between versions.

What the reference does know exactly is how the label model's expected loss of an answer maps
to the realized loss of the baseline's answers: each labelled reference row has both (the
expected loss out of sample, from the half-fit that did not see the row). A monotone map fitted
on those pairs (`estimate.Calibration`) turns any answer's expected loss into the realized loss
an answer judged that way had; applied to the version's answers on its own rows and to the
baseline's answers on its rows, it compares both in realized units. A retrain answering like
the baseline gets the same map and no gap; a version wrong where the label model is sure of the
label (an answer it gives a low probability) is mapped to the baseline's realized loss at such
answers, so its gap shows, shrunk (never inflated) towards the baseline's by the label model's
own weakness. The figure is an estimate and says so.

Against a canary the baseline is its own rows of the same window (same inputs, same time); when
their estimate agrees with the baseline's on the reference (within `POOL_Z` standard errors: its
quality held), the reference rows join them, as a labelled canary comparison pools them
(`versions._assess_version`): a canary of a few hundred rows is otherwise too small to tell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from diagnostics.context import Context
from diagnostics.estimate import Calibration
from diagnostics.label_model import LabelModel, cur_halves, ref_halves, window_expected_loss, window_points
from diagnostics.log import Categorical
from diagnostics.matched import LossGap

MIN_ROWS = 100  # rows on either side (and labelled reference rows for the map)
POOL_Z = 2.0  # the baseline's current rows pool with its reference rows when they agree this well


@dataclass(frozen=True)
class CalibratedGap(LossGap):
    n_version: int
    n_baseline: int
    loss_version: float  # estimated, in realized units
    loss_baseline: float
    z: float
    same_window: bool  # the baseline's rows are its current ones (a canary), else the reference's
    pooled: bool = False  # ... and its reference rows joined them


def calibrated_gap(
    losses: tuple[np.ndarray, np.ndarray], v_cur: np.ndarray, base_ref: np.ndarray, base_cur: np.ndarray
) -> CalibratedGap | None:
    """The version's recalibrated estimated loss on its rows against the baseline's on its own
    (`losses` from `calibrated_losses`; positions in the window samples, as
    `label_model.estimated_gap`). The baseline's current rows are used when there are enough (same
    window, same inputs), else its reference rows."""
    ref_c, cur_c = losses
    lv = cur_c[v_cur]
    lv = lv[np.isfinite(lv)]
    lb_ref = ref_c[base_ref]
    lb_ref = lb_ref[np.isfinite(lb_ref)]
    lb_cur = cur_c[base_cur]
    lb_cur = lb_cur[np.isfinite(lb_cur)]
    same = lb_cur.size >= MIN_ROWS
    lb = lb_cur if same else lb_ref
    pooled = same and lb_ref.size >= MIN_ROWS and abs(_z(lb_cur, lb_ref)) < POOL_Z
    if pooled:
        lb = np.concatenate([lb_cur, lb_ref])
    if lv.size < MIN_ROWS or lb.size < MIN_ROWS:
        return None
    return CalibratedGap(int(lv.size), int(lb.size), float(lv.mean()), float(lb.mean()), _z(lv, lb), same, pooled)


def calibrated_losses(ctx: Context, model: LabelModel) -> tuple[np.ndarray, np.ndarray] | None:
    """Each sampled reference and window row's answer's expected loss, mapped onto the baseline's
    realized loss (`estimate.Calibration`; NaN where none); None with too few labelled reference rows."""
    ref_e = window_expected_loss(ctx, model, "reference")
    ref_r = ctx.ref_loss[ctx.ref_sample]
    ok = np.isfinite(ref_e) & np.isfinite(ref_r)
    if int(ok.sum()) < MIN_ROWS:
        return None
    cal = Calibration.fit(ref_e[ok], ref_r[ok])
    cur_e = window_expected_loss(ctx, model, "current")
    return _mapped(cal, ref_e), _mapped(cal, cur_e)


def _mapped(cal: Calibration, e: np.ndarray) -> np.ndarray:
    out = np.full(e.shape, np.nan)
    ok = np.isfinite(e)
    out[ok] = cal(e[ok])
    return out


def _z(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample z of mean(a) - mean(b)."""
    se = math.sqrt(float(a.var(ddof=1)) / a.size + float(b.var(ddof=1)) / b.size)
    return (float(a.mean()) - float(b.mean())) / max(se, 1e-12)


@dataclass(frozen=True)
class SquaredGap(LossGap):
    """A numeric version's squared distance to the estimated label against the baseline's."""

    n_version: int
    n_baseline: int
    loss_version: float  # mean (answer - estimated label)^2
    loss_baseline: float
    z: float
    same_window: bool
    baseline_mse: float  # the baseline's realized mean squared error on the labelled reference
    relative_abs: float  # the gap as a rise of the absolute error: sqrt(1 + gap / baseline_mse) - 1


def squared_gap(
    ctx: Context,
    distances: tuple[np.ndarray, np.ndarray],
    v_cur: np.ndarray,
    base_ref: np.ndarray,
    base_cur: np.ndarray,
) -> SquaredGap | None:
    """A numeric version judged by its squared distance to the label model's estimate (positions in
    the window samples, as `calibrated_gap`).

    Why squared: with an estimate `m` of the label's mean whose own error `m - f` does not depend on
    the versions' answers, `E(answer - m)^2 = E(answer - f)^2 + E(m - f)^2 - 2 E[(answer - f)(m - f)]`:
    the label model's error adds the same level to both versions and the gap between them is the
    gap in mean squared error, undiluted. The expected *absolute* error over the label model's
    residuals (`label_model.expected_abs`) is nearly flat in an answer's displacement when the label
    model is weaker than the versions (a residual spread twice the served models' shrinks a gap to
    about half, and the level bias then swamps it: fresh 27-input regressions, a version 37% worse
    by absolute error at estimated +11%, z 0.5). Not every departure is unbiased: a version that
    is smoother than the truth the way the label model is (an over-regularized fit) shares its
    error and looks better, so this statistic can only blame, never clear.

    The baseline's rows are its own in the same window when it still serves (a canary: same
    inputs, same time), else its reference rows (the label model scores both windows out of
    sample, by half-fits of the same capacity). `distances` are `squared_distance`'s of the
    reference and window samples (a numeric label model's). None with too few rows.
    """
    ref_e, cur_e = distances
    lv = cur_e[v_cur]
    lv = lv[np.isfinite(lv)]
    lb_cur = cur_e[base_cur]
    lb_cur = lb_cur[np.isfinite(lb_cur)]
    same = lb_cur.size >= MIN_ROWS
    lb = lb_cur if same else ref_e[base_ref][np.isfinite(ref_e[base_ref])]
    real = ctx.ref_loss[ctx.ref_sample[base_ref]]
    real = real[np.isfinite(real)]
    if lv.size < MIN_ROWS or lb.size < MIN_ROWS or real.size < MIN_ROWS:
        return None
    mse = float(np.mean(real**2))
    gap = float(lv.mean() - lb.mean())
    rel = math.sqrt(max(1.0 + gap / max(mse, 1e-12), 0.0)) - 1.0
    return SquaredGap(int(lv.size), int(lb.size), float(lv.mean()), float(lb.mean()), _z(lv, lb), same, mse, rel)


def squared_distance(ctx: Context, model: LabelModel, window: str) -> np.ndarray:
    """(answer - estimated label)^2 of each sampled row of a window (NaN where no answer)."""
    if window == "reference":
        log, idx, codes, half = ctx.reference, ctx.ref_sample, ctx.ref_bin_codes, ref_halves(ctx)
    else:
        log, idx, codes, half = ctx.current, ctx.cur_sample, ctx.cur_bin_codes, cur_halves(ctx)
    if isinstance(log.prediction, Categorical):
        return np.full(idx.shape[0], np.nan)
    pred = np.asarray(log.prediction[idx], dtype=np.float64)
    sub = {f: c.astype(np.int64) for f, c in codes.items() if f in model.n_bins}
    est = model.estimate(sub, window_points(ctx, model, window), half)
    return np.asarray((pred - est[:, 0]) ** 2)
