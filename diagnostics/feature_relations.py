"""A feature that lost its relation to the other inputs: values replaced, shuffled or misjoined.

A column filled from the wrong source (noise, another table's rows, a join on the wrong key,
two category codes swapped upstream) can keep its own distribution — every per-feature check
sees nothing — while the model reads garbage, and the loss then rises "everywhere" like a
concept change, whose answer (retrain) would bake the broken column in. What does change is
the column's relation to the inputs it moved with: a real input keeps its rank correlation
with its partners however its level or scale moves (a shift, a unit factor or a ramp moves
the ranks of one window together), while a replaced one drops to about zero with all of them.

The culprit is named only when the blame can be placed: the feature lost most of its strong
relations, and each partner it lost either kept another relation (so the partner is fine) or
broke with nothing but this feature while this feature broke with several. Two inputs that
only relate to each other and part ways are not named (either could be the broken one).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
from scipy.stats import rankdata

from diagnostics.context import Context
from diagnostics.findings import Finding
from diagnostics.log import Categorical
from diagnostics.recurring import critical_factor, effective_counts, input_names, recurrence
from diagnostics.stats import ks_statistic_sorted, sorted_values

MAX_FEATURES = 24  # the most influential numeric inputs; p x p matrices stay small
MAX_ROWS = 10_000  # per window: a correlation's standard error is ~0.01, the drop asked is 0.2
MIN_ROWS = 200
STRONG = 0.3  # |rank correlation| in the reference that makes two inputs partners
MIN_DROP = 0.2  # the relation must weaken by this much ...
MIN_Z = 8.0  # ... and beyond sampling noise by this many standard errors (Fisher z)
MIN_BROKEN_SHARE = 0.6
TIGHT = 0.8  # |rank correlation| of partners whose joint a share of rows can visibly leave
PARTIAL_SHARE = 0.15  # ... the share of rows off the reference's joint (a KS of the rank residual)
PARTIAL_CRITICALS = 3.0  # ... and this many times what the windows' sizes give by chance


def _centred_ranks(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Average ranks of each column's finite values, centred, with 0 where missing; the finite mask."""
    n = columns[0].shape[0]
    z = np.zeros((n, len(columns)))
    m = np.zeros((n, len(columns)))
    for j, x in enumerate(columns):
        ok = np.isfinite(x)
        if ok.sum() < 3:
            continue
        r = rankdata(x[ok])
        z[ok, j] = r - r.mean()
        m[ok, j] = 1.0
    return z, m


def _pairwise_corr(z: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correlations over the rows where both columns are present (matrix products, no row loop)."""
    n = m.T @ m
    sx = z.T @ m  # [j, k]: sum of column j over rows where k is present
    sy = sx.T
    sxy = z.T @ z
    sxx = (z * z).T @ m
    syy = sxx.T
    with np.errstate(invalid="ignore", divide="ignore"):
        nn = np.maximum(n, 1.0)
        cov = sxy - sx * sy / nn
        vx = sxx - sx * sx / nn
        vy = syy - sy * sy / nn
        r = cov / np.sqrt(vx * vy)
    r[(vx <= 1e-12) | (vy <= 1e-12) | (n < MIN_ROWS)] = np.nan
    return r, n


def rank_correlations(ctx: Context, names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairwise rank correlations of `names` (numeric inputs) and their row counts: reference, current."""
    ref, cur = ctx.reference.features, ctx.current.features
    ref_rows = ctx.ref_sample[:: max(1, -(-ctx.ref_sample.size // MAX_ROWS))]
    cur_rows = ctx.cur_sample[:: max(1, -(-ctx.cur_sample.size // MAX_ROWS))]
    zr, mr = _centred_ranks([np.asarray(ref[k])[ref_rows] for k in names])
    zc, mc = _centred_ranks([np.asarray(cur[k])[cur_rows] for k in names])
    r_ref, n_ref = _pairwise_corr(zr, mr)
    r_cur, n_cur = _pairwise_corr(zc, mc)
    # rows in spells count as fewer rows (`spell_inflation`): the counts a standard error uses
    return r_ref, n_ref / spell_inflation(zr) ** 2, r_cur, n_cur / spell_inflation(zc) ** 2


SPELL_BATCHES = 20


def spell_inflation(z: np.ndarray) -> np.ndarray:
    """[j, k]: how many times wider a rank correlation's standard error is than independent rows give.

    Rows come in spells: rain falls for an hour or three, a warm day lasts a day. Over a reference
    of a few showers the rank correlation of drizzle with temperature is that of the hours it
    happened to rain (-0.42 on one healthy log, +0.68 on another), and a window of other hours
    'broke' it: thousands of rows, a handful of spells, so a Fisher z counted in rows was far
    beyond noise (healthy cycle logs: 5 read "rain_mm lost its relation to the other inputs").
    The correlation is the mean of the rows' rank products; over `SPELL_BATCHES` consecutive
    batches of the time-ordered rows, the spread of the batch means says how uncertain that mean
    is when neighbouring rows move together (batch means, as for any autocorrelated series). Rows
    drawn independently (a pipeline's columns, a shuffled partner) give about 1; never below 1.
    """
    n, p = z.shape
    k = n // SPELL_BATCHES
    if k < 10:
        return np.ones((p, p))
    sd = np.sqrt((z * z).mean(axis=0))
    zs = (z / np.where(sd > 0, sd, 1.0))[: k * SPELL_BATCHES]
    batch = zs.reshape(SPELL_BATCHES, k, p)
    means = np.einsum("bip,biq->bpq", batch, batch) / k
    var_batches = means.var(axis=0, ddof=1) / SPELL_BATCHES
    sq = zs * zs
    var_rows = ((sq.T @ sq) / zs.shape[0] - means.mean(axis=0) ** 2) / zs.shape[0]
    ratio: np.ndarray = np.sqrt(np.maximum(var_batches / np.maximum(var_rows, 1e-12), 1.0))
    return ratio


def _reference_cdf(ref: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each value's place in the reference's distribution of its column (NaN where missing)."""
    srt = sorted_values(ref[np.isfinite(ref)])
    out = np.searchsorted(srt, values, side="right") / max(srt.size, 1)
    return np.where(np.isfinite(values), out, np.nan)


RESIDUAL_BINS = 50
TAIL = 0.02
STILL = 0.1  # KS of a column's own distribution under which it did not move


def _standardized(
    e_ref: np.ndarray, at_ref: np.ndarray, e_cur: np.ndarray, at_cur: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Both windows' residuals centred and scaled by the reference's own in the same decile of the
    partner's place, sorted. A residual in distribution units is as wide as the density where it
    sits: a window of small stones only (a narrower range) read 17% of its rows "off the joint"
    until each residual was judged against the reference's at the same place."""
    ok_r, ok_c = np.isfinite(e_ref) & np.isfinite(at_ref), np.isfinite(e_cur) & np.isfinite(at_cur)
    # the reference's extreme tails squeeze a place against 0 or 1 (a window of the smallest stones
    # sits below the reference's 2nd percentile, where no residual can go lower): judged inside them
    ok_r &= (at_ref > TAIL) & (at_ref < 1.0 - TAIL)
    ok_c &= (at_cur > TAIL) & (at_cur < 1.0 - TAIL)
    e_ref, e_cur = e_ref[ok_r], e_cur[ok_c]
    bins_r = np.clip((at_ref[ok_r] * RESIDUAL_BINS).astype(int), 0, RESIDUAL_BINS - 1)
    bins_c = np.clip((at_cur[ok_c] * RESIDUAL_BINS).astype(int), 0, RESIDUAL_BINS - 1)
    order = np.lexsort((e_ref, bins_r))
    starts = np.searchsorted(bins_r[order], np.arange(RESIDUAL_BINS + 1))
    centre, scale = np.zeros(RESIDUAL_BINS), np.ones(RESIDUAL_BINS)
    for i in range(RESIDUAL_BINS):  # fifty bins, not rows
        part = e_ref[order[starts[i] : starts[i + 1]]]
        if part.size >= 20:
            centre[i] = float(np.median(part))
            scale[i] = max(float(np.median(np.abs(part - centre[i]))), 1e-4)
    z_ref = (e_ref - centre[bins_r]) / scale[bins_r]
    z_cur = (e_cur - centre[bins_c]) / scale[bins_c]
    return np.sort(z_ref), np.sort(z_cur)


def _repeat_chances(ctx: Context, clock_inputs: Collection[str], names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """[j, k]: the chance two of the correlations' rows repeat one served input, reference and
    current (`recurring`); 0 for a pair with a column whose values the window altered on inputs
    the reference served (a shuffled column's: its rows keep their evidence).

    A wine set's 89 inputs in another mix of hours moved proline's rank correlation with flavanoids
    from +0.62 to +0.10: on 3,000 rows a Fisher z far beyond `MIN_Z`, on 89 inputs within noise.
    """
    keyed = [k for k in input_names(ctx.reference.features, ctx.influence, clock_inputs) if k in ctx.current.features]
    seen = recurrence(ctx.reference.features, ctx.current.features, keyed, ctx.ref_sample, ctx.cur_sample)
    counted = np.array([seen.counted_in_inputs(k) for k in names], dtype=bool)
    both = counted[:, None] & counted[None, :]
    return np.where(both, seen.chance_ref, 0.0), np.where(both, seen.chance_cur, 0.0)


def partial_breaks(
    ctx: Context, names: list[str], r_ref: np.ndarray, chances: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """[j, k]: the share of current rows off the reference's joint of tightly related j and k.

    A share of rows moved (a fifth of a stone's widths up 1.5 sd, upstream) keeps the rank
    correlation of near-twins high (0.99 -> 0.82: the drop of 0.2 asked of a replaced column is
    never reached) while those rows sit where the reference had none: the residual of j's place
    in its reference distribution against k's (`u_j - u_k`, `u_j - (1 - u_k)` when they fall
    together) is narrow in the reference, and the KS of the two windows' residuals bounds the
    share of rows that left the joint from below (0.27 for 30% of the rows moved, 0.02 on a
    healthy log). A window of a narrower range, or both inputs moving together, leaves the
    residual where it was. 0 where the pair is not tight or the share is within chance.
    """
    p = len(names)
    out = np.zeros((p, p))
    tight = np.abs(np.nan_to_num(r_ref)) >= TIGHT
    np.fill_diagonal(tight, False)
    if not tight.any():
        return out
    ref, cur = ctx.reference.features, ctx.current.features
    ref_rows = ctx.ref_sample[:: max(1, -(-ctx.ref_sample.size // MAX_ROWS))]
    cur_rows = ctx.cur_sample[:: max(1, -(-ctx.cur_sample.size // MAX_ROWS))]
    cols = sorted(set(np.flatnonzero(tight.any(axis=1))))
    u_ref, u_cur = {}, {}
    for j in cols:
        r = np.asarray(ref[names[j]], dtype=float)
        u_ref[j] = _reference_cdf(r[ref_rows], r[ref_rows])
        u_cur[j] = _reference_cdf(r[ref_rows], np.asarray(cur[names[j]], dtype=float)[cur_rows])
    # how far each column's own distribution moved: when both of a pair moved, the population did
    # (a window of the smallest stones only), and a noisy twin's conditional spread moves with it
    marginal = {j: ks_statistic_sorted(sorted_values(u_ref[j]), sorted_values(u_cur[j])) for j in cols}
    for j, k in zip(*np.nonzero(np.triu(tight)), strict=True):
        if min(marginal[j], marginal[k]) >= STILL:
            continue
        flip = r_ref[j, k] < 0
        e_ref = u_ref[j] - (1.0 - u_ref[k] if flip else u_ref[k])
        e_cur = u_cur[j] - (1.0 - u_cur[k] if flip else u_cur[k])
        a, b = _standardized(e_ref, u_ref[k], e_cur, u_cur[k])
        if a.size < MIN_ROWS or b.size < MIN_ROWS:
            continue
        share = ks_statistic_sorted(a, b)
        crit = 1.95 * np.sqrt((a.size + b.size) / (a.size * b.size))
        if chances is not None:  # counted in the windows' distinct inputs (`_repeat_chances`)
            crit *= critical_factor(a.size, b.size, float(chances[0][j, k]), float(chances[1][j, k]))
        if share >= max(PARTIAL_SHARE, PARTIAL_CRITICALS * crit):
            out[j, k] = out[k, j] = share
    return out


def relation_findings(ctx: Context, clock_inputs: Collection[str] = ()) -> list[Finding]:
    """Inputs that lost their rank correlation with their partners since the onset.

    `clock_inputs` (an hour of the day, a day of the week) are left out: their rank correlation
    with anything that follows the clock depends on which hours a window holds (a temperature
    rises with the hour in the morning and falls with it at night), so a window of a few hours
    'broke' a healthy hour column's relations; their relation to the clock is checked instead.
    """
    ref, cur = ctx.reference.features, ctx.current.features
    names = [
        k
        for k in ref
        if k in cur
        and k not in clock_inputs
        and not isinstance(ref[k], Categorical)
        and not isinstance(cur[k], Categorical)
    ]
    if len(names) < 3 or ctx.ref_sample.size < MIN_ROWS or ctx.cur_sample.size < MIN_ROWS:
        return []
    names.sort(key=lambda k: ctx.influence_raw.get(k, 0.0), reverse=True)
    names = names[:MAX_FEATURES]
    r_ref, n_ref, r_cur, n_cur = rank_correlations(ctx, names)
    # inputs served again and again are one observation each however many rows carry them (`recurring`)
    chance_ref, chance_cur = _repeat_chances(ctx, clock_inputs, names)
    n_ref, n_cur = effective_counts(n_ref, chance_ref), effective_counts(n_cur, chance_cur)
    p = len(names)
    off = ~np.eye(p, dtype=bool)
    valid = off & np.isfinite(r_ref) & np.isfinite(r_cur)
    strong = valid & (np.abs(np.nan_to_num(r_ref)) >= STRONG)
    sign = np.sign(np.nan_to_num(r_ref))
    with np.errstate(invalid="ignore", divide="ignore"):
        fz_ref = np.arctanh(np.clip(np.nan_to_num(r_ref) * sign, -0.999, 0.999))
        fz_cur = np.arctanh(np.clip(np.nan_to_num(r_cur) * sign, -0.999, 0.999))
        se = np.sqrt(1.0 / np.maximum(n_ref - 3, 1.0) + 1.0 / np.maximum(n_cur - 3, 1.0))
        zdrop = (fz_ref - fz_cur) / se
    drop = np.abs(np.nan_to_num(r_ref)) - np.nan_to_num(r_cur) * sign
    partial = partial_breaks(ctx, names, r_ref, (chance_ref, chance_cur))
    broken = strong & (((drop >= MIN_DROP) & (zdrop >= MIN_Z)) | (partial > 0.0))
    n_strong = strong.sum(axis=1)
    n_broken = broken.sum(axis=1)
    # partner k of j is "otherwise intact" when it keeps a strong relation to some input other than j
    intact = strong & ~broken
    out: list[Finding] = []
    for j in range(p):
        if n_broken[j] == 0 or n_broken[j] < MIN_BROKEN_SHARE * n_strong[j]:
            continue
        partners = np.flatnonzero(broken[j])
        confirmed = [k for k in partners if intact[k].sum() - int(intact[k, j]) >= 1]
        sole = n_broken[j] >= 2 and all(n_broken[k] < n_broken[j] for k in partners)
        if not confirmed and not sole:
            continue
        mean_drop = float(drop[j, partners].mean())
        # a share of rows off the joint counts as far as a replaced column's drop
        moved = float(partial[j, partners].mean())
        reach = max(float(np.clip((mean_drop - 0.1) / 0.3, 0.0, 1.0)), float(np.clip((moved - 0.05) / 0.25, 0.0, 1.0)))
        mag = reach * float(n_broken[j] / n_strong[j])
        name = names[j]
        score = mag * (0.1 + 0.9 * ctx.influence.get(name, 0.0))
        if score <= 0.0:
            continue
        order = partners[np.argsort(-drop[j, partners])][:3]
        pairs = ", ".join(f"with {names[k]} {r_ref[j, k]:+.2f} -> {r_cur[j, k]:+.2f}" for k in order)
        out.append(
            Finding(
                "data",
                "relation_break",
                name,
                score,
                f"Feature '{name}' lost its relation to the other inputs since the onset (rank correlation "
                f"{pairs}; {int(n_broken[j])} of its {int(n_strong[j])} strong relations broke"
                + (f"; at least {100 * moved:.0f}% of its rows sit off the joint it had with them" if moved > 0 else "")
                + ") while its partners kept theirs: its values look "
                + ("moved, replaced or joined to the wrong rows on a share of rows." if moved > 0
                   else "replaced, shuffled or joined to the wrong rows."),
                {
                    "partners": {names[k]: [float(r_ref[j, k]), float(r_cur[j, k])] for k in partners},
                    "broken": int(n_broken[j]),
                    "strong": int(n_strong[j]),
                    "mean_drop": mean_drop,
                    "rows_off_joint": moved,
                    "magnitude": mag,
                    "influence": ctx.influence.get(name, 0.0),
                },
            )
        )
    return out
