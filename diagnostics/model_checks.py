"""Model checks shared by the version and segment analyses: per-row loss statistics,
performance per window and the prediction-distribution shift.

Which version or which slice is to blame lives in `diagnostics.versions` and
`diagnostics.segments`; both measure loss changes with `LossStats` and `drop_magnitude`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from diagnostics.context import Context, performance_summary
from diagnostics.findings import Finding
from diagnostics.log import Categorical, align_categorical
from diagnostics.phase import DAY_S, hour_of_day
from diagnostics.stats import chi2_homogeneity, js_divergence, ks_statistic_bounded

MIN_LABELLED = 30


@dataclass
class LossStats:
    n: int
    mean: float
    var: float

    @classmethod
    def of(cls, loss: np.ndarray) -> LossStats:
        v = loss[np.isfinite(loss)]
        if v.size == 0:
            return cls(0, float("nan"), float("nan"))
        return cls(int(v.size), float(v.mean()), float(v.var()))

    def pooled(self, other: LossStats) -> LossStats:
        """The two samples as one (for a baseline observed in two windows)."""
        n = self.n + other.n
        if self.n == 0 or other.n == 0:
            return self if other.n == 0 else other
        mean = (self.n * self.mean + other.n * other.mean) / n
        var = (self.n * (self.var + (self.mean - mean) ** 2) + other.n * (other.var + (other.mean - mean) ** 2)) / n
        return LossStats(n, mean, var)

    def z_worse(self, base: LossStats) -> float:
        """How many standard errors this loss exceeds `base` (Welch)."""
        if self.n < 2 or base.n < 2:
            return 0.0
        se = math.sqrt(self.var / self.n + base.var / base.n)
        return (self.mean - base.mean) / max(se, 1e-9)


# A moderate loss increase that is far beyond the metric's own noise is a finding too: an effect
# of MODERATE_EFFECT (relative) at CERTAIN_Z standard errors scores MODERATE_SCORE, enough for a
# verdict; a gross effect needs less certainty, but one that barely clears its bar scores little.
MODERATE_EFFECT = 0.05
MODERATE_POINTS = 0.03
MODERATE_SCORE = 0.6
CERTAIN_Z = 4.5
MIN_RELATIVE = 0.02  # below 2% relative, a significant gap is still not an incident


def certainty(z: float, z_min: float) -> float:
    """0..1: how far a z statistic clears its bar (0 at the bar, 1 two standard errors past it)."""
    return float(np.clip((z - z_min) / 2.0, 0.0, 1.0))


def relative_increase(worse: LossStats, base: LossStats) -> float:
    """The loss increase relative to the baseline loss (error rate for classes, MAE otherwise)."""
    return (worse.mean - base.mean) / max(base.mean, 1e-12)


def drop_magnitude(
    ctx: Context,
    worse: LossStats,
    base: LossStats,
    z_min: float = 3.0,
    *,
    moderate: bool = True,
    relative: bool = False,
) -> float:
    """0..1 strength of the evidence that `worse` lost quality against `base`.

    Two ways to score: a gross effect (accuracy points for classes, relative error otherwise),
    discounted by how far its z clears `z_min`; or a moderate relative effect (>= 2%) at high
    certainty (full weight 1.5 standard errors past `z_min`: z >= CERTAIN_Z at the default bar),
    which reaches a verdict at about 5% worse.
    `moderate=False` keeps only the gross score (a scan over many slices needs a gross effect).
    `relative=True` sizes a moderate drop of classes by its relative error too (a version
    comparison: one model against another on the same traffic, where a rare-positive
    classifier's error going from 2.7% to 4.3% is the regression, not "1.6 points").
    """
    if worse.n < MIN_LABELLED or base.n < MIN_LABELLED:
        return 0.0
    return gap_magnitude(
        ctx,
        worse.mean - base.mean,
        relative_increase(worse, base),
        worse.z_worse(base),
        z_min,
        moderate=moderate,
        relative=relative,
    )


MIX_STRATA = 10  # prediction deciles of the reference's labelled rows


def mix_adjusted_base(ctx: Context, base: LossStats) -> LossStats:
    """The reference's loss at the current window's mix of predicted values.

    A regression's error grows with the level it predicts (a count's Poisson noise, a price's
    relative error), so a window that holds more high predictions has a higher mean loss with an
    unchanged model: a bike-rental log whose labelled current window is the evening peak (labels
    arriving three hours late cut off the quiet night) read +8% MAE, "concept drift", while per
    predicted decile the error moved +1%. The reference's loss per decile of its predictions,
    weighted by the current labelled rows' share in each decile, is the loss the current window
    would show had nothing changed but its mix; its standard error is the stratified one.
    Class-name predictions (no level) keep the plain baseline.
    """
    rp, cp = ctx.reference.prediction, ctx.current.prediction
    if isinstance(rp, Categorical) or isinstance(cp, Categorical) or base.n < 20 * MIX_STRATA:
        return base
    rok = np.isfinite(ctx.ref_loss) & np.isfinite(rp)
    cok = np.isfinite(ctx.cur_loss) & np.isfinite(cp)
    if int(cok.sum()) < MIN_LABELLED:
        return base
    edges = np.unique(np.quantile(rp[rok], np.linspace(0, 1, MIX_STRATA + 1)[1:-1]))
    rq = np.searchsorted(edges, rp[rok], side="right")
    cq = np.searchsorted(edges, cp[cok], side="right")
    return _stratified_base(base, ctx.ref_loss[rok], rq, cq, edges.size + 1, min_stratum=5)


MIN_PHASE_ROWS = 20  # labelled reference rows an hour of the day needs to stand for that hour


def phase_adjusted_base(ctx: Context, base: LossStats) -> LossStats:
    """The reference's loss at the current window's mix of hours of the day.

    What a model gets wrong can follow the clock without anything having changed: clicks whose
    rate peaks in the local evening under a model that has no hour input, deliveries that are
    harder at rush hour. A current window of a few hours then holds only the hard (or easy) part
    of the day, and against a reference of whole days the loss moves by construction: a healthy
    click log's Brier score read 0.077 -> 0.094 since a morning onset, while the same hours of the
    earlier days scored 0.089. The reference's loss per hour of the day (UTC: a cycle in any local
    zone is a cycle in UTC), weighted by the current labelled rows' hours, is what the window
    would show had only the time of day moved. Only when the reference holds at least two days and
    every hour the window holds; otherwise the plain baseline.
    """
    rt, ct = ctx.reference.timestamp, ctx.current.timestamp
    rok, cok = np.isfinite(ctx.ref_loss), np.isfinite(ctx.cur_loss)
    if int(cok.sum()) < MIN_LABELLED or int(rok.sum()) < 24 * MIN_PHASE_ROWS:
        return base
    if float(rt[rok][-1] - rt[rok][0]) < 2 * DAY_S or float(ct[cok][-1] - ct[cok][0]) >= DAY_S:
        return base  # fewer than two of each hour to learn from, or a window of whole days already
    rh, ch = hour_of_day(rt[rok]), hour_of_day(ct[cok])
    return _stratified_base(base, ctx.ref_loss[rok], rh, ch, 24, min_stratum=MIN_PHASE_ROWS)


def _stratified_base(
    base: LossStats, ref_loss: np.ndarray, ref_strata: np.ndarray, cur_strata: np.ndarray, k: int, *, min_stratum: int
) -> LossStats:
    """The reference loss per stratum weighted by the current rows' shares, with the stratified
    standard error; `base` itself when a stratum the window holds is one the reference hardly covers
    (no honest reweighting)."""
    n_r = np.bincount(ref_strata, minlength=k).astype(np.float64)
    s_r = np.bincount(ref_strata, weights=ref_loss, minlength=k)
    ss_r = np.bincount(ref_strata, weights=ref_loss**2, minlength=k)
    w = np.bincount(cur_strata, minlength=k).astype(np.float64)
    w /= w.sum()
    if bool(np.any((w > 0) & (n_r < min_stratum))):
        return base
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.where(n_r > 0, s_r / np.maximum(n_r, 1.0), 0.0)
        v = np.where(n_r > 1, ss_r / np.maximum(n_r, 1.0) - m**2, 0.0)
    mean = float((w * m).sum())
    se2 = float((w**2 * np.maximum(v, 0.0) / np.maximum(n_r, 1.0)).sum())
    return LossStats(base.n, mean, se2 * base.n)


def gap_magnitude(
    ctx: Context, delta: float, rel: float, z: float, z_min: float, *, moderate: bool = True, relative: bool = False
) -> float:
    """`drop_magnitude` for a gap measured any way (two samples, or paired rows): its size
    (`delta` in loss units, `rel` relative to the baseline loss) and its z statistic."""
    if z < z_min:
        return 0.0
    if ctx.task.kind == "classification":
        gross = float(np.clip((delta - 0.015) / 0.08, 0.0, 1.0))
    else:
        gross = float(np.clip((rel - 0.04) / 0.15, 0.0, 1.0))
    sure = certainty(z, z_min)
    gross *= 0.25 + 0.75 * sure
    if rel < MIN_RELATIVE or not moderate:
        return gross
    # effect of a moderate drop: relative error for numbers; for classes accuracy points (a
    # tripled 0.5% error rate is not yet an incident), MODERATE_POINTS for a full score
    points = ctx.task.kind == "classification" and not relative
    effect = min(1.0, delta / MODERATE_POINTS) if points else min(1.0, rel / MODERATE_EFFECT)
    # the ramp starts at the test's own bar: a version comparison is one pre-registered test
    # (z_min 2.5), so a moderate gap is as sure at z 4 there as a scanned one is at z 4.5
    sure_moderate = float(np.clip((z - z_min) / (CERTAIN_Z - 3.0), 0.0, 1.0))
    return max(gross, MODERATE_SCORE * effect * sure_moderate)


def _metric_text(summary: dict[str, float]) -> str:
    for key in ("brier", "accuracy", "mae", "auc"):  # a score's drop is measured on its Brier loss
        if key in summary:
            return f"{'Brier score' if key == 'brier' else key} {summary[key]:.3f}"
    return "no labels"


def performance_finding(ctx: Context) -> tuple[Finding | None, float]:
    ref_s = performance_summary(ctx.reference.prediction, ctx.reference.label, ctx.ref_loss, ctx.task)
    cur_s = performance_summary(ctx.current.prediction, ctx.current.label, ctx.cur_loss, ctx.task)
    a, b = LossStats.of(ctx.cur_loss), LossStats.of(ctx.ref_loss)
    mag = drop_magnitude(ctx, a, b)
    if mag <= 0:
        return None, 0.0
    return Finding(
        "model",
        "performance",
        "prediction quality",
        0.3 * mag,
        f"Performance fell since the onset: {_metric_text(ref_s)} -> {_metric_text(cur_s)} on {a.n} labelled rows.",
        {"reference": ref_s, "current": cur_s, "magnitude": mag},
    ), mag


def distribution_gap(
    a_src: np.ndarray | Categorical, a_idx: np.ndarray, b_src: np.ndarray | Categorical, b_idx: np.ndarray
) -> float:
    """How far two prediction samples differ beyond sampling noise.

    Numeric: KS statistic minus its critical value at alpha = 0.001 (so 50 rows against 500 do
    not look like a 0.2 shift). Classes: Jensen–Shannon divergence when a chi-square test rejects
    equality at 0.001, else 0.
    """
    if isinstance(a_src, Categorical):
        assert isinstance(b_src, Categorical)
        bc, ac, cats = align_categorical(b_src, a_src)
        a = ac[a_idx]
        b = bc[b_idx]
        pa_counts = np.bincount(b[b >= 0], minlength=len(cats))
        qa_counts = np.bincount(a[a >= 0], minlength=len(cats))
        if chi2_homogeneity(pa_counts, qa_counts)[1] >= 1e-3:
            return 0.0
        return js_divergence(pa_counts, qa_counts)
    assert not isinstance(b_src, Categorical)
    a_vals = np.sort(a_src[a_idx])
    b_vals = np.sort(b_src[b_idx])
    a_vals = a_vals[~np.isnan(a_vals)]
    b_vals = b_vals[~np.isnan(b_vals)]
    n1, n2 = a_vals.size, b_vals.size
    if n1 < 10 or n2 < 10:
        return 0.0
    crit = 1.95 * math.sqrt((n1 + n2) / (n1 * n2))
    return max(0.0, ks_statistic_bounded(b_vals, a_vals)[0] - crit)


def prediction_shift_finding(ctx: Context) -> Finding | None:
    gap = distribution_gap(
        ctx.current.prediction, np.arange(len(ctx.current)), ctx.reference.prediction, np.arange(len(ctx.reference))
    )
    threshold = 0.05 if isinstance(ctx.current.prediction, Categorical) else 0.1
    if gap < threshold:
        return None
    kind = "Jensen–Shannon" if isinstance(ctx.current.prediction, Categorical) else "KS"
    return Finding(
        "model",
        "prediction_shift",
        "prediction",
        min(0.25, gap),
        f"The distribution of predictions shifted since the onset ({kind} {gap:.3f}).",
        {"gap": gap},
    )
