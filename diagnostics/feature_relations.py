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

MAX_FEATURES = 24  # the most influential numeric inputs; p x p matrices stay small
MAX_ROWS = 10_000  # per window: a correlation's standard error is ~0.01, the drop asked is 0.2
MIN_ROWS = 200
STRONG = 0.3  # |rank correlation| in the reference that makes two inputs partners
MIN_DROP = 0.2  # the relation must weaken by this much ...
MIN_Z = 8.0  # ... and beyond sampling noise by this many standard errors (Fisher z)
MIN_BROKEN_SHARE = 0.6


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
    return r_ref, n_ref, r_cur, n_cur


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
    broken = strong & (drop >= MIN_DROP) & (zdrop >= MIN_Z)
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
        mag = float(np.clip((mean_drop - 0.1) / 0.3, 0.0, 1.0)) * float(n_broken[j] / n_strong[j])
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
                f"{pairs}; {int(n_broken[j])} of its {int(n_strong[j])} strong relations broke) while its partners "
                "kept theirs: its values look replaced, shuffled or joined to the wrong rows.",
                {
                    "partners": {names[k]: [float(r_ref[j, k]), float(r_cur[j, k])] for k in partners},
                    "broken": int(n_broken[j]),
                    "strong": int(n_strong[j]),
                    "mean_drop": mean_drop,
                    "magnitude": mag,
                    "influence": ctx.influence.get(name, 0.0),
                },
            )
        )
    return out
