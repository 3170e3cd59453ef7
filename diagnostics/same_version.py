"""The version that served before the onset answers the same inputs worse since: a silent change.

A serving-layer change (answers rounded to a coarse step, a calibration layer dropped, clipped
scores, another artifact pushed under the same tag) changes what the model answers while its
version string stays put. The loss rises everywhere, nothing in the inputs moved and no new
version took traffic, so the verdict was concept drift, and its answer (retrain) leaves the
broken step in place. What tells the two apart is which relation moved: under a concept change
the model maps an input to the same answer as before and the label moved; under a silent change
the label's relation held and the answer for the same input changed.

So each labelled row of the version since the onset is paired with the answers the same
version gave at the nearest inputs it served before the onset (the inputs `matched` pairs on),
and both are scored against the row's label by squared error: the row's own answer against the
mean of its neighbours'. The same pairing on the version's labelled rows before the onset (each
with its nearest *other* rows) is the null: a row's own answer fits its input better than its
neighbours' do, by about the spread of the neighbours' answers, and in squared error that
flattery adds the same amount whatever the labels do, so a concept change (the labels moved, the
map the same) leaves the two windows' gaps equal, while a silent change that hurt makes the own
answers lose against the old answers at the same inputs. Numeric answers only (regression
values, scores); class names have no squared error. A data fault moves the inputs the model
reads, and its own checks explain it: the gap is discounted by the strongest data finding, as
the other version comparisons are.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from diagnostics.context import Context
from diagnostics.findings import Finding
from diagnostics.log import Categorical, align_categorical
from diagnostics.matched import (
    MATCH_EPS,
    MATCH_FEATURES,
    MATCH_K,
    MATCH_QUANTILE,
    MATCH_SLACK,
    match_features,
    scaled_input_points,
)
from diagnostics.model_checks import gap_magnitude

MIN_ROWS = 200  # labelled rows on each side (a comparison worth making)
SAME_Z = 4.0  # run on every log whose version held, healthy ones included: a scan's bar, not a single test's
MIN_MATCHED = 0.5  # most of the version's labelled rows pair up (not a window that moved off the reference)
FEW_VALUES = 20  # a categorical input matched on (exact categories) has at most this many values
SLICE_CARRIES = 0.8  # one category carrying this share of the answers' move ...
SLICE_SHARE = 0.5  # ... while holding at most this share of the rows is a slice's change
MIN_SHARE = 0.5  # the version served most of the current window (not a canary's baseline)


def _own_minus_neighbours(
    tree: cKDTree, points: np.ndarray, pool_pred: np.ndarray, own: np.ndarray, label: np.ndarray, skip_self: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: squared error of its own answer minus that of the mean answer at its k nearest
    pool inputs, and the squared distance between the two answers."""
    k = min(MATCH_K, pool_pred.size - 1)
    dist, j = tree.query(points, k=k + 1 if skip_self else k, eps=MATCH_EPS)
    dist, j = dist.reshape(points.shape[0], -1), j.reshape(points.shape[0], -1)
    if skip_self:
        dist, j = dist[:, 1:], j[:, 1:]
    nb = pool_pred[j].mean(axis=1)
    ok = np.isfinite(dist[:, -1])
    return np.where(ok, (own - label) ** 2 - (nb - label) ** 2, np.nan), np.where(ok, (own - nb) ** 2, np.nan)


def _z(cur: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(current mean - reference mean, its z)."""
    delta = float(cur.mean() - ref.mean())
    se = math.sqrt(float(cur.var()) / cur.size + float(ref.var()) / ref.size)
    return delta, delta / se if se > 0 else 0.0


def _match_inputs(ctx: Context) -> list[str]:
    """The inputs a row is matched on: the most influential ones (`matched.match_features`), then
    any other numeric or few-valued input up to MATCH_FEATURES. An influence estimate can miss an
    input the model does read (one that acts alongside a correlated one), and a match that ignores
    it pairs rows whose answers differ for that reason alone, which drowns the change."""
    feats = match_features(ctx)
    for f in sorted(ctx.influence_raw, key=lambda f: ctx.influence_raw.get(f, 0.0), reverse=True):
        if len(feats) >= MATCH_FEATURES or f in feats:
            continue
        r, c = ctx.reference.features.get(f), ctx.current.features.get(f)
        if r is None or c is None or isinstance(r, Categorical) != isinstance(c, Categorical):
            continue
        if isinstance(r, Categorical) and len(r.categories) > FEW_VALUES:
            continue
        feats.append(f)
    return feats


def _one_slice(ctx: Context, rows: np.ndarray, moved: np.ndarray, usual: float) -> bool:
    """Did one category of a few-valued input carry most of the answers' move (a fallback score
    served to one country)? Then the segment check names that slice, which says more than the
    version does; this check is for answers that changed across the traffic."""
    excess = np.nan_to_num(moved - usual)
    total = float(excess.sum())
    if total <= 0:
        return False
    for values in ctx.current.features.values():
        if not isinstance(values, Categorical) or len(values.categories) > FEW_VALUES:
            continue
        codes = values.codes[rows]
        ok = codes >= 0
        n_cat = len(values.categories)
        carried = np.bincount(codes[ok], weights=excess[ok], minlength=n_cat) / total
        share = np.bincount(codes[ok], minlength=n_cat) / max(rows.size, 1)
        top = int(np.argmax(carried))
        if carried[top] >= SLICE_CARRIES and share[top] <= SLICE_SHARE:
            return True
    return False


def same_version_findings(ctx: Context, data_score: float) -> list[Finding]:
    """A finding on the version that served both windows when its answers to the same inputs got worse."""
    ref, cur = ctx.reference, ctx.current
    ref_mv, cur_mv = ref.model_version, cur.model_version
    if not isinstance(ref_mv, Categorical) or not isinstance(cur_mv, Categorical):
        return []
    if ref.label is None or cur.label is None or isinstance(cur.prediction, Categorical):
        return []
    if any(isinstance(x, Categorical) for x in (ref.prediction, ref.label, cur.label)):
        return []
    rv, cv, names = align_categorical(ref_mv, cur_mv)
    k = len(names)
    cur_counts = np.bincount(cv[cv >= 0], minlength=k)
    if cur_counts.sum() == 0:
        return []
    v = int(np.argmax(cur_counts))
    if cur_counts[v] < MIN_SHARE * cur_counts.sum():
        return []
    feats = _match_inputs(ctx)
    if not feats:
        return []
    r_pred, r_lab = np.asarray(ref.prediction, dtype=np.float64), np.asarray(ref.label, dtype=np.float64)
    c_pred, c_lab = np.asarray(cur.prediction, dtype=np.float64), np.asarray(cur.label, dtype=np.float64)
    pool = ctx.ref_sample[(rv[ctx.ref_sample] == v) & np.isfinite(r_pred[ctx.ref_sample])]
    cs = ctx.cur_sample
    rows = cs[(cv[cs] == v) & np.isfinite(c_pred[cs]) & np.isfinite(c_lab[cs])]
    null_rows = np.flatnonzero(np.isfinite(r_lab[pool]))
    if pool.size < 2 * MIN_ROWS or rows.size < MIN_ROWS or null_rows.size < MIN_ROWS:
        return []
    points = scaled_input_points(ctx, feats, pool, rows)
    tree = cKDTree(points[: pool.size])
    kk = min(MATCH_K, pool.size - 1)
    own_dist = tree.query(points[null_rows], k=kk + 1, eps=MATCH_EPS)[0][:, kk]
    cap = MATCH_SLACK * float(np.quantile(own_dist, MATCH_QUANTILE))
    near = tree.query(points[pool.size:], k=kk, eps=MATCH_EPS)[0].reshape(rows.size, -1)[:, -1] <= cap
    if float(near.mean()) < MIN_MATCHED or int(near.sum()) < MIN_ROWS:
        return []
    pool_pred = r_pred[pool]
    mine = rows[near]
    e_cur, a_cur = _own_minus_neighbours(tree, points[pool.size :][near], pool_pred, c_pred[mine], c_lab[mine], False)
    e_ref, a_ref = _own_minus_neighbours(
        tree, points[null_rows], pool_pred, r_pred[pool[null_rows]], r_lab[pool[null_rows]], True
    )
    a_cur_rows = a_cur
    e_cur, e_ref = e_cur[np.isfinite(e_cur)], e_ref[np.isfinite(e_ref)]
    a_cur, a_ref = a_cur[np.isfinite(a_cur)], a_ref[np.isfinite(a_ref)]
    if e_cur.size < MIN_ROWS or e_ref.size < MIN_ROWS:
        return []
    # the answers themselves moved away from the version's answers at the same inputs (no label
    # involved: under a concept change the map, and so this distance, stays as it was) ...
    _, z_answers = _z(a_cur, a_ref)
    # ... and they lose against them on the same labels
    delta, z = _z(e_cur, e_ref)
    if z_answers < SAME_Z or _one_slice(ctx, mine, a_cur_rows, float(a_ref.mean())):
        return []
    # the old answers' squared error on the current labels: what the version would lose unchanged
    baseline = float(np.mean((c_pred[rows[near]] - c_lab[rows[near]]) ** 2)) - float(e_cur.mean()) + float(e_ref.mean())
    rel = delta / max(baseline, 1e-12)
    # squared error grows about twice as fast as absolute error: half the relative gap on the task's scale
    mag = gap_magnitude(ctx, delta, rel / 2.0, z, SAME_Z, relative=True) * (1.0 - min(data_score, 1.0))
    if mag <= 0:
        return []
    name = str(names[v])
    return [
        Finding(
            "model",
            "answers_changed",
            name,
            mag,
            f"Version {name} served before and since the onset, but it answers the same inputs worse now: on "
            f"{e_cur.size} labelled rows since the onset its answers lose {100 * rel:.0f}% more squared error than "
            f"its answers at the nearest inputs it served before the onset, beyond what that pairing costs before "
            f"the onset (z {min(z, 99.0):.1f}). The labels' relation to the inputs held; the answers changed under "
            "the same version (a serving or post-processing change, or another artifact under the same tag).",
            {
                "paired_n": int(e_cur.size),
                "squared_gap": delta,
                "squared_gap_relative": rel,
                "paired_z": z,
                "answers_z": z_answers,
                "matched_share": float(near.mean()),
                "data_score": data_score,
            },
        )
    ]
