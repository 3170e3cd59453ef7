"""Model checks: performance per window and per model version, prediction shift, concept
drift and the worst segments.

The decisive comparison for a suspect version is canary-style: its rows against other
versions' rows of the same time window, where inputs are alike. Only when no such rows exist
does the check fall back to comparing against the reference window, and then says so
(`details["comparison"]`) so the localizer can weigh it against input drift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from diagnostics.context import Context, align_categorical, performance_summary, prediction_matrix
from diagnostics.findings import Finding, iso_utc
from diagnostics.log import Categorical, ChangeRecord
from diagnostics.stats import js_divergence, ks_statistic_bounded

MIN_LABELLED = 30
MIN_CONCLUSIVE = 200  # labelled rows that make a side-by-side comparison trustworthy
VERSION_Z = 2.5  # a version comparison is one pre-registered test, not a scan: a lower bar
MAPPING_Z = 1.5  # labels need only lean "worse" for a changed input -> prediction map to count
MIN_SEGMENT_SHARE = 0.03
MIN_SEGMENT_ROWS = 30
MAX_SEGMENT_SHARE = 0.4  # a "segment" covering most traffic is a global problem
VERSION_WINDOW_S = 1800.0  # a deploy this close to the onset is "near" it


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


def drop_magnitude(ctx: Context, worse: LossStats, base: LossStats, z_min: float = 3.0) -> float:
    """0..1 size of a loss increase: accuracy points for classes, relative error otherwise."""
    if worse.n < MIN_LABELLED or base.n < MIN_LABELLED:
        return 0.0
    z = worse.z_worse(base)
    if z < z_min:
        return 0.0
    delta = worse.mean - base.mean
    if ctx.task.kind == "classification":
        return float(np.clip((delta - 0.015) / 0.08, 0.0, 1.0))
    rel = delta / max(base.mean, 1e-12)
    return float(np.clip((rel - 0.04) / 0.15, 0.0, 1.0))


def _metric_text(summary: dict[str, float]) -> str:
    for key in ("accuracy", "mae", "auc"):
        if key in summary:
            return f"{key} {summary[key]:.3f}"
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


def _version_codes(ctx: Context) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ref_mv = ctx.reference.model_version
    cur_mv = ctx.current.model_version
    assert isinstance(ref_mv, Categorical) and isinstance(cur_mv, Categorical)
    return align_categorical(ref_mv, cur_mv)


def version_findings(ctx: Context, changes: list[ChangeRecord], data_score: float) -> list[Finding]:
    """Find versions that are new in the current window and measure whether they hurt."""
    rv, cv, names = _version_codes(ctx)
    k = len(names)
    ref_counts = np.bincount(rv[rv >= 0], minlength=k).astype(float)
    cur_counts = np.bincount(cv[cv >= 0], minlength=k).astype(float)
    ref_share = ref_counts / max(ref_counts.sum(), 1)
    cur_share = cur_counts / max(cur_counts.sum(), 1)
    base = int(np.argmax(ref_counts)) if ref_counts.sum() else -1
    deploys = {c.to_version: c for c in changes if c.to_version}
    out: list[Finding] = []
    for v in range(k):
        if cur_share[v] < 0.05 or v == base or cur_share[v] <= 1.5 * ref_share[v] + 0.02:
            continue
        name = str(names[v])
        first_seen = _first_seen(ctx, rv, cv, v)
        event = deploys.get(name)
        finding = _assess_version(
            ctx, v, name, base, str(names[base]) if base >= 0 else "?", rv, cv, cur_share[v], data_score
        )
        finding.details.update(
            first_seen=iso_utc(first_seen) if math.isfinite(first_seen) else None,
            change_event=event.description if event else None,
            announced=event is not None,
        )
        near = math.isfinite(first_seen) and abs(first_seen - ctx.onset) <= VERSION_WINDOW_S
        finding.details["near_onset"] = near
        when = f"first seen {iso_utc(first_seen)}" if math.isfinite(first_seen) else ""
        how = f"deployed per change log ({event.description})" if event else "no change event recorded"
        calm = " Inputs did not drift." if data_score < 0.15 else ""
        finding.evidence = f"Version {name} ({when}; {how}): {finding.evidence}{calm}"
        out.append(finding)
    return out


def _first_seen(ctx: Context, rv: np.ndarray, cv: np.ndarray, v: int) -> float:
    in_ref = np.flatnonzero(rv == v)
    if in_ref.size and ctx.reference is not ctx.log:
        ts = ctx.reference.timestamp[in_ref[0]]
        if ts <= ctx.onset:
            return float(ts)
    in_cur = np.flatnonzero(cv == v)
    return float(ctx.current.timestamp[in_cur[0]]) if in_cur.size else float("nan")


def _assess_version(
    ctx: Context,
    v: int,
    name: str,
    base: int,
    base_name: str,
    rv: np.ndarray,
    cv: np.ndarray,
    share: float,
    data_score: float,
) -> Finding:
    cur_v = cv == v
    cur_other = (cv != v) & (cv >= 0)
    ref_v = rv == v
    ref_base = rv == base
    lv = LossStats.of(ctx.cur_loss[cur_v])
    details: dict[str, object] = {"version": name, "baseline_version": base_name, "share_current": share}
    # 1. same window, other versions (canary)
    lo = LossStats.of(ctx.cur_loss[cur_other])
    if lv.n >= MIN_LABELLED and lo.n >= MIN_LABELLED:
        mag = drop_magnitude(ctx, lv, lo, z_min=VERSION_Z)
        worse_z = lv.z_worse(lo)
        details.update(
            comparison="same_window", loss_version=lv.mean, loss_others=lo.mean, n_version=lv.n, n_others=lo.n
        )
        text = _loss_text(ctx, lo.mean, lv.mean, "other versions in the same window", lv.n)
        # a small canary may be too small for a significant head-to-head gap; when the other
        # versions kept their reference quality, the reference rows join the baseline
        lr = LossStats.of(ctx.ref_loss[ref_base]) if ref_base.any() else LossStats.of(ctx.ref_loss)
        if lr.n >= MIN_LABELLED and lo.z_worse(lr) < 2.0:
            baseline = lo.pooled(lr)
            pooled_mag = drop_magnitude(ctx, lv, baseline, z_min=VERSION_Z)
            worse_z = max(worse_z, lv.z_worse(baseline))
            if pooled_mag > mag:
                mag = pooled_mag
                details.update(comparison="same_window_and_reference", loss_reference=lr.mean)
                text = (
                    _loss_text(ctx, baseline.mean, lv.mean, f"{base_name} before and alongside it", lv.n)[:-1]
                    + f"; the other versions held {_quality(ctx, lo.mean)} in the same window."
                )
        mag, text = _with_mapping(ctx, v, base, rv, cv, True, mag, worse_z, text, details)
        return Finding("model", "version_change", name, mag, text, details)
    # 2. before the onset both versions served side by side
    lpv = LossStats.of(ctx.ref_loss[ref_v])
    lpb = LossStats.of(ctx.ref_loss[ref_base])
    if lpv.n >= MIN_LABELLED and lpb.n >= MIN_LABELLED:
        mag = drop_magnitude(ctx, lpv, lpb)
        # conclusive either way: a significant gap, or enough rows that a real one would show
        if mag > 0 or lpv.n >= MIN_CONCLUSIVE:
            details.update(
                comparison="pre_onset", loss_version=lpv.mean, loss_others=lpb.mean, n_version=lpv.n, n_others=lpb.n
            )
            text = _loss_text(ctx, lpb.mean, lpv.mean, f"{base_name} before the onset", lpv.n)
            return Finding("model", "version_change", name, mag, text, details)
    # 3. labels: against the reference window (confounded with anything else that changed)
    if lv.n >= MIN_LABELLED and lpb.n >= MIN_LABELLED:
        mag = drop_magnitude(ctx, lv, lpb)
        details.update(
            comparison="cross_window",
            loss_version=lv.mean,
            loss_others=lpb.mean,
            n_version=lv.n,
            n_others=lpb.n,
            raw_magnitude=mag,
        )
        text = _loss_text(ctx, lpb.mean, lv.mean, f"{base_name} in the reference window", lv.n)
        mag, text = _with_mapping(ctx, v, base, rv, cv, False, mag, lv.z_worse(lpb), text, details)
        return Finding("model", "version_change", name, mag * (1.0 - data_score), text, details)
    # 4. no labels: does the version map the same inputs to the same predictions?
    other = cur_other if int(cur_other.sum()) >= MIN_LABELLED else None
    shift = _prediction_gap(ctx, cur_v, other, ref_base)
    conditional = _conditional_gap(ctx, v, base, rv, cv, same_window=other is not None)
    details.update(
        comparison="predictions_same_window" if other is not None else "predictions_cross_window",
        prediction_gap=shift,
        conditional_gap=conditional,
    )
    mag = max(float(np.clip((shift - 0.1) / 0.3, 0.0, 1.0)), float(np.clip((conditional - 0.1) / 0.3, 0.0, 1.0)))
    if other is None:
        mag *= 1.0 - data_score
    return Finding(
        "model",
        "version_change",
        name,
        mag,
        f"no labels; given the same inputs its predictions depart from the baseline's by {conditional:.0%} of their "
        f"variance (distribution gap {shift:.3f}).",
        details,
    )


CONDITIONAL_FEATURES = 6
BACKFIT_ROUNDS = 3


def _conditional_gap(ctx: Context, v: int, base: int, rv: np.ndarray, cv: np.ndarray, *, same_window: bool) -> float:
    """How much worse a version's predictions fit the baseline's input -> prediction map.

    An additive surrogate (per-bin means of the most influential features, fitted by a few
    backfitting rounds on the baseline rows) describes what the baseline predicts for given
    inputs. The gap is (MSE of the version's predictions around the surrogate - MSE of the
    baseline's own) / variance of the baseline's predictions: ~0 for an equivalent model, large
    for a model that maps the same inputs elsewhere, even when its prediction histogram looks
    the same. Works on the window samples, so it costs a few bincounts.
    """
    feats = [
        f
        for f in sorted(ctx.influence, key=lambda f: ctx.influence_raw.get(f, 0.0), reverse=True)
        if f in ctx.cur_bin_codes and ctx.influence.get(f, 0.0) > 0.1
    ][:CONDITIONAL_FEATURES]
    if not feats:
        return 0.0
    cur_idx = ctx.cur_sample
    v_rows = np.flatnonzero(cv[cur_idx] == v)
    if same_window:
        b_rows = np.flatnonzero((cv[cur_idx] != v) & (cv[cur_idx] >= 0))
        b_pred_src, b_idx, b_bins = (
            ctx.current.prediction,
            cur_idx[b_rows],
            {f: ctx.cur_bin_codes[f][b_rows] for f in feats},
        )
    else:
        ref_idx = ctx.ref_sample
        b_rows = np.flatnonzero(rv[ref_idx] == base)
        b_pred_src, b_idx, b_bins = (
            ctx.reference.prediction,
            ref_idx[b_rows],
            {f: ctx.ref_bin_codes[f][b_rows] for f in feats},
        )
    if v_rows.size < MIN_LABELLED or b_rows.size < MIN_LABELLED:
        return 0.0
    v_bins = {f: ctx.cur_bin_codes[f][v_rows] for f in feats}
    ref_pred = ctx.reference.prediction
    b_mat, b_ok = prediction_matrix(_take(b_pred_src, b_idx), ref_pred)
    v_mat, v_ok = prediction_matrix(_take(ctx.current.prediction, cur_idx[v_rows]), ref_pred)
    if b_mat.shape[1] == 0 or b_ok.sum() < MIN_LABELLED or v_ok.sum() < MIN_LABELLED:
        return 0.0
    b_mat, v_mat = b_mat[b_ok], v_mat[v_ok]
    b_bins = {f: c[b_ok].astype(np.int64) for f, c in b_bins.items()}
    v_bins = {f: c[v_ok].astype(np.int64) for f, c in v_bins.items()}
    mu = b_mat.mean(axis=0)
    total = float(np.mean(np.sum((b_mat - mu) ** 2, axis=1)))
    if total <= 0:
        return 0.0
    resid = b_mat - mu
    effects: dict[str, np.ndarray] = {f: np.zeros((ctx.bins[f].n_bins, b_mat.shape[1])) for f in feats}
    for _ in range(BACKFIT_ROUNDS):
        for f in feats:
            codes = b_bins[f]
            nb = ctx.bins[f].n_bins
            partial = resid + effects[f][codes]
            counts = np.bincount(codes, minlength=nb).astype(np.float64)
            sums = np.stack(
                [np.bincount(codes, weights=partial[:, j], minlength=nb) for j in range(partial.shape[1])], 1
            )
            new = np.where(counts[:, None] >= 5, sums / np.maximum(counts, 1)[:, None], 0.0)
            resid = partial - new[codes]
            effects[f] = new
    fitted_v = mu + sum(effects[f][v_bins[f]] for f in feats)
    mse_b = float(np.mean(np.sum(resid**2, axis=1)))
    mse_v = float(np.mean(np.sum((v_mat - fitted_v) ** 2, axis=1)))
    return max(0.0, (mse_v - mse_b) / total)


def _take(values: np.ndarray | Categorical, idx: np.ndarray) -> np.ndarray | Categorical:
    return values.take(idx) if isinstance(values, Categorical) else values[idx]


def _with_mapping(
    ctx: Context,
    v: int,
    base: int,
    rv: np.ndarray,
    cv: np.ndarray,
    same_window: bool,
    mag: float,
    worse_z: float,
    text: str,
    details: dict[str, object],
) -> tuple[float, str]:
    """Labels say the version is worse; how much it changed the input -> prediction map says how much.

    A modest loss increase from a version that maps inputs somewhere else entirely (a model
    exported without its scaler) is the version's doing, not a segment's or the world's. Used
    only when the labels lean towards the version being worse (z >= MAPPING_Z), so a better new
    model is never blamed.
    """
    if worse_z < MAPPING_Z:
        return mag, text
    gap = _conditional_gap(ctx, v, base, rv, cv, same_window=same_window)
    details["conditional_gap"] = gap
    gap_mag = float(np.clip((gap - 0.1) / 0.3, 0.0, 1.0))
    if gap_mag <= mag:
        return mag, text
    return gap_mag, (
        text[:-1] + f"; given the same inputs its predictions moved by {min(gap, 9.99):.0%} of their variance."
    )


def _quality(ctx: Context, loss: float) -> str:
    return f"accuracy {1 - loss:.3f}" if ctx.task.kind == "classification" else f"mean absolute error {loss:.4g}"


def _loss_text(ctx: Context, base_loss: float, loss: float, against: str, n: int) -> str:
    if ctx.task.kind == "classification":
        return f"accuracy {1 - base_loss:.3f} ({against}) -> {1 - loss:.3f} on its {n} labelled rows."
    return f"mean absolute error {base_loss:.4g} ({against}) -> {loss:.4g} on its {n} labelled rows."


def _prediction_gap(ctx: Context, cur_v: np.ndarray, other: np.ndarray | None, ref_base: np.ndarray) -> float:
    pred_v = ctx.current.prediction
    if other is not None:
        a_idx, b_src, b_idx = np.flatnonzero(cur_v), ctx.current.prediction, np.flatnonzero(other)
    else:
        a_idx, b_src, b_idx = np.flatnonzero(cur_v), ctx.reference.prediction, np.flatnonzero(ref_base)
    return _distribution_gap(pred_v, a_idx, b_src, b_idx)


def _distribution_gap(
    a_src: np.ndarray | Categorical, a_idx: np.ndarray, b_src: np.ndarray | Categorical, b_idx: np.ndarray
) -> float:
    if isinstance(a_src, Categorical):
        assert isinstance(b_src, Categorical)
        bc, ac, cats = align_categorical(b_src, a_src)
        a = ac[a_idx]
        b = bc[b_idx]
        return js_divergence(np.bincount(b[b >= 0], minlength=len(cats)), np.bincount(a[a >= 0], minlength=len(cats)))
    assert not isinstance(b_src, Categorical)
    a_vals = np.sort(a_src[a_idx])
    b_vals = np.sort(b_src[b_idx])
    a_vals = a_vals[~np.isnan(a_vals)]
    b_vals = b_vals[~np.isnan(b_vals)]
    if a_vals.size < 10 or b_vals.size < 10:
        return 0.0
    return ks_statistic_bounded(b_vals, a_vals)[0]


def prediction_shift_finding(ctx: Context) -> Finding | None:
    gap = _distribution_gap(
        ctx.current.prediction, np.arange(len(ctx.current)), ctx.reference.prediction, np.arange(len(ctx.reference))
    )
    threshold = 0.05 if isinstance(ctx.current.prediction, Categorical) else 0.15
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


@dataclass
class Segment:
    label: str
    share: float
    explained: float
    loss_ref: float
    loss_cur: float
    n: int
    parts: tuple[tuple[str, int, int], ...] = ()  # (feature, first bin, last bin) per condition

    def rows(self, codes: dict[str, np.ndarray]) -> np.ndarray:
        """Mask of the sampled rows (of one window) inside the segment."""
        mask: np.ndarray | None = None
        for feature, lo, hi in self.parts:
            c = codes[feature]
            m = (c >= lo) & (c <= hi)
            mask = m if mask is None else mask & m
        assert mask is not None
        return mask


def worst_segments(ctx: Context, top: int = 3) -> list[Segment]:
    """Slices (one feature, or two) that explain most of the loss increase, with minimum support.

    For each segment the excess is n_cur * (loss_cur - loss_ref of the same segment); numeric
    features take the best contiguous run of reference deciles. `explained` is the segment's
    share of the total excess over the feature's segments.
    """
    cur_loss = ctx.cur_loss[ctx.cur_sample]
    ref_loss = ctx.ref_loss[ctx.ref_sample]
    cur_ok = np.isfinite(cur_loss)
    ref_ok = np.isfinite(ref_loss)
    n_cur = int(cur_ok.sum())
    if n_cur < 2 * MIN_LABELLED or int(ref_ok.sum()) < 2 * MIN_LABELLED:
        return []
    found: list[Segment] = []
    totals: dict[str, float] = {}
    for name, bins in ctx.bins.items():
        if name not in ctx.cur_bin_codes:
            continue
        cb = ctx.cur_bin_codes[name]
        rb = ctx.ref_bin_codes[name]
        nb = bins.n_bins
        c_n = np.bincount(cb[cur_ok], minlength=nb).astype(float)
        c_l = np.bincount(cb[cur_ok], weights=cur_loss[cur_ok], minlength=nb)
        r_n = np.bincount(rb[ref_ok], minlength=nb).astype(float)
        r_l = np.bincount(rb[ref_ok], weights=ref_loss[ref_ok], minlength=nb)
        overall_ref = float(r_l.sum() / max(r_n.sum(), 1))
        r_mean = np.where(r_n >= 10, r_l / np.maximum(r_n, 1), overall_ref)
        excess = c_l - c_n * r_mean
        total = float(excess.sum())
        if total <= 0:
            continue
        if bins.numeric:
            # contiguous runs over the value bins (last bin = missing is its own segment)
            vals = excess[:-1]
            cum = np.concatenate(([0.0], np.cumsum(vals)))
            cnt = np.concatenate(([0.0], np.cumsum(c_n[:-1])))
            best = (-np.inf, 0, 0)
            for i in range(len(vals)):
                for j in range(i + 1, len(vals) + 1):
                    share = (cnt[j] - cnt[i]) / n_cur
                    if share > MAX_SEGMENT_SHARE or cnt[j] - cnt[i] < MIN_SEGMENT_ROWS or share < MIN_SEGMENT_SHARE:
                        continue
                    ex = cum[j] - cum[i]
                    if ex > best[0]:
                        best = (ex, i, j - 1)
            cands = [best] if math.isfinite(best[0]) else []
            if c_n[-1] >= MIN_SEGMENT_ROWS:
                cands.append((excess[-1], nb - 1, nb - 1))
            for ex, i, j in cands:
                n_seg = float(c_n[i : j + 1].sum())
                found.append(
                    _segment(
                        bins.label(i, j),
                        n_seg,
                        n_cur,
                        ex,
                        total,
                        c_l[i : j + 1].sum(),
                        (r_mean[i : j + 1] * c_n[i : j + 1]).sum(),
                        ((name, i, j),),
                    )
                )
        else:
            for b in range(nb - 1):
                if (
                    c_n[b] < MIN_SEGMENT_ROWS
                    or c_n[b] / n_cur < MIN_SEGMENT_SHARE
                    or c_n[b] / n_cur > MAX_SEGMENT_SHARE
                ):
                    continue
                found.append(
                    _segment(
                        bins.label(b), c_n[b], n_cur, excess[b], total, c_l[b], r_mean[b] * c_n[b], ((name, b, b),)
                    )
                )
        totals[name] = total
    found += _pair_segments(ctx, found, cur_loss, ref_loss, totals)
    found.sort(key=lambda s: s.explained * max(s.loss_cur - s.loss_ref, 0.0), reverse=True)
    return found[:top]


def _segment(
    label: str,
    n_seg: float,
    n_cur: int,
    ex: float,
    total: float,
    loss_sum: float,
    ref_loss_sum: float,
    parts: tuple[tuple[str, int, int], ...] = (),
) -> Segment:
    return Segment(
        label=label,
        share=n_seg / n_cur,
        explained=float(ex / total) if total > 0 else 0.0,
        loss_ref=float(ref_loss_sum / max(n_seg, 1)),
        loss_cur=float(loss_sum / max(n_seg, 1)),
        n=int(n_seg),
        parts=parts,
    )


def _pair_segments(
    ctx: Context, singles: list[Segment], cur_loss: np.ndarray, ref_loss: np.ndarray, total_by_feature: dict[str, float]
) -> list[Segment]:
    """Intersections of the best single-feature segments of two different features."""
    out: list[Segment] = []
    cur_ok = np.isfinite(cur_loss)
    ref_ok = np.isfinite(ref_loss)
    n_cur = int(cur_ok.sum())
    ranked = sorted(singles, key=lambda s: s.explained * max(s.loss_cur - s.loss_ref, 0.0), reverse=True)[:4]
    for a_i, a in enumerate(ranked):
        for b in ranked[a_i + 1 :]:
            if a.parts[0][0] == b.parts[0][0]:
                continue
            parts = a.parts + b.parts
            seg = Segment("", 0.0, 0.0, 0.0, 0.0, 0, parts)
            in_cur = seg.rows(ctx.cur_bin_codes) & cur_ok
            in_ref = seg.rows(ctx.ref_bin_codes) & ref_ok
            n_seg = int(in_cur.sum())
            if n_seg < MIN_SEGMENT_ROWS or n_seg / max(n_cur, 1) < MIN_SEGMENT_SHARE or int(in_ref.sum()) < 10:
                continue
            loss_c = float(cur_loss[in_cur].mean())
            loss_r = float(ref_loss[in_ref].mean())
            total = max(total_by_feature.get(a.parts[0][0], 0.0), total_by_feature.get(b.parts[0][0], 0.0))
            ex = n_seg * (loss_c - loss_r)
            out.append(
                _segment(f"{a.label} and {b.label}", n_seg, n_cur, ex, total, loss_c * n_seg, loss_r * n_seg, parts)
            )
    return out


def segment_and_concept_findings(ctx: Context, perf_mag: float, blockers: float) -> list[Finding]:
    """Concept drift (a drop everywhere) or one segment (a drop concentrated in a slice).

    Both are what is left once a version or the inputs explain nothing: `blockers` is the
    strongest version/data score and discounts them. A segment wins when it explains most of
    the excess loss, covers at most MAX_SEGMENT_SHARE of traffic and its own loss rose at least
    2.5x as much as the overall loss; its score is the size of its own drop.
    """
    a, b = LossStats.of(ctx.cur_loss), LossStats.of(ctx.ref_loss)
    if a.n < MIN_LABELLED or b.n < MIN_LABELLED or a.z_worse(b) < 3.0:
        return []
    segs = worst_segments(ctx)
    out: list[Finding] = []
    overall = max(a.mean - b.mean, 1e-12)
    best = segs[0] if segs else None
    concentrated = (
        best is not None
        and best.explained >= 0.6
        and best.share <= MAX_SEGMENT_SHARE
        and (best.loss_cur - best.loss_ref) >= 2.5 * overall
    )
    if concentrated and best is not None and ctx.task.kind != "classification":
        concentrated = _bias_concentrated(ctx, best, overall)
    # a segment matters only inside a material overall drop (not a retrain's 0.1% wobble)
    materiality = min(1.0, perf_mag / 0.2)
    for rank, seg in enumerate(segs):
        own = _segment_drop(ctx, seg)
        if rank == 0 and concentrated:
            score = own * min(1.0, seg.explained) * (1.0 - blockers) * materiality
        else:
            score = 0.1 * own * (1.0 - blockers)
        out.append(
            Finding(
                "model",
                "segment",
                seg.label,
                score,
                f"Segment {seg.label} ({100 * seg.share:.0f}% of labelled traffic) explains "
                f"{100 * min(seg.explained, 1.0):.0f}% of the error increase: loss {seg.loss_ref:.3f} -> "
                f"{seg.loss_cur:.3f}.",
                {
                    "share": seg.share,
                    "explained": seg.explained,
                    "loss_reference": seg.loss_ref,
                    "loss_current": seg.loss_cur,
                    "rows": seg.n,
                },
            )
        )
    residual = perf_mag * (1.0 - blockers)
    out.append(
        Finding(
            "model",
            "concept_drift",
            "concept",
            residual * (0.3 if concentrated else 1.0),
            _concept_text(blockers, concentrated),
            {"performance_magnitude": perf_mag, "explained_elsewhere": blockers},
        )
    )
    return out


def _bias_concentrated(ctx: Context, seg: Segment, loss_increase: float) -> bool:
    """For numeric targets: is the shift of the signed residual (label - prediction) also
    concentrated in the segment? A target that moved everywhere raises |error| most where the
    model already erred in that direction, which mimics a segment; its bias shift does not."""
    pred_c, lab_c = ctx.current.prediction, ctx.current.label
    pred_r, lab_r = ctx.reference.prediction, ctx.reference.label
    if any(isinstance(v, Categorical) or v is None for v in (pred_c, lab_c, pred_r, lab_r)):
        return True
    assert isinstance(pred_c, np.ndarray) and isinstance(lab_c, np.ndarray)
    assert isinstance(pred_r, np.ndarray) and isinstance(lab_r, np.ndarray)
    res_c = (lab_c - pred_c)[ctx.cur_sample]
    res_r = (lab_r - pred_r)[ctx.ref_sample]
    ok_c, ok_r = np.isfinite(res_c), np.isfinite(res_r)
    shift = float(res_c[ok_c].mean() - res_r[ok_r].mean()) if ok_c.any() and ok_r.any() else 0.0
    if abs(shift) < 0.25 * loss_increase:
        return True  # the error grew without a bias shift: nothing to check
    in_c = seg.rows(ctx.cur_bin_codes) & ok_c
    in_r = seg.rows(ctx.ref_bin_codes) & ok_r
    if int(in_c.sum()) < MIN_SEGMENT_ROWS or int(in_r.sum()) < 10:
        return True
    seg_shift = float(res_c[in_c].mean() - res_r[in_r].mean())
    explained = seg_shift * int(in_c.sum()) / (shift * int(ok_c.sum()))
    return explained >= 0.6


def _concept_text(blockers: float, concentrated: bool) -> str:
    if blockers >= 0.3:
        return "Performance dropped, but the input or model-version findings above explain most of it."
    if concentrated:
        return "Performance dropped mostly in one segment (above) rather than everywhere."
    return (
        "Performance dropped everywhere while the inputs and the model version stayed put: the relation "
        "between inputs and labels changed (concept drift)."
    )


def _segment_drop(ctx: Context, seg: Segment) -> float:
    delta = seg.loss_cur - seg.loss_ref
    if ctx.task.kind == "classification":
        return float(np.clip((delta - 0.03) / 0.15, 0.0, 1.0))
    rel = delta / max(seg.loss_ref, 1e-12)
    return float(np.clip((rel - 0.1) / 0.4, 0.0, 1.0))


def _overall_increase(ctx: Context) -> float:
    a, b = LossStats.of(ctx.cur_loss), LossStats.of(ctx.ref_loss)
    return max(a.mean - b.mean, 0.0) if a.n and b.n else 0.0


__all__ = [
    "prediction_matrix",
    "version_findings",
    "performance_finding",
    "prediction_shift_finding",
    "segment_and_concept_findings",
    "worst_segments",
]
