"""Segment and concept checks: is a drop concentrated in one slice of the traffic, or
everywhere (the world changed under the model)?

Both are what is left once a version or the inputs explain nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from diagnostics.context import Context
from diagnostics.findings import Finding
from diagnostics.log import Categorical
from diagnostics.matched import (
    HeldConditions,
    UnseenWindow,
    across_days_z,
    held_conditions,
    input_adjusted_loss,
    moved_features,
    unseen_window,
)
from diagnostics.model_checks import (
    MIN_LABELLED,
    LossStats,
    drop_magnitude,
    gap_magnitude,
    mix_adjusted_base,
    phase_adjusted_base,
    relative_increase,
)

MIN_SEGMENT_SHARE = 0.03
MIN_SEGMENT_ROWS = 30
MAX_SEGMENT_SHARE = 0.4  # a "segment" covering most traffic is a global problem
SEGMENT_Z = 5.0  # a slice's own drop, found by scanning many slices, is certain past this


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


def segment_and_concept_findings(
    ctx: Context, perf_mag: float, blockers: float, context_findings: Sequence[Finding] = ()
) -> list[Finding]:
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
    matched = input_adjusted_loss(ctx)
    held = held_conditions(ctx)
    held_to_end = held is not None and held.window.seen_to_the_end(ctx) is True
    segs, concentrated = explaining_first(
        segs, overall, lambda s: ctx.task.kind == "classification" or _bias_concentrated(ctx, s, overall)
    )
    best = segs[0] if segs else None
    # the slice explains the drop only if it rose at its own inputs; if it did not, the drop
    # still sat in one slice, so it is no more "everywhere" for the concept check below
    named = (
        concentrated
        and best is not None
        and _rises_at_own_inputs(ctx, best, matched)
        and (held is None or _rises_where_held(ctx, best, held))
    )
    # a segment matters only inside a material overall drop (not a retrain's 0.1% wobble)
    # a moderate but certain drop makes a segment material too, unless a new version took
    # traffic: then the version comparison has judged the drop, and a scan over many slices
    # must not pin it on the slice where the new model happens to differ most
    new_version = any(f.check == "version_change" for f in context_findings)
    drop = perf_mag if not new_version else drop_magnitude(ctx, a, b, moderate=False)
    if named and best is not None and not new_version:
        # a slice that carries most of a significant overall rise and whose own drop is gross
        # and certain past the scan's own bar is material by itself: a rare-positive
        # classifier's 2.6% -> 4.5% error is "1.9 points" overall but 2.7% -> 12% in one region
        drop = max(drop, _own_drop(ctx, best))
    materiality = min(1.0, drop / 0.2)
    for rank, seg in enumerate(segs):
        own = _segment_drop(ctx, seg)
        if rank == 0 and named:
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
    # "quality fell everywhere" must hold at the current window's own mix of predicted values
    # and of hours of the day
    for adjusted in (mix_adjusted_base(ctx, b), phase_adjusted_base(ctx, b)):
        if adjusted is not b:
            perf_mag = min(perf_mag, drop_magnitude(ctx, a, adjusted))
    # and at its own inputs: all influential ones, then only those that moved
    moved = moved_features(ctx)
    for m in (matched, input_adjusted_loss(ctx, moved) if moved else None):
        if m is not None:
            perf_mag = min(perf_mag, _matched_magnitude(ctx, m, b))
    # and, when much of the window sits at input values the reference never held, at the others
    unseen = unseen_window(ctx)
    if unseen is not None and unseen.read_at_seen(ctx):
        perf_mag = min(perf_mag, drop_magnitude(ctx, LossStats.of(ctx.cur_loss[unseen.seen]), b))
    # and, when much of the window sits at combinations of inputs (and of hour and kind of day)
    # the reference never held, at the rows it held, against its loss there
    if held is not None and held_to_end:
        cur_held = LossStats.of(ctx.cur_loss[held.window.seen])
        perf_mag = min(perf_mag, drop_magnitude(ctx, cur_held, _matched_base(b, held.base)))
    residual = perf_mag * (1.0 - blockers)
    out.append(
        Finding(
            "model",
            "concept_drift",
            "concept",
            residual * (0.3 if concentrated else 1.0),
            _concept_text(blockers, concentrated, context_findings),
            {"performance_magnitude": perf_mag, "explained_elsewhere": blockers},
        )
    )
    return out


def _rises_at_own_inputs(
    ctx: Context, seg: Segment, matched: tuple[np.ndarray, np.ndarray, np.ndarray] | None
) -> bool:
    """Whether the slice's loss rose at its own inputs, not only by a change in which of them it served.

    A slice of a few recurring inputs (a wine set's 89 rows served again and again with a tilt
    by the hour) moves its mean loss by serving its hard inputs more often: "color_intensity in
    (4.28, 4.6] explains 100% of the error increase: loss 0.112 -> 0.289" with each of its inputs
    scored exactly as before. Against the reference's loss at the same inputs
    (`matched.input_adjusted_loss`) the rise must keep at least half its size and be certain
    (z >= 3). Undecided (True) when too few of the slice's rows found close reference inputs."""
    if matched is None:
        return True
    rows, cur_loss, at_inputs = matched
    inside = np.isin(rows, ctx.cur_sample[seg.rows(ctx.cur_bin_codes)])
    if int(inside.sum()) < MIN_SEGMENT_ROWS:
        return True
    return _rose_at_same_inputs(ctx, seg, rows[inside], cur_loss[inside], at_inputs[inside])


def _rose_at_same_inputs(
    ctx: Context, seg: Segment, rows: np.ndarray, cur_loss: np.ndarray, at_inputs: np.ndarray
) -> bool:
    """The slice's rows' loss above the reference's at the same inputs by half the slice's raw rise, at
    z >= 3 across its rows and, on a window of days, across its local days (`across_days_z`): a
    slice whose loss rose on the days its weak inputs were visited most, and held on the others,
    did not change."""
    cur, base = LossStats.of(cur_loss), LossStats.of(at_inputs)
    # each base figure is a mean of MATCH_K reference losses: its spread understates one row's
    base = LossStats(base.n, base.mean, max(base.var, cur.var))
    if cur.mean - base.mean < 0.5 * (seg.loss_cur - seg.loss_ref) or cur.z_worse(base) < 3.0:
        return False
    days = across_days_z(ctx, rows, cur_loss - at_inputs)
    return days is None or days >= 3.0


def _rises_where_held(ctx: Context, seg: Segment, held: HeldConditions) -> bool:
    """Whether the slice's loss rose at its rows whose conditions the reference held
    (`matched.held_conditions`), as `_rises_at_own_inputs` asks of all its matched rows.

    Asked only when the slice's rise sits at its rows the reference never held the conditions of
    and its held rows reach the window's end (`UnseenWindow.seen_to_the_end` on the slice's rows):
    a slice of low humidity (the warm hours) of a 36-hour bike log "explains 100% of the error
    increase: loss 2.352 -> 3.271" while its 544 rows at conditions its 8-hour reference held lost
    2.38 against 2.41 there (cycles seed 43, onset found). A slice whose relation changed raises
    its held rows too, so the rise does not sit at the others and the slice stands."""
    w = held.window
    inside = np.isin(w.rows, ctx.cur_sample[seg.rows(ctx.cur_bin_codes)])
    if not UnseenWindow(w.rows[inside], w.unseen[inside], w.unseen_read[inside]).seen_to_the_end(ctx):
        return True
    at = inside[~w.unseen]
    return _rose_at_same_inputs(ctx, seg, w.seen[at], ctx.cur_loss[w.seen[at]], held.base[at])


def _matched_magnitude(ctx: Context, matched: tuple[np.ndarray, np.ndarray, np.ndarray], base: LossStats) -> float:
    """The concept's magnitude at the window's own inputs (`matched.input_adjusted_loss`), its
    certainty read across the window's local days as well as across its rows (`across_days_z`):
    on a window of days, a rise at the same inputs must hold beyond the days' own swing of it."""
    rows, cur_loss, at_inputs = matched
    cur, at = LossStats.of(cur_loss), _matched_base(base, at_inputs)
    mag = drop_magnitude(ctx, cur, at)
    days = across_days_z(ctx, rows, cur_loss - at_inputs) if mag > 0.0 else None
    if days is None or days >= cur.z_worse(at):
        return mag
    return min(mag, gap_magnitude(ctx, cur.mean - at.mean, relative_increase(cur, at), days, 3.0))


def _matched_base(base: LossStats, at_inputs: np.ndarray) -> LossStats:
    """The reference's loss at the window's own inputs (`matched.input_adjusted_loss`): its mean,
    with the reference's own spread of losses (each input's figure is a mean of a few reference
    rows, so the spread of the figures understates what one row varies by)."""
    return LossStats(at_inputs.size, float(at_inputs.mean()), base.var)


def explaining_first(
    segs: list[Segment], overall: float, bias_concentrated: Callable[[Segment], bool]
) -> tuple[list[Segment], bool]:
    """The ranked slices with the best-ranked *explanation* first, and whether there is one.

    An explanation carries most of the excess (>= 60%), covers at most MAX_SEGMENT_SHARE of
    traffic and its own loss rose >= 2.5x the overall rise (for numbers, with the residual's
    bias shift concentrated in it too). The ranking (explained x own rise) can put a two-feature
    slice inside a region first on a larger own rise while it explains only half of the excess,
    which the region itself explains: the region is then the culprit, not "no segment".
    """
    for seg in segs:
        if (
            seg.explained >= 0.6
            and seg.share <= MAX_SEGMENT_SHARE
            and (seg.loss_cur - seg.loss_ref) >= 2.5 * overall
            and bias_concentrated(seg)
        ):
            return [seg] + [s for s in segs if s is not seg], True
    return segs, False


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


def _concept_text(blockers: float, concentrated: bool, context: Sequence[Finding]) -> str:
    """The concept-drift sentence, stating only what the other findings establish.

    `context` holds the data and version findings: a version that took traffic or an input
    that moved is named, never denied, even when its own evidence is too weak to blame it.
    """
    if blockers >= 0.6:
        return "Performance dropped, but the input or model-version findings explain most of it."
    if blockers >= 0.3:  # never "most" for a part: this finding may still rank first on the rest
        return (
            f"Performance dropped; the input or model-version findings explain about {100 * blockers:.0f}% of it, "
            "and the rest points to a changed relation between inputs and labels (concept drift)."
        )
    if concentrated:
        return "Performance dropped mostly in one segment (above) rather than everywhere."
    versions = sorted({f.subject for f in context if f.check == "version_change"})
    moved = sorted({f.subject for f in context if f.cause == "data" and f.check != "input_quality" and f.score >= 0.1})
    if versions:
        model = f"version {', '.join(versions)} took traffic since the onset but does not explain the drop"
    else:
        model = "the model version did not change"
    inputs = f"inputs moved ({', '.join(moved[:3])}) but too little to explain it" if moved else "the inputs held"
    return (
        f"Performance dropped across the traffic; {inputs} and {model}: the relation between inputs and labels "
        "changed (concept drift)."
    )


def _own_drop(ctx: Context, seg: Segment) -> float:
    """The slice's own loss rise, scored gross-only against SEGMENT_Z (a bar for a scan over
    hundreds of slices: z 5 is p ~ 3e-7, Bonferroni-safe for ~1,000 of them)."""
    cur = ctx.cur_loss[ctx.cur_sample][seg.rows(ctx.cur_bin_codes)]
    ref = ctx.ref_loss[ctx.ref_sample][seg.rows(ctx.ref_bin_codes)]
    return drop_magnitude(ctx, LossStats.of(cur), LossStats.of(ref), z_min=SEGMENT_Z, moderate=False)


def _segment_drop(ctx: Context, seg: Segment) -> float:
    delta = seg.loss_cur - seg.loss_ref
    if ctx.task.kind == "classification":
        return float(np.clip((delta - 0.03) / 0.15, 0.0, 1.0))
    rel = delta / max(seg.loss_ref, 1e-12)
    return float(np.clip((rel - 0.1) / 0.4, 0.0, 1.0))


def _overall_increase(ctx: Context) -> float:
    a, b = LossStats.of(ctx.cur_loss), LossStats.of(ctx.ref_loss)
    return max(a.mean - b.mean, 0.0) if a.n and b.n else 0.0
