"""Model-version checks: is a version that is new in the current window to blame?

The decisive comparison is canary-style: its rows against other versions' rows of the same time
window, where inputs are alike. Only when no such rows exist does the check fall back to the
reference window, and then says so (`details["comparison"]`) and is discounted by input drift.
Without labels (or to size a labelled drop) it compares the input -> prediction map.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from diagnostics.calibrated_gap import calibrated_gap, calibrated_losses, squared_distance, squared_gap
from diagnostics.context import Context, loss_name, prediction_matrix, row_loss
from diagnostics.findings import Finding, iso_utc
from diagnostics.label_model import LabelModel, estimated_gap, label_model_of
from diagnostics.log import Categorical, ChangeRecord, align_categorical, take_rows
from diagnostics.matched import ConditionGap, LossGap, condition_gap, paired_gap, reverse_gap
from diagnostics.model_checks import (
    CERTAIN_Z,
    MIN_LABELLED,
    MIN_RELATIVE,
    MODERATE_EFFECT,
    MODERATE_SCORE,
    LossStats,
    distribution_gap,
    drop_magnitude,
    gap_magnitude,
    relative_increase,
)
from diagnostics.reference import reference_is_adjacent
from diagnostics.surrogate_gap import surrogate_gap

MIN_CONCLUSIVE = 200  # labelled rows that make a side-by-side comparison trustworthy
VERSION_Z = 2.5  # a version comparison is one pre-registered test, not a scan: a lower bar
PAIRED_CLEAR_SHARE = 0.5  # the share of the version's labelled rows that must pair up for the pairing to clear it
PAIRED_CLEAR_PART = 0.25  # ... and the most of the two-sample gap the paired gap may be
RECURRING_SHARE = 0.5  # distinct inputs per paired row below which served inputs recur
MAPPING_Z = 1.5  # labels need only lean "worse" for a changed input -> prediction map to count
VERSION_WINDOW_S = 1800.0
MIN_CANARY_SHARE = 0.01  # a version the reference never had is assessed from this share of the window ...
MIN_CANARY_ROWS = 100  # ... and this many rows  # a deploy this close to the onset is "near" it


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
    cur_share = cur_counts / max(cur_counts.sum(), 1)
    base = int(np.argmax(ref_counts)) if ref_counts.sum() else -1
    deploys = {c.to_version: c for c in changes if c.to_version}
    out: list[Finding] = []
    for v in new_version_codes(rv, cv, k):
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


def new_version_codes(rv: np.ndarray, cv: np.ndarray, k: int) -> list[int]:
    """Codes of the versions new in the current window: at least 5% of its rows, well above their
    reference share, and not the reference's main version; or never served before the onset and
    answering at least 1% of the window and `MIN_CANARY_ROWS` rows (a canary on a fifth of one
    segment is 4% of the traffic: below 5% it was never assessed, whatever its rows said)."""
    ref_counts = np.bincount(rv[rv >= 0], minlength=k).astype(float)
    cur_counts = np.bincount(cv[cv >= 0], minlength=k).astype(float)
    ref_share = ref_counts / max(ref_counts.sum(), 1)
    cur_share = cur_counts / max(cur_counts.sum(), 1)
    base = int(np.argmax(ref_counts)) if ref_counts.sum() else -1
    # (a detected onset a few minutes late leaves a few of its rows in the reference's tail)
    unseen = (ref_share <= 0.1 * cur_share) & (cur_counts >= MIN_CANARY_ROWS) & (cur_share >= MIN_CANARY_SHARE)
    return [
        v
        for v in range(k)
        if v != base and ((cur_share[v] >= 0.05 and cur_share[v] > 1.5 * ref_share[v] + 0.02) or unseen[v])
    ]


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
    # rows of the other versions served before the version's first one are the reference's tail
    # (an onset dated to the deploy's change event, a minute before traffic moved), not a
    # canary's side-by-side baseline: only what they served alongside it counts
    since = int(np.argmax(cur_v)) if cur_v.any() else 0
    cur_other = (cv != v) & (cv >= 0) & (np.arange(cv.size) >= since)
    ref_v = rv == v
    ref_base = rv == base
    lv = LossStats.of(ctx.cur_loss[cur_v])
    details: dict[str, object] = {"version": name, "baseline_version": base_name, "share_current": share}
    # 1. same window, other versions (canary)
    lo = LossStats.of(ctx.cur_loss[cur_other])
    if lv.n >= MIN_LABELLED and lo.n >= MIN_LABELLED:
        mag = drop_magnitude(ctx, lv, lo, z_min=VERSION_Z, relative=True)
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
            pooled_mag = drop_magnitude(ctx, lv, baseline, z_min=VERSION_Z, relative=True)
            worse_z = max(worse_z, lv.z_worse(baseline))
            if pooled_mag > mag:
                mag = pooled_mag
                details.update(comparison="same_window_and_reference", loss_reference=lr.mean)
                text = (
                    _loss_text(ctx, baseline.mean, lv.mean, f"{base_name} before and alongside it", lv.n)[:-1]
                    + f"; the other versions held {_quality(ctx, lo.mean)} in the same window."
                )
        mag, text, worse_z = _with_pairs(ctx, v, base, rv, cv, mag, text, worse_z, details)
        mag, text = _with_mapping(ctx, v, base, rv, cv, True, mag, worse_z, text, details)
        found = Finding("model", "version_change", name, mag, text, details)
        return _few_labels(ctx, found, worse_z, (v, base, rv, cv, cur_v, cur_other, ref_base, since, lv), data_score)
    # 2. before the onset both versions served side by side
    lpv = LossStats.of(ctx.ref_loss[ref_v])
    lpb = LossStats.of(ctx.ref_loss[ref_base])
    side_by_side = not _switched_before_onset(ctx, ref_v, ref_base, lv)
    if lpv.n >= MIN_LABELLED and lpb.n >= MIN_LABELLED and side_by_side:
        mag = drop_magnitude(ctx, lpv, lpb, z_min=VERSION_Z, relative=True)
        # conclusive either way: a significant gap, or enough rows that a real one would show
        if mag > 0 or lpv.n >= MIN_CONCLUSIVE:
            details.update(
                comparison="pre_onset", loss_version=lpv.mean, loss_others=lpb.mean, n_version=lpv.n, n_others=lpb.n
            )
            text = _loss_text(ctx, lpb.mean, lpv.mean, f"{base_name} before the onset", lpv.n)
            rows = (ctx.ref_sample[rv[ctx.ref_sample] == base], ctx.ref_sample[rv[ctx.ref_sample] == v])
            mag, text, _ = _at_same_conditions(ctx, rows, (True, True), mag, text, 0.0, details)
            return Finding("model", "version_change", name, mag, text, details)
    # 3. labels: against the reference window (confounded with anything else that changed)
    if lv.n >= MIN_LABELLED and lpb.n >= MIN_LABELLED:
        mag = drop_magnitude(ctx, lv, lpb, z_min=VERSION_Z, relative=True)
        details.update(
            comparison="cross_window",
            loss_version=lv.mean,
            loss_others=lpb.mean,
            n_version=lv.n,
            n_others=lpb.n,
            raw_magnitude=mag,
        )
        text = _loss_text(ctx, lpb.mean, lv.mean, f"{base_name} in the reference window", lv.n)
        worse_z = lv.z_worse(lpb)
        rows = (ctx.ref_sample[rv[ctx.ref_sample] == base], ctx.cur_sample[cv[ctx.cur_sample] == v])
        mag, text, worse_z = _at_same_conditions(ctx, rows, (True, False), mag, text, worse_z, details)
        if _far_baseline(ctx, base_name):
            mag, text, worse_z = _far_evidence(ctx, v, base, rv, cv, lv, mag, text, details)
        mag, text, worse_z = _with_pairs(ctx, v, base, rv, cv, mag, text, worse_z, details, across=True)
        mag, text = _with_mapping(ctx, v, base, rv, cv, False, mag, worse_z, text, details)
        found = Finding("model", "version_change", name, mag * (1.0 - data_score), text, details)
        return _few_labels(ctx, found, worse_z, (v, base, rv, cv, cur_v, cur_other, ref_base, since, lv), data_score)
    # 4. no labels: does the version map the same inputs to the same predictions?
    return _label_free(ctx, v, name, base, rv, cv, cur_v, cur_other, ref_base, since, lv, data_score, details)


def _switched_before_onset(ctx: Context, ref_v: np.ndarray, ref_base: np.ndarray, lv: LossStats) -> bool:
    """A version that replaced the baseline inside the reference window did not serve beside it:
    its rows came after the baseline's, at other hours. A bike-count forest refitted on the same
    rows read MAE 3.6 -> 6.9 "before the onset" because it took over at the morning peak, where
    counts and their errors are larger. Only the baseline's labelled rows served alongside the
    version (from its first row on) make a side-by-side comparison; when there are too few and the
    version has labelled rows since the onset, it is judged across windows, where the pairing on
    the same inputs takes the hour's mix out (`_with_pairs`, `_cleared_by_pairs`)."""
    if lv.n < MIN_LABELLED or not ref_v.any():
        return False
    alongside = ref_base & (np.arange(ref_base.size) >= int(np.argmax(ref_v)))
    return LossStats.of(ctx.ref_loss[alongside]).n < MIN_LABELLED


def _at_same_conditions(
    ctx: Context,
    rows: tuple[np.ndarray, np.ndarray],
    sides: tuple[bool, bool],
    mag: float,
    text: str,
    worse_z: float,
    details: dict[str, object],
) -> tuple[float, str, float]:
    """A labelled comparison with the baseline's rows of another time, read again at the same
    conditions (`matched.condition_gap`: the baseline's rows `rows[0]`, the version's `rows[1]`).

    A version that took over at another time served other hours, another kind of day, other
    weather; a model's loss follows them, so the raw gap is not all the version's: a refit of the
    same energy model that served a Friday and a Saturday read MAE 4.36 -> 4.77 against the
    baseline's Tuesday and Wednesday, and 4.41 -> 4.63 (z 2.5) at the same conditions (cycles
    seed 67). When more than `matched.UNSEEN_SHARE` of the version's labelled rows sit at
    conditions the baseline's rows never held, and at least half at ones they held, the gap at these (each against the
    baseline's loss at its nearest inputs of the same half hour and kind of day) is read, and the
    smaller magnitude stands: a bad version loses at the same conditions too. When fewer than
    `MIN_SERVED_SHARE` of them are held, the gap stands as it was: nothing in the log says what
    the baseline lost at the others (a refit that took the morning peak after a night's
    reference), and a version 45% worse there must not go unnamed. Returns (magnitude, evidence,
    the labels' lean)."""
    cg = condition_gap(ctx, rows[0], rows[1], sides)
    if cg is None:
        return mag, text, worse_z
    details.update({f"conditions_{key}": value for key, value in dataclasses.asdict(cg).items()})
    base_name = details["baseline_version"]
    if cg.held_share < MIN_SERVED_SHARE or cg.n < MIN_LABELLED:
        return mag, text, worse_z
    cmag = gap_magnitude(ctx, cg.delta, cg.relative, cg.z, VERSION_Z, relative=True)
    details["conditions_magnitude"] = cmag
    return min(mag, cmag), (
        f"{text[:-1]}; {_at_conditions(cg, base_name, ' loss')} {_quality(ctx, cg.loss_baseline)} -> "
        f"{_quality(ctx, cg.loss_version)}, z {min(cg.z, 99.0):.1f}."
    ), min(worse_z, cg.z)


def _at_conditions(gap: ConditionGap, base_name: object, what: str = "") -> str:
    """How a gap at the same conditions (`matched.condition_gap`) was read, for the evidence."""
    cell = " of the same half hour and kind of day" if gap.cells else ""
    return f"at the same conditions ({gap.n} of its rows, each against {base_name}'s{what} at the nearest inputs{cell})"


def _few_labels(
    ctx: Context,
    found: Finding,
    worse_z: float,
    rows: tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, LossStats],
    data_score: float,
) -> Finding:
    """A labelled comparison on the first few labels of the version is not the whole evidence.

    Labels arrive hours after the prediction: an alert four hours after a deploy, with labels four
    hours late, leaves a version a few minutes of labelled rows (157 of 3,200) and the rest
    unlabelled. When those few lean worse but not significantly, what is known without labels (the
    estimate, the reference's labels at neighbouring inputs) is read on all its rows
    (`_label_free`); it is held to the same gates as with no label at all, and the labelled rows
    must not lean better. A deploy 16% worse read "no cause found" on its 157 labelled rows."""
    v, base, rv, cv, cur_v, cur_other, ref_base, since, lv = rows
    unlabelled = int((cur_v & ~np.isfinite(ctx.cur_loss)).sum())
    if found.score > 0.0 or lv.n >= MIN_CONCLUSIVE or worse_z <= 0.0 or unlabelled < MIN_CONCLUSIVE:
        return found
    details = {key: found.details[key] for key in ("version", "baseline_version", "share_current")}
    free = _label_free(ctx, v, found.subject, base, rv, cv, cur_v, cur_other, ref_base, since, lv, data_score, details)
    if free.score <= found.score:
        return found
    free.details.update({f"labelled_{key}": value for key, value in found.details.items() if key not in details})
    free.details["labelled_z"] = worse_z
    free.evidence = (
        f"{free.evidence[:-1]}; its {lv.n} labelled rows so far lean the same way, not yet significantly "
        f"(z {worse_z:.1f}: {found.evidence[:-1]})."
    )
    return free


def _label_free(
    ctx: Context,
    v: int,
    name: str,
    base: int,
    rv: np.ndarray,
    cv: np.ndarray,
    cur_v: np.ndarray,
    cur_other: np.ndarray,
    ref_base: np.ndarray,
    since: int,
    lv: LossStats,
    data_score: float,
    details: dict[str, object],
) -> Finding:
    """Without enough labels on the version's rows: does it map the same inputs to the same
    predictions, and is it worse by what can be known without its labels (the label model's
    estimate, the reference's own labels at neighbouring inputs, the squared distance)?"""
    other = cur_other if int(cur_other.sum()) >= MIN_LABELLED else None
    unlabelled = not np.isfinite(ctx.cur_loss[since:]).any()
    # with labels elsewhere but too few on this version, its prediction histogram is too thin to judge
    shift = _prediction_gap(ctx, cur_v, other, ref_base) if unlabelled else 0.0
    conditional, judged = _conditional_gap(ctx, v, base, rv, cv, same_window=other is not None)
    details.update(
        comparison="predictions_same_window" if other is not None else "predictions_cross_window",
        prediction_gap=shift,
        conditional_gap=conditional,
        rows_where_baseline_served=judged,
    )
    est_mag, est_text = _estimated_comparison(ctx, v, base, rv, cv, details)
    rev_mag, rev_text, rev_z = _reverse_comparison(ctx, v, base, rv, cv, details)
    sq_mag, sq_text = _squared_comparison(ctx, v, base, rv, cv, details)
    # (a version that served where its baseline never did answers other inputs: a histogram of its
    # answers unlike the baseline's says nothing of its map, `MIN_SERVED_SHARE` below); where is
    # the inputs' region the baseline's map is known in, or the conditions (the cell of the local
    # day and the inputs, `_estimated_at_same_conditions`) its rows held
    shares = [judged, *(details.get(f"{k}_conditions_held_share") for k in ("calibrated", "squared"))]
    served = min([float(x) for x in shares if isinstance(x, float) and math.isfinite(x)], default=1.0)
    served_apart = served < MIN_SERVED_SHARE
    mag = max(
        0.0 if served_apart else float(np.clip((shift - 0.05) / 0.3, 0.0, 1.0)),
        float(np.clip((conditional - 0.1) / 0.3, 0.0, 1.0)),
    )
    if rev_z is not None and rev_z <= -MAPPING_Z:
        sq_mag = 0.0  # the reference's own labels lean clearly the other way
    set_aside = False  # the estimate across rows was read and not used: the evidence says so
    if served_apart:
        # the version served where the baseline never did (the night after a daytime reference,
        # a warmer day): its estimated loss against the baseline's on other rows measures the rows.
        # Only comparisons on the same rows (the paired estimate, the reference's own labels) judge it
        if details.get("calibrated_decides") or not details.get("estimated_paired"):
            est_mag, set_aside = 0.0, bool(est_text)
        sq_mag = 0.0
    # "different" is not "worse": a version is not blamed for answering differently unless the
    # evidence leans worse. The reverse comparison scores realized labels, so it is held to the
    # labelled rule (`_with_mapping`: z >= MAPPING_Z); the label model's estimate must not lean
    # better either
    est_z = float(details.get("estimated_z", math.inf))  # type: ignore[arg-type]
    if est_z <= 0.0 or (rev_z is not None and rev_z < MAPPING_Z):
        details["different_but_not_worse"] = mag
        mag = 0.0
    if rev_z is not None and rev_z <= 0.0:
        est_mag = 0.0  # an estimate that blames what the reference's own labels do not
    if rev_z is not None and rev_z < MAPPING_Z and details.get("calibrated_decides"):
        # the map onto realized loss is the baseline's: another kind of model relates to the label
        # model differently, so it needs the reference's own labels to lean worse too
        est_mag = 0.0
    if other is None:
        mag *= 1.0 - data_score
        est_mag *= 1.0 - data_score
        rev_mag *= 1.0 - data_score
        sq_mag *= 1.0 - data_score
    why = "no labels" if unlabelled else f"only {lv.n} labelled rows"
    text = (
        f"{why}; given the same inputs its predictions depart from the baseline's by {conditional:.0%} of their "
        f"variance (distribution gap beyond noise {shift:.3f})."
    )
    if served_apart:
        text = (
            f"{why}; {1.0 - served:.0%} of its rows lie where {details['baseline_version']} never served (other "
            "hours or values of its inputs), so neither its answers' distribution nor estimates on other rows judge it."
        )
    if sq_mag > max(mag, est_mag, rev_mag):
        mag, text = sq_mag, f"{why}; {sq_text}."
    elif rev_mag > max(mag, est_mag):
        mag, text = rev_mag, f"{why}; {rev_text}."
    elif est_mag > mag:
        mag, text = est_mag, f"{why}; {est_text}."
    elif set_aside:
        text = text[:-1] + f"; set aside, as it compares other rows: {est_text}."
    elif est_text:
        text = text[:-1] + f"; estimated: {est_text}."
    return Finding("model", "version_change", name, mag, text, details)




def _far_baseline(ctx: Context, base_name: str) -> bool:
    """The baseline is a far reference's own version: the reference is not the previous window of
    this traffic and its version served no row of the log (a training run's tag, last quarter's
    model). Its loss there may be in-sample (training data scored by the model fitted on it), and
    it is no rollback target in the log's own history."""
    if reference_is_adjacent(ctx.reference, ctx.log):
        return False
    mv = ctx.log.model_version
    assert isinstance(mv, Categorical)
    served = {str(c) for c in mv.categories[np.unique(mv.codes[mv.codes >= 0])]}
    return base_name not in served


def _far_evidence(
    ctx: Context,
    v: int,
    base: int,
    rv: np.ndarray,
    cv: np.ndarray,
    lv: LossStats,
    two_sample: float,
    text: str,
    details: dict[str, object],
) -> tuple[float, str, float]:
    """Against a far baseline (`_far_baseline`) the two-sample gap is no evidence on its own: a
    model scored on its own training rows has an error no live traffic reaches (Friedman #1,
    gradient boosting: 0.63 in sample, 0.94 on any fresh traffic), so every new tag would look
    worse. What holds against that optimism is kept: the log's own labelled rows of other versions
    before the onset (served live), and the reference's realized labels scored by either version's
    answers at *neighbouring* inputs (`matched.reverse_gap`: never a row's own in-sample answer).
    The paired comparison on the version's labels (`_with_pairs`, next) scores the baseline's
    answers against the version rows' labels, so it holds too. Returns (magnitude, evidence, z)."""
    details.update(far_reference=True, two_sample_magnitude=two_sample)
    base_name = details["baseline_version"]
    mag, worse_z = 0.0, -math.inf
    why = (
        f"; {base_name} is the reference's version and served no row of this log, and a reference from another "
        "period may be scored in sample (training data flatters its own model), so that gap alone is not evidence"
    )
    pieces: list[str] = []
    before = _log_before_loss(ctx, str(details["version"]))
    if before.n >= MIN_LABELLED:
        mag = drop_magnitude(ctx, lv, before, z_min=VERSION_Z, relative=True)
        worse_z = lv.z_worse(before)
        details.update(
            log_before_n=before.n, log_before_loss=before.mean, log_before_z=worse_z, log_before_magnitude=mag
        )
        pieces.append(
            f"against this log's own rows of other versions before the onset {_quality(ctx, before.mean)} -> "
            f"{_quality(ctx, lv.mean)}, z {min(worse_z, 99.0):.1f}"
        )
    rev_mag, rev_text, rev_z = _reverse_comparison(ctx, v, base, rv, cv, details)
    if rev_z is not None:
        worse_z = max(worse_z, rev_z)
        mag = max(mag, rev_mag)
        pieces.append(rev_text)
    text = text[:-1] + why + ("; " + "; ".join(pieces) if pieces else "") + "."
    return mag, text, worse_z


def _log_before_loss(ctx: Context, name: str) -> LossStats:
    """Labelled rows of the log itself before the onset, served by versions other than `name`."""
    mv = ctx.log.model_version
    if ctx.log.label is None or not isinstance(mv, Categorical):
        return LossStats.of(np.empty(0))
    rows = np.flatnonzero(ctx.log.timestamp < ctx.onset)
    other = np.flatnonzero(mv.categories.astype(str) != name)
    rows = rows[np.isin(mv.codes[rows], other)]
    if rows.size == 0:
        return LossStats.of(np.empty(0))
    return LossStats.of(row_loss(take_rows(ctx.log.prediction, rows), take_rows(ctx.log.label, rows), ctx.task))


def _reverse_comparison(
    ctx: Context, v: int, base: int, rv: np.ndarray, cv: np.ndarray, details: dict[str, object]
) -> tuple[float, str, float | None]:
    """The version scored on the reference's realized labels (`matched.reverse_gap`): each labelled
    reference row against the version's answer at the nearest input it served and the baseline's
    from an equally large pool. Weighed like a realized version comparison on the same inputs.
    Returns (magnitude, evidence, z); z is None when the comparison could not be made."""
    rg = reverse_gap(ctx, v, base, rv, cv, MIN_LABELLED)
    if rg is None:
        return 0.0, "", None
    mag = gap_magnitude(ctx, rg.delta, rg.relative, rg.z, VERSION_Z, relative=True)
    details.update(
        reverse_n=rg.n,
        reverse_loss_version=rg.loss_version,
        reverse_loss_baseline=rg.loss_baseline,
        reverse_z=rg.z,
        reverse_raw_z=rg.raw_z,
        reverse_placebo_spread=rg.placebo_spread,
        reverse_pool=rg.pool,
        reverse_same_window=rg.same_window,
        reverse_magnitude=mag,
    )
    base_name = details["baseline_version"]
    where = "in the same window" if rg.same_window else "before the onset"
    text = (
        f"on {rg.n} labelled reference rows, each scored by the version's answer at the nearest input it served "
        f"and by {base_name}'s at the nearest of as many inputs it served {where} ({rg.pool} answers each), "
        f"{_quality(ctx, rg.loss_baseline)} -> {_quality(ctx, rg.loss_version)}, z {min(rg.z, 99.0):.1f}"
    )
    return mag, text, rg.z


def _sample_positions(
    ctx: Context, v: int, base: int, rv: np.ndarray, cv: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions in the window samples of the version's current rows and the baseline's reference
    and current rows (what the label-model comparisons score)."""
    return (
        np.flatnonzero(cv[ctx.cur_sample] == v),
        np.flatnonzero(rv[ctx.ref_sample] == base),
        np.flatnonzero(cv[ctx.cur_sample] == base),
    )


def _estimate_magnitude(rel: float, z: float) -> float:
    """An estimated gap weighed like a realized version comparison (`drop_magnitude` with
    VERSION_Z): full weight at a 5% rise 1.5 standard errors past the bar, nothing below a 2% rise."""
    sure = float(np.clip((z - VERSION_Z) / (CERTAIN_Z - 3.0), 0.0, 1.0))
    return MODERATE_SCORE * min(1.0, max(rel, 0.0) / MODERATE_EFFECT) * sure if rel >= MIN_RELATIVE else 0.0


def _estimated_comparison(
    ctx: Context, v: int, base: int, rv: np.ndarray, cv: np.ndarray, details: dict[str, object]
) -> tuple[float, str]:
    """The version's loss against the baseline's, both estimated from the inputs (no labels needed)."""
    model = label_model_of(ctx)
    if model is None:
        return 0.0, ""
    v_cur, base_ref, base_cur = _sample_positions(ctx, v, base, rv, cv)
    gap = estimated_gap(ctx, model, v_cur, base_ref, base_cur)
    cal_mag, cal_text = _calibrated_comparison(ctx, model, v_cur, base_ref, base_cur, details)
    if gap is None or gap.n < MIN_LABELLED:
        details["calibrated_decides"] = cal_mag > 0.0
        return cal_mag, cal_text
    ev = LossStats(gap.n, gap.loss_version, 0.0)
    eb = LossStats(gap.n, gap.loss_baseline, 0.0)
    z, bias = gap.z, gap.bias
    rel = relative_increase(ev, eb)
    mag = _estimate_magnitude(rel, z)  # the z above already counts the estimator's own error
    details.update(
        estimated=True,
        estimated_loss_version=ev.mean,
        estimated_loss_baseline=eb.mean,
        estimated_z=z,
        estimated_relative=rel,
        estimate_reference_loss=model.reference_loss,
        estimate_reference_fit=model.reference_fit,
        estimate_method=model.method,
        estimated_paired=gap.paired,
        estimated_n=gap.n,
        estimated_placebo=gap.placebo,
        estimated_magnitude=mag,
    )
    base_name = details["baseline_version"]
    details["calibrated_decides"] = cal_mag > mag
    if cal_mag > mag:
        return cal_mag, cal_text
    if gap.paired:
        against = f"{base_name}'s answers at the nearest inputs it served, on the same {gap.n} rows"
    else:
        against = f"{base_name}'s own rows"
    text = (
        f"its {_quality(ctx, ev.mean)} against {_quality(ctx, eb.mean)} for {against} (both estimated from the "
        f"inputs by a label model learned on {model.labelled} labelled reference rows; z {z:.1f} counting the "
        f"estimate's own error of {bias:.2g} on the reference)"
    )
    return mag, text


def _squared_comparison(
    ctx: Context, v: int, base: int, rv: np.ndarray, cv: np.ndarray, details: dict[str, object]
) -> tuple[float, str]:
    """A numeric version's squared distance to the label model's estimate against the baseline's
    (`calibrated_gap.squared_gap`): weighed like the estimate (`_estimated_comparison`), its gap
    read as the rise of the absolute error it implies. It only blames (a version smoother than the
    truth the way the label model is looks better than it is), and says it is an estimate."""
    model = label_model_of(ctx)
    if model is None or model.kind != "numbers":
        return 0.0, ""
    v_cur, base_ref, base_cur = _sample_positions(ctx, v, base, rv, cv)
    per_row = (squared_distance(ctx, model, "reference"), squared_distance(ctx, model, "current"))
    sg = squared_gap(ctx, per_row, v_cur, base_ref, base_cur)
    if sg is None:
        return 0.0, ""
    rel = sg.relative_abs
    mag = _estimate_magnitude(rel, sg.z)
    keys = ("loss_version", "loss_baseline", "z", "relative_abs", "same_window", "n_version", "n_baseline")
    figures = {key: getattr(sg, key) for key in keys} | {"magnitude": mag}
    details.update({f"squared_{key}": value for key, value in figures.items()}, estimated=True)
    rows = f"{details['baseline_version']}'s {sg.n_baseline} rows"
    rows += " in the same window" if sg.same_window else " of the reference"
    text = (
        f"its answers lie {sg.loss_version:.4g} (mean squared distance) from the label estimated from the inputs "
        f"by a label model learned on {model.labelled} labelled reference rows, against {sg.loss_baseline:.4g} "
        f"for {rows} (z {min(sg.z, 99.0):.1f}): an estimated {loss_name(ctx.task)} about {rel:+.0%} against "
        f"{details['baseline_version']}'s"
    )
    if sg.same_window:
        return mag, text
    cg = _estimated_at_same_conditions(ctx, per_row, v_cur, base_ref, "squared", details)
    if cg is None:
        return mag, text
    c_rel = math.sqrt(max(1.0 + cg.delta / max(sg.baseline_mse, 1e-12), 0.0)) - 1.0
    c_mag = _estimate_magnitude(c_rel, cg.z)
    details.update(squared_conditions_relative_abs=c_rel, squared_conditions_magnitude=c_mag)
    if c_mag >= mag:
        return mag, text
    return c_mag, (
        f"{text}; {_at_conditions(cg, details['baseline_version'])} "
        f"{cg.loss_baseline:.4g} -> {cg.loss_version:.4g}, about {c_rel:+.0%}, z {min(cg.z, 99.0):.1f}"
    )


def _calibrated_comparison(
    ctx: Context,
    model: LabelModel,
    v_cur: np.ndarray,
    base_ref: np.ndarray,
    base_cur: np.ndarray,
    details: dict[str, object],
) -> tuple[float, str]:
    """The label model's estimate mapped onto the baseline's realized loss (`calibrated_gap`):
    weighed like the estimate (`_estimated_comparison`), on its own two-sample z."""
    per_row = calibrated_losses(ctx, model)
    if per_row is None:
        return 0.0, ""
    cg = calibrated_gap(per_row, v_cur, base_ref, base_cur)
    if cg is None:
        return 0.0, ""
    ev, eb = LossStats(cg.n_version, cg.loss_version, 0.0), LossStats(cg.n_baseline, cg.loss_baseline, 0.0)
    rel = relative_increase(ev, eb)
    mag = _estimate_magnitude(rel, cg.z)
    figures = dataclasses.asdict(cg) | {"relative": rel, "magnitude": mag}
    details.update({f"calibrated_{key}": value for key, value in figures.items()})
    base_name = details["baseline_version"]
    if cg.pooled:
        rows = f"{base_name}'s {cg.n_baseline} rows in the same window and the reference"
    else:
        rows = f"{base_name}'s {cg.n_baseline} rows {'in the same window' if cg.same_window else 'of the reference'}"
    text = (
        f"estimated {_quality(ctx, cg.loss_version)} on its {cg.n_version} rows against "
        f"{_quality(ctx, cg.loss_baseline)} for {rows} (each answer's loss estimated from the inputs by a label "
        f"model learned on {model.labelled} labelled reference rows, mapped onto {base_name}'s realized loss "
        f"there; z {min(cg.z, 99.0):.1f})"
    )
    at = None if cg.same_window else _estimated_at_same_conditions(ctx, per_row, v_cur, base_ref, "calibrated", details)
    if at is None:
        return mag, text
    c_mag = _estimate_magnitude(at.relative, at.z)
    details.update(calibrated_conditions_relative=at.relative, calibrated_conditions_magnitude=c_mag)
    if c_mag >= mag:
        return mag, text
    return c_mag, (
        f"{text}; {_at_conditions(at, base_name)} {_quality(ctx, at.loss_baseline)} -> "
        f"{_quality(ctx, at.loss_version)}, z {min(at.z, 99.0):.1f}"
    )


def _estimated_at_same_conditions(
    ctx: Context,
    per_row: tuple[np.ndarray, np.ndarray],
    v_cur: np.ndarray,
    base_ref: np.ndarray,
    key: str,
    details: dict[str, object],
) -> ConditionGap | None:
    """An estimated comparison across windows read again at the same conditions, as a labelled one
    is (`_at_same_conditions`): `per_row` holds each sampled reference and window row's estimated
    loss (positions in the window samples), compared through `matched.condition_gap` between the
    version's rows (`v_cur`) and the baseline's reference rows (`base_ref`).

    The estimate of an answer's loss follows the conditions it was given at as a realized loss
    does: a harmless refit of a bike-count forest that served a Friday to a Sunday (a five-day log
    with closed hours) read an estimated MAE 4.40 -> 4.88 (z 50) against the baseline's Wednesday
    and Thursday, while its answers estimated on the same inputs matched the baseline's (z -0.04;
    cycles seed 237). None unless at least `MIN_SERVED_SHARE` of the version's rows, and
    `MIN_LABELLED`, are held (when fewer are, the gap stands as it is)."""
    ref_full = np.full(len(ctx.reference), np.nan)
    ref_full[ctx.ref_sample] = per_row[0]
    cur_full = np.full(len(ctx.current), np.nan)
    cur_full[ctx.cur_sample] = per_row[1]
    rows = (ctx.ref_sample[base_ref], ctx.cur_sample[v_cur])
    cg = condition_gap(ctx, rows[0], rows[1], (True, False), (ref_full, cur_full))
    if cg is None:
        return None
    details.update({f"{key}_conditions_{k}": value for k, value in dataclasses.asdict(cg).items()})
    if cg.held_share < MIN_SERVED_SHARE or cg.n < MIN_LABELLED:
        return None
    return cg


CONDITIONAL_FEATURES = 6
MIN_SERVED_SHARE = 0.5  # of a version's rows inside the region its baseline served, for cross-row estimates
BACKFIT_ROUNDS = 3


def _conditional_gap(
    ctx: Context, v: int, base: int, rv: np.ndarray, cv: np.ndarray, *, same_window: bool
) -> tuple[float, float]:
    """How much worse a version's predictions fit the baseline's input -> prediction map.

    An additive surrogate (per-bin means of the most influential features, fitted by a few
    backfitting rounds on the baseline rows) describes what the baseline predicts for given
    inputs. The gap is (MSE of the version's predictions around the surrogate - MSE of the
    baseline's own) / variance of the baseline's predictions: ~0 for an equivalent model, large
    for a model that maps the same inputs elsewhere, even when its prediction histogram looks
    the same. Works on the window samples, so it costs a few bincounts.
    Also the share of the version's rows inside the region the baseline served (NaN when the map
    could not be fitted at all): there alone is its map known.
    """
    feats = [
        f
        for f in sorted(ctx.influence, key=lambda f: ctx.influence_raw.get(f, 0.0), reverse=True)
        if f in ctx.cur_bin_codes and ctx.influence.get(f, 0.0) > 0.1
    ][:CONDITIONAL_FEATURES]
    if not feats:
        return 0.0, math.nan
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
        return 0.0, math.nan
    v_bins = {f: ctx.cur_bin_codes[f][v_rows] for f in feats}
    ref_pred = ctx.reference.prediction
    b_mat, b_ok = prediction_matrix(take_rows(b_pred_src, b_idx), ref_pred)
    v_mat, v_ok = prediction_matrix(take_rows(ctx.current.prediction, cur_idx[v_rows]), ref_pred)
    if b_mat.shape[1] == 0 or b_ok.sum() < MIN_LABELLED or v_ok.sum() < MIN_LABELLED:
        return 0.0, math.nan
    b_mat, v_mat = b_mat[b_ok], v_mat[v_ok]
    b_bins = {f: c[b_ok].astype(np.int64) for f, c in b_bins.items()}
    v_bins = {f: c[v_ok].astype(np.int64) for f, c in v_bins.items()}
    mu = b_mat.mean(axis=0)
    total = float(np.mean(np.sum((b_mat - mu) ** 2, axis=1)))
    if total <= 0:
        return 0.0, math.nan
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
    # only where the baseline's map is known: a version row in a bin the baseline served fewer than
    # 5 times, or beyond the values it served, would be read against the baseline's mean or an end
    # bin's (an afternoon-fitted map read a night-time refit's answers 558% of their variance away)
    known = np.ones(v_mat.shape[0], dtype=bool)
    v_at = cur_idx[v_rows][v_ok]
    for f in feats:
        known &= np.bincount(b_bins[f], minlength=ctx.bins[f].n_bins)[v_bins[f]] >= 5
        b_vals = (ctx.current if same_window else ctx.reference).features[f]
        v_vals = ctx.current.features[f]
        if isinstance(b_vals, np.ndarray) and isinstance(v_vals, np.ndarray):  # the end bins are open
            seen = np.asarray(b_vals[b_idx][b_ok], dtype=np.float64)
            seen = seen[np.isfinite(seen)]
            if seen.size:
                vv = np.asarray(v_vals[v_at], dtype=np.float64)
                known &= ~np.isfinite(vv) | ((vv >= seen.min()) & (vv <= seen.max()))
    judged = float(known.mean())
    if int(known.sum()) < MIN_LABELLED:
        return 0.0, judged
    fitted_v = mu + sum(effects[f][v_bins[f][known]] for f in feats)
    mse_b = float(np.mean(np.sum(resid**2, axis=1)))
    mse_v = float(np.mean(np.sum((v_mat[known] - fitted_v) ** 2, axis=1)))
    return max(0.0, (mse_v - mse_b) / total), judged


def _with_pairs(
    ctx: Context,
    v: int,
    base: int,
    rv: np.ndarray,
    cv: np.ndarray,
    mag: float,
    text: str,
    worse_z: float,
    details: dict[str, object],
    *,
    across: bool = False,
) -> tuple[float, str, float]:
    """The same comparison on the same inputs (`diagnostics.matched`): each labelled row of the
    version against the baseline's answer at the nearest input it served. Far more sensitive
    when both versions are mostly right (only the rows they answer differently carry signal);
    scored by the same rule as the two-sample comparison, with the paired z. `across` windows,
    the pairing may clear the version (`_cleared_by_pairs`), then numeric answers are also read
    from a surrogate of the baseline's map (`_with_surrogate`)."""
    pg = paired_gap(ctx, v, base, rv, cv, MIN_LABELLED)
    if pg is not None:
        details.update({f"paired_{key}": value for key, value in dataclasses.asdict(pg).items()})
        base_name = details["baseline_version"]
        how = (
            f"on the same inputs (each of {pg.n} labelled rows paired with {base_name}'s answer at the nearest input "
            "it served)"
        )
        pmag, mag, text = _stronger_form(ctx, pg, pg.z, mag, text, how)
        details["paired_magnitude"] = pmag
        worse_z = max(worse_z, pg.z)
    if not across:
        return mag, text, worse_z
    mag, text = _cleared_by_pairs(ctx, mag, text, details)
    return _with_surrogate(ctx, (v, base, rv, cv), mag, text, worse_z, details)


def _stronger_form(ctx: Context, gap: LossGap, z: float, mag: float, text: str, how: str) -> tuple[float, float, str]:
    """Another form of the version comparison, weighed by the same rule (`gap_magnitude`, the
    version's bar, relative effect): its own magnitude, then the stronger magnitude and evidence
    of the two (the evidence says `how` the form compared, and its figures)."""
    form = gap_magnitude(ctx, gap.delta, gap.relative, z, VERSION_Z, relative=True)
    if form <= mag:
        return form, mag, text
    figures = f"{_quality(ctx, gap.loss_baseline)} -> {_quality(ctx, gap.loss_version)}, z {min(z, 99.0):.1f}"
    return form, form, f"{text[:-1]}; {how} {figures}."


def _with_surrogate(
    ctx: Context,
    versions: tuple[int, int, np.ndarray, np.ndarray],
    mag: float,
    text: str,
    worse_z: float,
    details: dict[str, object],
) -> tuple[float, str, float]:
    """The same labelled rows scored by the baseline's answers read from a surrogate of its map
    (`diagnostics.surrogate_gap`): numeric answers on inputs that do not repeat, where the
    nearest-input pairing flatters the version and the two-sample gap drowns in label noise.
    Scored by the same rule as the other forms; the larger score is kept. Not against a far
    reference (`_far_baseline`): the surrogate's misfit is measured on the baseline's labelled
    reference rows, and a model scored on its own training rows fits them as no live row."""
    if details.get("far_reference"):
        return mag, text, worse_z
    sg = surrogate_gap(ctx, *versions, MIN_CONCLUSIVE)
    if sg is None:
        return mag, text, worse_z
    base_name = details["baseline_version"]
    how = (
        f"on its own {sg.n} labelled rows scored against {base_name}'s answers there (read from a surrogate of its "
        f"input -> prediction map fitted on its {sg.n_baseline} reference rows, its misfit taken out)"
    )
    smag, kept, kept_text = _stronger_form(ctx, sg, sg.z, mag, text, how)
    details.update({f"surrogate_{key}": value for key, value in dataclasses.asdict(sg).items()})
    details["surrogate_magnitude"] = smag
    if kept <= mag:
        return mag, text, worse_z
    details["surrogate_decides"] = True
    return kept, kept_text, max(worse_z, sg.z)


def _cleared_by_pairs(ctx: Context, mag: float, text: str, details: dict[str, object]) -> tuple[float, str]:
    """Across windows, the version's loss against the old version's is confounded with whatever
    else changed at the onset: a retrain deployed to all traffic as the world moved (labels that
    turned, a daily cycle in the positive rate the model does not follow) carries the world's rise.
    The same labelled rows scored by the old version's answers at the nearest inputs it served
    (`_with_pairs`) take the world out. When that pairing is conclusive (most rows matched, enough
    of them), shows no gap that is an incident by itself, and its gap, with the flattery of pairing
    a row with neighbours' answers added back (`PairedGap.neighbour_offset`), is a small part of
    the two-sample one, the rise is not the version's and the two-sample gap is no evidence
    against it. Where most rows found no close baseline input (a training-file reference, weather
    of another week), the rows that did pair still clear it when they show it clearly better
    (z <= -VERSION_Z with the flattery added back): a refitted bike-count model read MAE +11%
    across windows while 1,433 paired rows put it 14% ahead (z -7).
    """
    n, share, pmag = details.get("paired_n"), details.get("paired_matched_share"), details.get("paired_magnitude")
    keys = ("paired_loss_version", "paired_loss_baseline", "paired_neighbour_offset", "loss_version", "loss_others")
    floats = [details.get(k) for k in keys]
    if not (isinstance(n, int) and isinstance(share, float) and isinstance(pmag, float)) or mag <= 0.0:
        return mag, text
    if not all(isinstance(x, float) for x in floats):
        return mag, text
    p_v, p_b, offset, x_v, x_b = (float(x) for x in floats)  # type: ignore[arg-type]
    if n < MIN_CONCLUSIVE or pmag > 0.0 or x_v <= x_b:
        return mag, text
    # the pairing flatters the version by the baseline's own neighbour offset: judged with it back
    gap = p_v - p_b + max(offset, 0.0)
    # most rows paired and no gap that matters; or, where inputs moved away from what the baseline
    # served, the rows that did pair show the version clearly better (a sign, not a size)
    better = gap < 0.0 and float(details.get("paired_z", 0.0)) <= -VERSION_Z  # type: ignore[arg-type]
    # inputs that recur: the two-sample gap's rows are no more independent than the pairs', whose
    # evidence was bounded by the distinct inputs (`matched.distinct_input_bound`) and found none
    recurring = share >= PAIRED_CLEAR_SHARE and _recurring(details)
    if not (better or recurring) and (share < PAIRED_CLEAR_SHARE or gap > PAIRED_CLEAR_PART * (x_v - x_b)):
        return mag, text
    details["cleared_by_pairs"] = True
    base_name = details["baseline_version"]
    paired = (
        f" On the same inputs ({n} labelled rows, each paired with {base_name}'s answers at the nearest input it "
        f"served) {base_name} would have done {'worse' if better else 'about as well'}: {_quality(ctx, p_b)} "
        f"against {_quality(ctx, p_v)}, so the rise is not this version's."
    )
    return pmag, text + paired


def _recurring(details: dict[str, object]) -> bool:
    share = details.get("paired_distinct_share")
    return isinstance(share, float) and share < RECURRING_SHARE


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
    model is never blamed; weighed by how sure that lean is (`_lean_certainty`).
    """
    lean = _label_lean(worse_z, details)
    if not lean >= MAPPING_Z:  # a lean that could not be read (NaN) says nothing either
        return mag, text
    gap, _ = _conditional_gap(ctx, v, base, rv, cv, same_window=same_window)
    details["conditional_gap"] = gap
    gap_mag = float(np.clip((gap - 0.1) / 0.3, 0.0, 1.0)) * _lean_certainty(lean)
    if gap_mag <= mag:
        return mag, text
    return gap_mag, (
        text[:-1] + f"; given the same inputs its predictions moved by {min(gap, 9.99):.0%} of their variance."
    )


def _lean_certainty(lean: float) -> float:
    """How far a changed map may size a version by the labels' lean: nothing at `MAPPING_Z`, in full
    at the version's own bar (`VERSION_Z`), the way `model_checks.gap_magnitude` ramps a moderate
    gap's certainty from its bar.

    A refit of the same recipe on another sample (a forest's or a boosted model's seed, its early
    stopping's split) maps the same inputs 10-40% of their variance apart, as far as a bad version
    does: the map's size says how much, never whether. A harmless payments refit whose labels leaned
    worse by chance (paired z 1.9, its Brier no worse across windows) was named at 0.51 on a map 25%
    of the variance apart; the held-out kind read "Brier score 0.0521 -> 0.0530" (+1.7%). A lean
    short of the version's bar is that much short of saying the version is worse."""
    return float(np.clip((lean - MAPPING_Z) / (VERSION_Z - MAPPING_Z), 0.0, 1.0))


def _label_lean(worse_z: float, details: dict[str, object]) -> float:
    """How far the labels lean towards "worse": the two-sample z, unless a comparison on the same
    inputs was made (pairing, surrogate), whose z is read instead, the least favourable one. The
    two-sample gap carries whatever else differs between the rows compared (the hours a redeploy
    served at: a payments forest read Brier +13% across windows, z far past the bar, and 1% better
    on the same inputs), and a refit's changed map is no evidence once its answers are no worse."""
    controlled = [z for z in (details.get("paired_z"), details.get("surrogate_z")) if isinstance(z, float)]
    return min(controlled) if controlled else worse_z


def _quality(ctx: Context, loss: float) -> str:
    return f"accuracy {1 - loss:.3f}" if ctx.task.kind == "classification" else f"{loss_name(ctx.task)} {loss:.4g}"


def _loss_text(ctx: Context, base_loss: float, loss: float, against: str, n: int) -> str:
    if ctx.task.kind == "classification":
        return f"accuracy {1 - base_loss:.3f} ({against}) -> {1 - loss:.3f} on its {n} labelled rows."
    return f"{loss_name(ctx.task)} {base_loss:.4g} ({against}) -> {loss:.4g} on its {n} labelled rows."


def _prediction_gap(ctx: Context, cur_v: np.ndarray, other: np.ndarray | None, ref_base: np.ndarray) -> float:
    pred_v = ctx.current.prediction
    if other is not None:
        a_idx, b_src, b_idx = np.flatnonzero(cur_v), ctx.current.prediction, np.flatnonzero(other)
    else:
        a_idx, b_src, b_idx = np.flatnonzero(cur_v), ctx.reference.prediction, np.flatnonzero(ref_base)
    return distribution_gap(pred_v, a_idx, b_src, b_idx)
