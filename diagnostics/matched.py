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
from scipy import stats
from scipy.spatial import cKDTree

from diagnostics.calendar_cells import local_cells
from diagnostics.clock_features import names_local_days
from diagnostics.context import Context, row_loss
from diagnostics.log import Categorical, align_categorical, present, take_rows
from diagnostics.model_checks import LossStats, drop_magnitude
from diagnostics.phase import DAY_S, HOUR_S

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


class LossGap:
    """A version's loss against its baseline's: the gap and the gap relative to the baseline."""

    loss_version: float
    loss_baseline: float

    @property
    def delta(self) -> float:
        return self.loss_version - self.loss_baseline

    @property
    def relative(self) -> float:
        return self.delta / max(self.loss_baseline, 1e-12)


@dataclass(frozen=True)
class PairedGap(LossGap):
    """The version's loss minus the baseline's on the same rows (paired differences)."""

    n: int  # pairs compared (labelled version rows with a close baseline row)
    loss_version: float
    loss_baseline: float
    z: float
    matched_share: float  # of the version's labelled rows, the share with a close baseline row
    # the baseline's answers at its own labelled rows' nearest other inputs lose this much more
    # than its answers at those rows: how much the pairing flatters any version (0 when unknown)
    neighbour_offset: float = 0.0
    # distinct inputs among the pairs over pairs: below 1 when served inputs recur (a bundled set's
    # pool), where `z` was bounded by the distinct inputs' evidence (`distinct_input_bound`)
    distinct_share: float = 1.0


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


EXACT_MAX_DISCORDANT = 400  # beyond this many discordant rows the normal approximation is exact enough


def sign_flip_tails(steps: np.ndarray) -> tuple[float, float]:
    """Exact one-sided p values (sum as large or larger, as small or smaller) of the sum of paired
    differences under random signs (H0: neither version is better on these rows).

    `steps` are the paired differences as integers (0/1 losses against the mean of `k` answers:
    the differences times `k`). Under H0 each non-zero difference is as likely with either sign,
    so the sum's distribution is the convolution, per magnitude m, of `m * (2 B - c)` with
    `B ~ Binomial(c, 1/2)` over the `c` differences of that magnitude. With a single answer
    (every step +-1) the upper tail is McNemar's exact test, `binomtest(b, b + c, 0.5, "greater")`.
    """
    d = np.asarray(steps, dtype=np.int64)
    d = d[d != 0]
    if d.size == 0:
        return 1.0, 1.0
    counts = np.bincount(np.abs(d))
    pmf = np.ones(1)  # of T, the sum of the magnitudes drawn positive; the sum is 2T - sum(|d|)
    for m in np.flatnonzero(counts):
        c = int(counts[m])
        part = np.zeros(int(m) * c + 1)
        part[:: int(m)] = stats.binom.pmf(np.arange(c + 1), c, 0.5)
        pmf = np.convolve(pmf, part)
    t_obs = (int(d.sum()) + int(np.abs(d).sum())) // 2
    return float(min(1.0, pmf[t_obs:].sum())), float(min(1.0, pmf[: t_obs + 1].sum()))


def exact_paired_z(diff: np.ndarray, answers: int) -> float:
    """The paired z of 0/1-loss differences (each against the mean of `answers` answers), read
    from the exact sign-flip test (`sign_flip_tails`) as the normal quantile of its p value.

    Why not the t statistic: with few discordant rows its normal reading overstates the
    evidence: 6 of 6 discordant rows against the version give t = 2.45 (p = 0.007), the exact
    p is 1/64 (z = 2.15). With many discordant rows both agree and the t statistic is kept."""
    steps = np.rint(np.asarray(diff) * answers).astype(np.int64)
    if int(np.count_nonzero(steps)) > EXACT_MAX_DISCORDANT:
        return paired_z(diff)
    upper, lower = sign_flip_tails(steps)
    if min(upper, lower) <= 0.0:  # beyond double precision: far past any bar either way
        return paired_z(diff)
    if upper < 0.5:
        return float(stats.norm.isf(upper))
    return -float(stats.norm.isf(lower)) if lower < 0.5 else 0.0


def distinct_input_bound(z: float, diff: np.ndarray, points: np.ndarray) -> float:
    """`z` no further from 0 than the same differences allow when rows that repeat one input are
    one piece of evidence.

    A served input that recurs (a bundled set's rows replayed all day, a pool of known
    customers) with the same label each time carries its paired difference once, however often
    it is served: a refitted logistic model that answered one of a wine set's 89 inputs the other
    way read 1 point worse at z 11.9 on 10,000 rows. Under "neither version is better" each
    distinct input's summed difference is as likely either sign, so the randomization statistic
    over distinct inputs, sum(S) / sqrt(sum(S^2)), bounds the evidence (one input: |z| <= 1).
    Where a recurring input's labels vary (a categorical world), its sum is noise of the rows'
    size and the bound is about the rows' own z. Inputs that never repeat leave `z` as it was.
    """
    if points.shape[0] < 2 or points.shape[1] == 0:
        return z
    _, cluster = np.unique(points, axis=0, return_inverse=True)
    cluster = cluster.ravel()
    if int(cluster.max()) + 1 == points.shape[0]:
        return z
    sums = np.bincount(cluster, weights=diff)
    scale = math.sqrt(float((sums**2).sum()))
    bound = float(sums.sum()) / scale if scale > 0 else 0.0
    return max(min(z, bound), 0.0) if z > 0 else min(max(z, bound), 0.0)


def _distinct_share(points: np.ndarray) -> float:
    if points.shape[0] == 0 or points.shape[1] == 0:
        return 1.0
    return float(np.unique(points, axis=0).shape[0] / points.shape[0])


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


def scaled_input_points(
    ctx: Context,
    feats: list[str],
    ref_idx: np.ndarray,
    cur_idx: np.ndarray,
    *,
    sides: tuple[bool, bool] = (True, False),
    cells: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Rows `ref_idx` of the reference then `cur_idx` of the current window as points for nearest-input matching
    (`sides`: whether each set's rows are the reference's; (False, False): both are the window's).

    One row a point, one column a matched input: a number divided by its spread over these rows
    (so no input outweighs another by its unit), a category's code times `FAR` (two categories
    never match each other), a missing value at `FAR`. `cells` (`condition_cells`: the reference's
    and the window's) adds each row's cell of the local day as one more category.
    """
    cols = []
    for f in feats:
        ref_v, cur_v = (ctx.reference.features[f] if side else ctx.current.features[f] for side in sides)
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
    if cells is not None:
        first, second = (cells[0] if side else cells[1] for side in sides)
        cols.append(np.concatenate([first[ref_idx], second[cur_idx]]).astype(np.float64) * FAR)
    return np.stack(cols, axis=1) if cols else np.empty((ref_idx.size + cur_idx.size, 0))


def _valid_prediction(pred: np.ndarray | Categorical, idx: np.ndarray) -> np.ndarray:
    return present(take_rows(pred, idx))


def _close_neighbours(
    points: np.ndarray, n_base: int, k: int, slack: float = MATCH_SLACK
) -> tuple[cKDTree, float, np.ndarray, np.ndarray]:
    """The k nearest of the first `n_base` points (the baseline's) for each of the others, and which
    of those have all k within the cap: `slack` times the MATCH_QUANTILE of the baseline's own
    k-th neighbour distances (leave-one-out, on up to OWN_SAMPLE of its rows). Returns (the
    baseline's tree, the cap, neighbour indices (rows x k), kept rows)."""
    tree = cKDTree(points[:n_base])
    probe = np.linspace(0, n_base - 1, min(n_base, OWN_SAMPLE)).astype(np.int64)
    own = tree.query(points[probe], k=k + 1, eps=MATCH_EPS)[0][:, k]  # the first hit is the row itself
    cap = slack * float(np.quantile(own, MATCH_QUANTILE))
    dist, j = tree.query(points[n_base:], k=k, eps=MATCH_EPS)
    dist, j = dist.reshape(-1, k), j.reshape(-1, k)
    return tree, cap, j, dist[:, -1] <= cap


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
    points = scaled_input_points(ctx, feats, b_ref, np.concatenate([b_cur, v_idx]))
    n_b = b_ref.size + b_cur.size
    k = min(MATCH_K, n_b - 1)
    if k < 1:
        return None
    tree, cap, j, keep = _close_neighbours(points, n_b, k)
    if int(keep.sum()) < min_pairs:
        return None
    v_rows, j = v_idx[keep], j[keep].ravel()
    assert ctx.current.label is not None
    # each version row's label, once per neighbour
    loss_b = _neighbour_loss(ctx, b_ref, b_cur, j, ctx.current.label, np.repeat(v_rows, k), k)
    loss_v = ctx.cur_loss[v_rows]
    ok = np.isfinite(loss_b) & np.isfinite(loss_v)
    if int(ok.sum()) < min_pairs:
        return None
    diff = loss_v[ok] - loss_b[ok]
    z = exact_paired_z(diff, k) if ctx.task.kind == "classification" else paired_z(diff)
    return PairedGap(
        n=int(ok.sum()),
        loss_version=float(loss_v[ok].mean()),
        loss_baseline=float(loss_b[ok].mean()),
        z=distinct_input_bound(z, diff, points[n_b:][keep][ok]),
        distinct_share=_distinct_share(points[n_b:][keep][ok]),
        matched_share=float(ok.sum()) / v_idx.size,
        neighbour_offset=_neighbour_offset(ctx, tree, points[: b_ref.size], b_ref, b_cur, k, cap),
    )


def _neighbour_offset(
    ctx: Context, tree: cKDTree, ref_points: np.ndarray, b_ref: np.ndarray, b_cur: np.ndarray, k: int, cap: float
) -> float:
    """The baseline paired with itself: on its labelled reference rows, the mean loss of its
    answers at the k nearest *other* inputs it served minus the loss of its own answer. A model's
    answer fits its own input better than a neighbour's does, so a version paired with the
    baseline's neighbours looks better than it is by about this much (a version 6% worse in MAE by
    noise in its answers looked as good as the old one)."""
    label = ctx.reference.label
    labelled = np.flatnonzero(np.isfinite(ctx.ref_loss[b_ref]))
    if label is None or labelled.size < 2:
        return 0.0
    labelled = labelled[np.linspace(0, labelled.size - 1, min(labelled.size, OWN_SAMPLE)).astype(np.int64)]
    dist, j = tree.query(ref_points[labelled], k=k + 1, eps=MATCH_EPS)
    dist, j = dist[:, 1:], j[:, 1:]  # leave-one-out: the first hit is the row itself
    keep = dist[:, -1] <= cap
    if int(keep.sum()) < 2:
        return 0.0
    rows = labelled[keep]
    loss_b = _neighbour_loss(ctx, b_ref, b_cur, j[keep].ravel(), label, np.repeat(b_ref[rows], k), k)
    offset = loss_b - ctx.ref_loss[b_ref[rows]]
    offset = offset[np.isfinite(offset)]
    return float(offset.mean()) if offset.size else 0.0


def _neighbour_loss(
    ctx: Context,
    b_ref: np.ndarray,
    b_cur: np.ndarray,
    j: np.ndarray,
    label: np.ndarray | Categorical,
    label_rows: np.ndarray,
    k: int,
) -> np.ndarray:
    """Per labelled row, the mean loss against its label of the baseline's answers at its k
    neighbours `j` (indices into the baseline's reference rows `b_ref`, then current rows `b_cur`);
    `label_rows` repeats each row's index in `label` once per neighbour."""
    from_ref = j < b_ref.size
    loss_nb = np.empty(j.size)
    if from_ref.any():
        loss_nb[from_ref] = row_loss(
            take_rows(ctx.reference.prediction, b_ref[j[from_ref]]), take_rows(label, label_rows[from_ref]), ctx.task
        )
    if (~from_ref).any():
        loss_nb[~from_ref] = row_loss(
            take_rows(ctx.current.prediction, b_cur[j[~from_ref] - b_ref.size]),
            take_rows(label, label_rows[~from_ref]),
            ctx.task,
        )
    return np.asarray(loss_nb.reshape(-1, k).mean(axis=1))


REVERSE_MAX_POOL = 10_000  # answers per version in the reverse match
REVERSE_MAX_ROWS = 10_000  # labelled reference rows scored


@dataclass(frozen=True)
class ReverseGap(LossGap):
    """Both versions' answers at their nearest inputs, scored against labelled reference rows."""

    n: int  # labelled reference rows scored (both answers within reach)
    loss_version: float
    loss_baseline: float
    z: float  # cluster-robust, divided by the placebo spread when that exceeds 1
    pool: int  # answers per version (equal: equal neighbour distances)
    same_window: bool  # the baseline's answers came from its current-window rows
    raw_z: float = math.nan  # before the placebo calibration
    placebo_spread: float = math.nan  # root mean square z of baseline-against-baseline placebos


def _subsample(rows: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    return rows if rows.size <= m else np.sort(rng.choice(rows, size=m, replace=False))


def cluster_z(diff: np.ndarray, first: np.ndarray, second: np.ndarray) -> float:
    """z of the mean of `diff` when rows share answers: two-way cluster-robust variance over the
    answer each side used (Cameron, Gelbach and Miller: clustered by the first, plus by the
    second, minus by their intersection), never below the variance of independent rows."""
    n = diff.size
    if n < 2:
        return 0.0
    e = diff - diff.mean()

    def clustered(ids: np.ndarray) -> float:
        sums = np.bincount(ids, weights=e)
        return float(sums @ sums) / n**2

    both = np.unique(np.stack([first, second], axis=1), axis=0, return_inverse=True)[1].ravel()
    var = max(clustered(first) + clustered(second) - clustered(both), float(e @ e) / n**2)
    if var <= 0.0:
        return 0.0
    return float(diff.mean()) / math.sqrt(var)


MIN_DAYS = 3  # local days of MIN_SEEN_ROWS matched rows a window needs for its day-to-day swing to be read


def across_days_z(ctx: Context, rows: np.ndarray, diff: np.ndarray) -> float | None:
    """z of the mean of `diff` (the window's labelled `rows`: each one's loss less the reference's at
    its conditions) with the window's local days as clusters (`cluster_z`); None when the rows span
    fewer than MIN_DAYS local days of MIN_SEEN_ROWS rows.

    Rows of one day share its weather, its holiday, its visits to a model's weak regions; a match on
    the inputs takes out what the inputs say, never all of what the day was. Over tens of thousands
    of rows the row-level z of a 9% rise is 9, while its days swing from -17% to +37% with the
    warmth of each (a forest fitted on cool days and judged over two warmer weeks: a day at
    conditions the reference never held is matched to milder ones; cycles seed 156, onset found).
    A changed relation raises the loss at the same conditions on every day: certain across the
    days as across the rows. A rise that some days carry is as certain as the days that carry it."""
    offset = ctx.log_utc_offset() or 0.0
    day = np.floor((ctx.current.timestamp[rows] + offset * HOUR_S) / DAY_S).astype(np.int64)
    ids = np.unique(day, return_inverse=True)[1].ravel()
    if int((np.bincount(ids) >= MIN_SEEN_ROWS).sum()) < MIN_DAYS:
        return None
    return cluster_z(diff, ids, ids)


def answer_cluster_z(loss_v: np.ndarray, loss_b: np.ndarray, j_v: np.ndarray, j_b: np.ndarray) -> float:
    """z of the mean of `loss_v.mean(1) - loss_b.mean(1)` (one row per scored row, `k` answers a side)
    when every answer may score several rows: three-way cluster-robust (Cameron, Gelbach and Miller)
    over the terms `+-loss / k`, clustered by the scored row, by the version's answer and by the
    baseline's (`j_v`, `j_b`: each term's answer), minus the intersections (a row uses an answer at
    most once, so row-and-answer clusters are single terms; no term is on both sides), never below
    the variance of independent rows. It counts the covariance of two rows that share *any* of
    their `2k` answers; clustering only on each row's nearest answer missed the other `k - 1`, and
    identical versions showed z 1.7-2.2 at a +0.5% gap."""
    n, k = loss_v.shape
    if n < 2:
        return 0.0
    e_v = (loss_v - loss_v.mean()) / k
    e_b = -(loss_b - loss_b.mean()) / k
    row = e_v.sum(axis=1) + e_b.sum(axis=1)
    iid = float(row @ row)

    def clustered(ids: np.ndarray, e: np.ndarray) -> float:
        sums = np.bincount(ids.ravel(), weights=e.ravel())
        return float(sums @ sums) - float(np.sum(e * e))  # less the singleton row-and-answer clusters

    var = max(iid + clustered(j_v, e_v) + clustered(j_b, e_b), iid) / n**2
    if var <= 0.0:
        return 0.0
    return float(loss_v.mean() - loss_b.mean()) / math.sqrt(var)


def _design(points: np.ndarray, quadratic: bool) -> np.ndarray:
    """Intercept, the numeric coordinates and (quadratic) their squares and products; a missing
    value or a category (coordinates at `FAR` multiples) counts as 0."""
    x = np.where(np.abs(points) >= FAR / 2, 0.0, points)
    cols = [np.ones((x.shape[0], 1)), x]
    if quadratic:
        i, j = np.triu_indices(x.shape[1])
        cols.append(x[:, i] * x[:, j])
    return np.concatenate(cols, axis=1)


def _map_shift(pool: np.ndarray, answers: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """How much a version's smooth map (least squares on its own answers: quadratic when it has ten
    answers per term, else linear, else none) changes from `source` to `target` inputs."""
    d = pool.shape[1]
    ok = np.isfinite(answers)
    quadratic = int(ok.sum()) >= 10 * (1 + d + d * (d + 1) // 2)
    if not quadratic and int(ok.sum()) < 10 * (1 + d):
        return np.zeros(source.shape[0])
    design = _design(pool[ok], quadratic)
    beta = np.linalg.solve(design.T @ design + 1e-6 * np.eye(design.shape[1]), design.T @ answers[ok])
    return np.asarray((_design(target, quadratic) - _design(source, quadratic)) @ beta)


REVERSE_PLACEBOS = 10  # baseline-against-baseline repetitions that calibrate the reverse z
PLACEBO_ROWS = 2_000  # scored rows per placebo (its pools shrink in proportion: the same sharing of answers)
PLACEBO_MIN_SPREAD = 1.0  # the z is only ever deflated by its placebo spread, never inflated


def reverse_gap(ctx: Context, v: int, base: int, rv: np.ndarray, cv: np.ndarray, min_pairs: int) -> ReverseGap | None:
    """A version without labels judged on the *reference's* labels: each labelled reference row
    of the baseline is scored by the version's answer at the nearest input the version served,
    and by the baseline's answer at the nearest input of an equally large pool of its other rows.

    Why: without labels on the version's rows, its loss can be estimated by a label model, and on
    fresh inputs a label model weaker than the versions prefers answers that resemble its own
    smooth estimate. Here no label is estimated: the labels are realized, and both answers come
    from a neighbouring input, from pools of the same size (so the same distance away on
    average), so neither side is favoured by the displacement. The baseline's pool is its current-
    window rows when it still serves (inputs drawn like the version's), else the half of its
    reference rows not scored. Rows that share an answer are correlated: the z is cluster-robust.
    Rows whose neighbour on either side lies beyond twice the 90th percentile of the baseline
    pool's own neighbour distances are left out (inputs the version no longer sees).

    The cluster-robust z is not calibrated for 0/1 answers (an identical model reached z 3.1 on
    the suite's healthy redeploys): it is calibrated on this log by a placebo (`_placebo_spread`),
    the same statistic for two disjoint pools of the baseline's own answers, and divided by their
    spread when that exceeds 1.
    """
    feats = match_features(ctx)
    if not feats or ctx.reference.label is None:
        return None
    rng = np.random.default_rng(29)
    cells: tuple[np.ndarray, np.ndarray] | None = None
    ref_all = ctx.ref_sample[rv[ctx.ref_sample] == base]
    ref_b = ref_all[_valid_prediction(ctx.reference.prediction, ref_all)]
    v_pool = ctx.cur_sample[cv[ctx.cur_sample] == v]
    v_pool = v_pool[_valid_prediction(ctx.current.prediction, v_pool)]
    b_cur = ctx.cur_sample[cv[ctx.cur_sample] == base]
    b_cur = b_cur[_valid_prediction(ctx.current.prediction, b_cur)]
    labelled = np.isfinite(ctx.ref_loss[ref_b])
    # training labels beside the log's answers (`engine._model_baseline`): no row holds both, and
    # the labelled rows are scored while every answered row is the baseline's pool
    apart = ref_all[present(take_rows(ctx.reference.label, ref_all))] if ctx.labels_apart else ref_all[:0]
    same_window = b_cur.size >= min(v_pool.size, REVERSE_MAX_POOL) // 2 and b_cur.size >= min_pairs
    if same_window:
        scored, b_all = (apart if apart.size else ref_b[labelled]), b_cur
    elif apart.size:
        scored, b_all = apart, ref_b
    else:
        half = rng.random(ref_b.size) < 0.5
        scored, b_all = ref_b[labelled & half], ref_b[~half]
    m = min(v_pool.size, b_all.size, REVERSE_MAX_POOL)
    if m < min_pairs or scored.size < min_pairs:
        return None
    scored = _subsample(scored, REVERSE_MAX_ROWS, rng)
    b_src = ctx.current.prediction if same_window else ctx.reference.prediction
    if same_window:
        # the baseline's pool is drawn where the version served: a canary confined to one segment
        # answers from inputs packed into that segment, and a pool drawn across all traffic sits
        # farther from each scored row there, so the version looked better for its denser pool
        # (a bad canary on a fifth of one continent: reverse z -1.0 against an estimate's +3.8)
        v_pool = _subsample(v_pool, m, rng)
        b_cand = _subsample(b_all, REVERSE_MAX_POOL, rng)
        points = scaled_input_points(ctx, feats, scored, np.concatenate([b_cand, v_pool]))
        p_scored, p_cand, p_v = (
            points[: scored.size],
            points[scored.size : scored.size + b_cand.size],
            points[scored.size + b_cand.size :],
        )
        got_v, got_b = _distinct_nearest(cKDTree(p_cand), p_v)
        if got_v.size < min_pairs:
            return None
        v_pool, p_v, b_pool, p_b = v_pool[got_v], p_v[got_v], b_cand[got_b], p_cand[got_b]
        m = got_v.size
    else:
        # across windows the version answered at other times: only its answers of the scored row's
        # cell of the local day score it (`condition_features`), as the baseline's pool of the same
        # reference holds that cell
        feats, cells = condition_features(ctx)
        v_pool, b_pool = _subsample(v_pool, m, rng), _subsample(b_all, m, rng)
        points = scaled_input_points(ctx, feats, np.concatenate([scored, b_pool]), v_pool, cells=cells)
        p_scored, p_b, p_v = points[: scored.size], points[scored.size : scored.size + m], points[scored.size + m :]
    got = _reverse_core(ctx, p_scored, scored, (p_v, ctx.current.prediction, v_pool), (p_b, b_src, b_pool), min_pairs)
    if got is None:
        return None
    n, loss_v, loss_b, z = got
    spread = _placebo_spread(ctx, feats, scored, b_src, b_all, same_window, m, min_pairs, rng, cells)
    return ReverseGap(
        n=n,
        loss_version=loss_v,
        loss_baseline=loss_b,
        z=z / max(spread, PLACEBO_MIN_SPREAD) if math.isfinite(spread) else z,
        pool=m,
        same_window=same_window,
        raw_z=z,
        placebo_spread=spread,
    )


def _distinct_nearest(tree: cKDTree, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows of `points`, rows of the tree) paired one to one, each point with the nearest tree row
    not taken by an earlier point among its `MATCH_K` nearest (one vectorized pass per rank)."""
    k = min(MATCH_K, tree.n)
    if k == 0 or points.shape[0] == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    _, near = tree.query(points, k=k)
    near = near.reshape(points.shape[0], k)
    chosen = np.full(points.shape[0], -1, dtype=np.int64)
    taken = np.zeros(tree.n, dtype=bool)
    for rank in range(k):
        open_rows = np.flatnonzero(chosen < 0)
        cand = near[open_rows, rank]
        free = ~taken[cand]
        open_rows, cand = open_rows[free], cand[free]
        _, first = np.unique(cand, return_index=True)  # a tree row goes to the first point asking for it
        chosen[open_rows[first]] = cand[first]
        taken[cand[first]] = True
    got = np.flatnonzero(chosen >= 0)
    return got, chosen[got]


def _placebo_spread(
    ctx: Context,
    feats: list[str],
    scored: np.ndarray,
    b_src: np.ndarray | Categorical,
    b_all: np.ndarray,
    same_window: bool,
    m: int,
    min_pairs: int,
    rng: np.random.Generator,
    cells: tuple[np.ndarray, np.ndarray] | None = None,
) -> float:
    """The reverse statistic's null spread on this log: the same comparison between two disjoint
    pools of the baseline's own answers (as large as the version's pool, or half the baseline's
    rows when it has fewer than twice as many), repeated `REVERSE_PLACEBOS` times; the root mean
    square of their z's (a placebo's expected gap is 0). NaN when no placebo could be formed.
    Beyond `PLACEBO_ROWS` scored rows it scores a subsample and shrinks its pools in proportion.

    It is the null of an *identical* model: a retrain that answers differently on a few inputs
    adds variance no placebo sees, so the spread deflates the z (when above 1) and never inflates it.
    `cells`: the cells of the local day the comparison matched in (across windows only)."""
    if scored.size > PLACEBO_ROWS:  # cost: the pools shrink with the scored rows, so each answer
        size = int(round(m * PLACEBO_ROWS / scored.size))  # still scores as many rows as in the comparison
        scored = _subsample(scored, PLACEBO_ROWS, rng)
    else:
        size = m
    size = min(size, b_all.size // 2)
    if size < min_pairs:
        return math.nan
    if same_window:
        points = scaled_input_points(ctx, feats, scored, b_all)
    else:
        points = scaled_input_points(
            ctx, feats, np.concatenate([scored, b_all]), np.empty(0, dtype=np.int64), cells=cells
        )
    p_scored, p_all = points[: scored.size], points[scored.size :]
    zs = []
    for _ in range(REVERSE_PLACEBOS):
        perm = rng.permutation(b_all.size)
        a, b = np.sort(perm[:size]), np.sort(perm[size : 2 * size])
        got = _reverse_core(ctx, p_scored, scored, (p_all[a], b_src, b_all[a]), (p_all[b], b_src, b_all[b]), min_pairs)
        if got is not None and math.isfinite(got[3]):
            zs.append(got[3])
    if len(zs) < 2:
        return math.nan
    return float(np.sqrt(np.mean(np.square(zs))))


def _reverse_core(
    ctx: Context,
    p_scored: np.ndarray,
    scored: np.ndarray,
    side_v: tuple[np.ndarray, np.ndarray | Categorical, np.ndarray],
    side_b: tuple[np.ndarray, np.ndarray | Categorical, np.ndarray],
    min_pairs: int,
) -> tuple[int, float, float, float] | None:
    """The reverse statistic for two pools, each `(points, prediction column, rows)`: the scored
    reference rows' losses under each pool's answers at their nearest inputs.
    Returns (rows scored, loss of the first pool, loss of the second, z)."""
    p_v, v_src, v_pool = side_v
    p_b, b_src, b_pool = side_b
    m = min(p_v.shape[0], p_b.shape[0])
    tree_b, tree_v = cKDTree(p_b), cKDTree(p_v)
    own = tree_b.query(p_b, k=2)[0][:, 1]  # leave-one-out: the first hit is the row itself
    cap = MATCH_SLACK * float(np.quantile(own, MATCH_QUANTILE))
    k = min(MATCH_K, m)
    d_b, j_b = (a.reshape(-1, k) for a in tree_b.query(p_scored, k=k))
    d_v, j_v = (a.reshape(-1, k) for a in tree_v.query(p_scored, k=k))
    keep = (d_b[:, 0] <= cap) & (d_v[:, 0] <= cap)
    if int(keep.sum()) < min_pairs:
        return None
    rows, j_b, j_v = scored[keep], j_b[keep], j_v[keep]
    label = take_rows(ctx.reference.label, np.repeat(rows, k))  # type: ignore[arg-type]  # each row's label, once per answer
    ans_v = take_rows(v_src, v_pool[j_v.ravel()])
    ans_b = take_rows(b_src, b_pool[j_b.ravel()])
    if not isinstance(ans_v, Categorical) and not isinstance(ans_b, Categorical):
        # numbers: each answer moved from its own input to the scored row's along the version's own
        # smooth map (a bias-corrected matching estimator); a steep relation otherwise buries the
        # gap under the difference between neighbouring inputs
        at = np.repeat(p_scored[keep], k, axis=0)
        all_v = np.asarray(take_rows(v_src, v_pool), dtype=np.float64)
        all_b = np.asarray(take_rows(b_src, b_pool), dtype=np.float64)
        ans_v = ans_v + _map_shift(p_v, all_v, p_v[j_v.ravel()], at)
        ans_b = ans_b + _map_shift(p_b, all_b, p_b[j_b.ravel()], at)
        if ctx.task.kind == "binary_score":
            ans_v, ans_b = np.clip(ans_v, 0.0, 1.0), np.clip(ans_b, 0.0, 1.0)
    loss_v = row_loss(ans_v, label, ctx.task).reshape(-1, k)
    loss_b = row_loss(ans_b, label, ctx.task).reshape(-1, k)
    # the mean of k answers' losses: a classifier's answer near its boundary flips between
    # neighbouring inputs, and one neighbour would add that coin to every row
    ok = np.isfinite(loss_v).all(axis=1) & np.isfinite(loss_b).all(axis=1)
    if int(ok.sum()) < min_pairs:
        return None
    loss_v, loss_b, j_v, j_b = loss_v[ok], loss_b[ok], j_v[ok], j_b[ok]
    if ctx.task.kind == "classification":
        # 0/1 answers at neighbouring inputs mostly agree between the sides, so separate answer
        # clusters overcount (identical versions: z spread 0.7); the nearest answer's clusters
        # spread 1.45 there. Neither is calibrated; the nearest is kept, and the placebo calibrates it
        z = cluster_z(loss_v.mean(axis=1) - loss_b.mean(axis=1), j_v[:, 0], j_b[:, 0])
    else:
        z = answer_cluster_z(loss_v, loss_b, j_v, j_b)
    return int(ok.sum()), float(loss_v.mean()), float(loss_b.mean()), z


MAX_MIX_ROWS = 20_000  # reference rows (and as many current ones) an input-matched base reads at most
MIX_MATCHED_SHARE = 0.5  # current rows that must find close reference inputs for an honest reweighting


def input_adjusted_loss(
    ctx: Context, feats: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The reference's loss at the current window's inputs: (the matched current rows (log
    indices), their losses, the reference's mean loss at each of their inputs).

    Each labelled current row is given the same model's mean loss at the MATCH_K nearest labelled
    reference inputs (the matched inputs, as in `paired_gap`): what the window would lose had only
    its mix of inputs moved. A model whose errors follow an input that follows the clock (fraud at
    night, a linear fit that misses the curve where an input peaks in the evening) shows a lower or
    higher loss in a few hours' window with nothing changed: a payments forest read Brier 0.045 ->
    0.061 "across the traffic" for an evening window whose hours hold more fraud. None when too
    few rows pair up (the inputs moved away from everything the reference held: a data question,
    not a mix one). Rows without close reference inputs are left out on both sides: they are the
    window's rarest inputs, often its largest errors, and a base without them reads low.
    `feats` narrows the match to some inputs (`moved_features`): the default, all influential
    inputs, dilutes an input that moved among the ones that did not.

    When too few rows pair up and an input names the local day (`_names_the_day`: a day name, one
    value per local day), the match is made again on the other inputs: a window of other days
    holds other day names, which no reference row holds, and a building's load model whose
    reference was a Tuesday to a Thursday read a holiday Friday and the weekend after it "across
    the traffic" (MAE 8.3 -> 9.8, row z 12.8; cycles seed 67 with a holiday) while at the same
    occupancy, temperature and hour it lost 9.69 against 9.42. The kind of day is in the inputs
    that carry it (occupancy, a workday flag); a name no reference row holds is no condition a
    rise can be read at."""
    feats = match_features(ctx) if feats is None else feats
    if not feats or ctx.current.label is None or ctx.reference.label is None:
        return None
    found = _input_adjusted(ctx, feats)
    if found is not None or ctx.log_utc_offset() is None:
        return found
    other = [f for f in feats if not _names_the_day(ctx, f)]
    return _input_adjusted(ctx, other) if other and len(other) < len(feats) else None


def _input_adjusted(ctx: Context, feats: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """`input_adjusted_loss` matched on `feats`."""
    r_idx, c_idx = _labelled_samples(ctx)
    k = min(MATCH_K, r_idx.size - 1)
    if k < 1 or c_idx.size < 2:
        return None
    points = scaled_input_points(ctx, feats, r_idx, c_idx)
    _, _, j, keep = _close_neighbours(points, r_idx.size, k)
    if int(keep.sum()) < MIX_MATCHED_SHARE * c_idx.size:
        return None
    rows = c_idx[keep]
    return rows, ctx.cur_loss[rows], ctx.ref_loss[r_idx][j[keep]].mean(axis=1)


def _labelled_samples(ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """The reference's and the window's labelled sample rows (time order), MAX_MIX_ROWS of each at most."""
    r_idx = ctx.ref_sample[np.isfinite(ctx.ref_loss[ctx.ref_sample])]
    c_idx = ctx.cur_sample[np.isfinite(ctx.cur_loss[ctx.cur_sample])]
    return _at_most_mix_rows(r_idx), _at_most_mix_rows(c_idx)


def _at_most_mix_rows(idx: np.ndarray) -> np.ndarray:
    """`idx` thinned to MAX_MIX_ROWS evenly spaced rows (time order kept): the matching's tree cost."""
    if idx.size > MAX_MIX_ROWS:
        return idx[np.linspace(0, idx.size - 1, MAX_MIX_ROWS).astype(np.int64)]
    return idx


MOVED_SHARE = 0.1  # share of the window's rows an input's reference deciles must have traded to count as moved
MOVED_FEATURES = 2


def moved_features(ctx: Context) -> list[str]:
    """The influential inputs (`match_features`) whose values moved between the windows, largest
    move first: at least MOVED_SHARE of the window's rows sit in other reference deciles than the
    reference's own (total variation over the deciles).

    A model whose errors follow one input that follows the clock (a linear fit of a curve in the
    first of ten inputs, whose rows are served by the time of day) loses more in an evening
    window with nothing changed. Matching on all ten inputs finds neighbours far along the nine
    that did not move, and their mean loss regresses to the reference's: a friedman fit read
    MAE 1.66 -> 1.86 "across the traffic" against an input-matched base of 1.73, while its loss
    at the window's own values of the moved input was 1.84."""
    out: list[tuple[float, str]] = []
    for f in match_features(ctx):
        rc, cc, bins = ctx.ref_bin_codes.get(f), ctx.cur_bin_codes.get(f), ctx.bins.get(f)
        if rc is None or cc is None or bins is None or rc.size == 0 or cc.size == 0:
            continue
        r = np.bincount(rc, minlength=bins.n_bins) / rc.size
        c = np.bincount(cc, minlength=bins.n_bins) / cc.size
        moved = 0.5 * float(np.abs(r - c).sum())
        if moved >= MOVED_SHARE:
            out.append((moved, f))
    out.sort(reverse=True)
    return [f for _, f in out[:MOVED_FEATURES]]


UNSEEN_SHARE = 0.25  # the window's labelled rows at input values the reference never held, for a read at the seen ones
SEEN_END_SHARE = 0.05  # of the window's last quarter (in time) that the seen rows must hold to reach its end
MIN_SEEN_ROWS = 30  # model_checks.MIN_LABELLED: rows a loss comparison needs
SEEN_Z = 3.0  # the unseen rows' loss above the seen rows' for the rise to sit where the inputs left the reference


@dataclass(frozen=True)
class UnseenWindow:
    """The current window's labelled rows (log indices, time order) and which of them hold a value
    of some input that the reference never held (`unseen_window`)."""

    rows: np.ndarray
    unseen: np.ndarray
    unseen_read: np.ndarray  # ... of an input the model reads (influence > 0.1 on the reference)

    @property
    def seen(self) -> np.ndarray:
        return np.asarray(self.rows[~self.unseen])

    def read_at_seen(self, ctx: Context) -> bool:
        """Whether the window's concept is to be read at its seen rows alone.

        Only when the loss rose where the inputs left the reference: the unseen rows' loss above
        the seen rows' at z >= SEEN_Z (none seen: nothing to compare). A relation changed
        everywhere raises both, and a hundred seen rows too few to show the rise significantly
        must not clear it (a 6-hour wine log whose labels turned on 12% of rows at the onset:
        Brier 0.070 -> 0.147 on its 102 seen rows, z 2.0, against 0.169 on all 816).

        When they reach the window's end (SEEN_END_SHARE of its last quarter, by time, and
        MIN_SEEN_ROWS in all): a relation that changed anywhere after the onset shows at the seen
        rows of the last quarter. Seen rows only at the start of a window dated early say nothing
        of a change later in it (a relation changed 11 hours after a detected onset, its only seen
        rows, 3% of the window, before the change): then only when the window's own loss did not
        rise inside it (`rose_inside`), for a relation that changed at the onset and stays shows
        nowhere but against the reference, and the reference held none of these inputs; a bike log
        whose 4-hour reference saw neither the afternoon's hours nor its warmth read MAE 2.18 ->
        3.59 "concept drift" while its few seen rows held 2.49 (cycles seed 168, onset found).
        That second reading needs the unseen values to be of inputs the model reads (influence >
        0.1): a day counter or an id the model ignores leaves every row unseen, and a relation
        changed at the onset would then be read nowhere."""
        at_seen = self.seen_to_the_end(ctx)
        if at_seen is not None:
            return at_seen
        if float(self.unseen_read.mean()) <= UNSEEN_SHARE:
            return False  # an input the model does not read (a counter, an id) says nothing of its loss
        return not rose_inside(ctx, self.rows)

    def seen_to_the_end(self, ctx: Context) -> bool | None:
        """True when the rise sits at the unseen rows and the seen ones reach the window's end
        (`read_at_seen`); False when the rise does not sit at the unseen rows; None when the seen
        rows are too few or end early, so that they say nothing of the window's end."""
        if int((~self.unseen).sum()) < MIN_SEEN_ROWS:
            return None
        loss = ctx.cur_loss[self.rows]
        if LossStats.of(loss[self.unseen]).z_worse(LossStats.of(loss[~self.unseen])) < SEEN_Z:
            return False  # the rise does not sit at the unseen rows: a few seen rows lack the power to clear it
        if float((~self.unseen[(3 * self.unseen.size) // 4 :]).mean()) >= SEEN_END_SHARE:
            return True
        return None


def rose_inside(ctx: Context, rows: np.ndarray) -> bool:
    """Whether the window's loss rose from its first half to its second (labelled `rows`, time
    order) at the same inputs and in the same cell of the local day (`condition_cells`): each
    later row against its MATCH_K nearest earlier rows (the influential inputs, `match_features`,
    as `input_adjusted_loss` matches the reference), their mean loss its base, scored by
    `drop_magnitude` at z >= 3. A relation that changed after an onset dated early raises the
    later half's loss at inputs the earlier half also held; a loss that follows the hours raises
    it only at inputs the earlier half did not hold, which are not compared. The hour matched as
    a number is not enough: a bike log's afternoon rows at 15:00 found their nearest earlier
    inputs at 12:00-13:00 of the same warmth and lost more towards the evening peak (cycles seed
    168, onset found), and a Monday's commute was matched to a Sunday's (seed 31: the workday
    flag, constant in the reference, showed no influence there and was not matched). Too few
    later rows with close earlier inputs: no rise shown (nothing inside the window is
    comparable). No influential input at all: undecided, taken as risen."""
    feats = match_features(ctx)
    if not feats:
        return True
    half = rows.size // 2
    early, late = rows[:half], rows[half:]
    k = min(MATCH_K, early.size - 1)
    if k < 1 or late.size < MIN_SEEN_ROWS:
        return False
    cells = condition_cells(ctx)
    points = scaled_input_points(ctx, feats, early, late, sides=(False, False), cells=cells)
    _, _, j, keep = _close_neighbours(points, early.size, k)
    if int(keep.sum()) < MIN_SEEN_ROWS:
        return False
    later = LossStats.of(ctx.cur_loss[late[keep]])
    base = ctx.cur_loss[early][j[keep]].mean(axis=1)
    spread = max(LossStats.of(ctx.cur_loss[early]).var, later.var)  # each base figure is a mean of k rows
    return drop_magnitude(ctx, later, LossStats(base.size, float(base.mean()), spread)) > 0.0


CONDITION_SLOTS = 2  # cells per local hour in `condition_cells`


def condition_cells(ctx: Context) -> tuple[np.ndarray, np.ndarray] | None:
    """Each reference and window row's cell of the local day: its half hour, and whether it is a
    weekend day (`calendar_cells.local_cells`); None when no input states the log's zone.

    Conditions a model's loss follows beside its inputs: the rush hour peaks inside an hour (a
    reference that ended at 16:30 held the half hour before a 17:30 peak, and its window's
    16:30-17:00 rows lost 60% more at the same logged hour and weather; cycles seed 235), and a
    weekend's traffic is another kind of day. Rows of different cells are not the same
    conditions."""
    offset = ctx.log_utc_offset()
    if offset is None:
        return None
    return (
        local_cells(ctx.reference.timestamp, offset, CONDITION_SLOTS),
        local_cells(ctx.current.timestamp, offset, CONDITION_SLOTS),
    )


@dataclass(frozen=True)
class HeldConditions:
    """The window's labelled rows read (`held_conditions`) as an `UnseenWindow` whose unseen rows are
    those without close reference inputs in their cell, and the reference's mean loss at the
    MATCH_K nearest inputs of each held row."""

    window: UnseenWindow
    base: np.ndarray


def held_conditions(ctx: Context) -> HeldConditions | None:
    """The window's rows whose conditions the reference held as densely as its own: their MATCH_K
    nearest labelled reference inputs (the influential inputs, in the same cell of the local day,
    `condition_cells`) lie within the MATCH_QUANTILE of the reference's own MATCH_K-th neighbour
    distances, without `input_adjusted_loss`'s slack; None when at most UNSEEN_SHARE of the
    window's rows lie beyond.

    Each input may lie inside the reference's range while their combination does not: a forest
    fitted on three cool days and judged over two warm weeks met mornings warmer than any the
    reference held; matched within the slack, those rows' bases came from cooler mornings and
    read MAE +16-31% against +0% at the rows held as densely as the reference's own (cycles seed
    156, onset found; its held rows end days before its window does, so they do not clear it).
    And a reference that ended at 16:30 held no row of the cells after it (seed 235)."""
    feats = match_features(ctx)
    if not feats or ctx.current.label is None or ctx.reference.label is None:
        return None
    r_idx, c_idx = _labelled_samples(ctx)
    k = min(MATCH_K, r_idx.size - 1)
    if k < 1 or c_idx.size < 4 * MIN_SEEN_ROWS:
        return None
    points = scaled_input_points(ctx, feats, r_idx, c_idx, cells=condition_cells(ctx))
    _, _, j, held = _close_neighbours(points, r_idx.size, k, slack=1.0)
    if float((~held).mean()) <= UNSEEN_SHARE:
        return None
    base = ctx.ref_loss[r_idx][j[held]].mean(axis=1)
    return HeldConditions(UnseenWindow(c_idx, ~held, ~held), base)


def unseen_window(ctx: Context) -> UnseenWindow | None:
    """The window's labelled rows and which of them hold input values its reference never held,
    when more than UNSEEN_SHARE do; None otherwise.

    A model's loss follows inputs that follow the clock: fraud is likelier at night, a building's
    load follows the working hours. A window at hours (or on a weekday, at temperatures) the
    reference never held loses what the model loses there, which the reference cannot say: a
    24-hour payments log whose first eight hours were the reference read "the relation between
    inputs and labels changed" (Brier 0.045 -> 0.061) over the night after, while its rows at the
    reference's own hours scored 0.028 (cycles seed 6, onset found). An input counts when more
    than UNSEEN_SHARE of the window's labelled rows hold a value outside the reference's range of
    it (a number beyond its labelled rows' extremes, a category it never held; every input, since
    an input the reference holds nearly constant shows no influence there); one by one, for a
    small reference's range on each of many inputs leaves a window's rows beyond one of them or
    another with nothing moved (a wine log's 7% beyond one input's range). Rows at such values
    are unseen, and "quality fell everywhere" is then read on the
    others (`UnseenWindow.read_at_seen`)."""
    if ctx.reference.label is None or ctx.current.label is None:
        return None
    r_idx = ctx.ref_sample[np.isfinite(ctx.ref_loss[ctx.ref_sample])]
    c_idx = ctx.cur_sample[np.isfinite(ctx.cur_loss[ctx.cur_sample])]
    if r_idx.size < 2 or c_idx.size < 4 * MIN_SEEN_ROWS:
        return None
    unseen = np.zeros(c_idx.size, dtype=bool)
    unseen_read = np.zeros(c_idx.size, dtype=bool)
    for name, ref_v in ctx.reference.features.items():
        cur_v = ctx.current.features.get(name)
        if cur_v is None or isinstance(ref_v, Categorical) != isinstance(cur_v, Categorical):
            continue
        if isinstance(ref_v, Categorical):
            assert isinstance(cur_v, Categorical)
            rc, cc, cats = align_categorical(ref_v, cur_v)
            held = np.zeros(len(cats) + 1, dtype=bool)
            held[rc[r_idx][rc[r_idx] >= 0]] = True
            codes = cc[c_idx]
            out = (codes >= 0) & ~held[np.maximum(codes, 0)]
        else:
            assert not isinstance(cur_v, Categorical)
            r = ref_v[r_idx]
            r = r[np.isfinite(r)]
            if r.size == 0:
                continue
            x = cur_v[c_idx]
            out = np.isfinite(x) & ((x < r.min()) | (x > r.max()))
        if float(out.mean()) <= UNSEEN_SHARE:
            continue  # a sparse reference's edges on one of many inputs, not a window beyond it
        unseen |= out
        if ctx.influence.get(name, 0.0) > 0.1:
            unseen_read |= out
    if float(unseen.mean()) <= UNSEEN_SHARE:
        return None
    return UnseenWindow(c_idx, unseen, unseen_read)


@dataclass(frozen=True)
class ConditionGap(LossGap):
    """A version's labelled rows against its baseline's labelled rows of other times, at the same
    conditions (`condition_gap`)."""

    n: int  # the version's rows held by the baseline's (their base read)
    loss_version: float  # ... their loss
    loss_baseline: float  # the baseline's mean loss at their MATCH_K nearest inputs of the same cell
    z: float
    held_share: float  # of the version's labelled rows, the share held
    cells: bool  # matched within the cells of the local day (the log states its zone)


def condition_gap(
    ctx: Context,
    base_rows: np.ndarray,
    rows: np.ndarray,
    sides: tuple[bool, bool],
    losses: tuple[np.ndarray, np.ndarray] | None = None,
) -> ConditionGap | None:
    """The version's labelled `rows` against the baseline's labelled `base_rows` (log indices of the
    reference or the window, `sides` as in `scaled_input_points`) at the same conditions, when the
    two sets served at different ones: None when at most UNSEEN_SHARE of the version's rows lie
    beyond the conditions the baseline's rows held (`held_conditions`' test: the same cell of the
    local day, the MATCH_K nearest baseline inputs within the MATCH_QUANTILE of the baseline's own
    MATCH_K-th neighbour distances).

    A version that took over at another time served other hours, another kind of day, other
    weather, and a model's loss follows them: a refit of the same energy model that served a
    Friday and a Saturday read MAE 4.36 -> 4.77 against the baseline's Tuesday and Wednesday
    (cycles seed 67), one that took the morning peak after a night's reference 2.14 -> 3.39 (seed
    195). Each held row is given the baseline's mean loss at its nearest inputs of the same cell:
    what the baseline lost at those conditions."""
    feats, cells = condition_features(ctx)
    loss = losses or (ctx.ref_loss if sides[0] else ctx.cur_loss, ctx.ref_loss if sides[1] else ctx.cur_loss)
    base_rows = _at_most_mix_rows(base_rows[np.isfinite(loss[0][base_rows])])
    rows = _at_most_mix_rows(rows[np.isfinite(loss[1][rows])])
    k = min(MATCH_K, base_rows.size - 1)
    if not feats or k < 1 or rows.size < MIN_SEEN_ROWS:
        return None
    points = scaled_input_points(ctx, feats, base_rows, rows, sides=sides, cells=cells)
    _, _, j, held = _close_neighbours(points, base_rows.size, k, slack=1.0)
    share = float(held.mean())
    if share >= 1.0 - UNSEEN_SHARE:
        return None
    if not held.any():
        return ConditionGap(0, math.nan, math.nan, 0.0, share, cells is not None)
    mine = LossStats.of(loss[1][rows[held]])
    base = loss[0][base_rows][j[held]].mean(axis=1)
    spread = max(LossStats.of(loss[0][base_rows]).var, mine.var)  # each base figure is a mean of k rows
    z = mine.z_worse(LossStats(base.size, float(base.mean()), spread))
    return ConditionGap(mine.n, mine.mean, float(base.mean()), z, share, cells is not None)


def condition_features(ctx: Context) -> tuple[list[str], tuple[np.ndarray, np.ndarray] | None]:
    """The inputs and the cells of the local day (`condition_cells`) that match rows at the same
    conditions; beside the cells, an input that names the local day is left out (`_names_the_day`)."""
    feats, cells = match_features(ctx), condition_cells(ctx)
    if cells is not None:
        feats = [f for f in feats if not _names_the_day(ctx, f)]
    return feats, cells


def _names_the_day(ctx: Context, name: str) -> bool:
    """Whether a categorical input names the local day (a day name, one value per local day):
    beside the cells of the local day it would make every other day another condition, while
    the cell's kind of day is the condition a model's loss follows (a Friday is a weekday)."""
    r, c = ctx.reference.features.get(name), ctx.current.features.get(name)
    if not isinstance(r, Categorical) or not isinstance(c, Categorical):
        return False
    rc, cc, cats = align_categorical(r, c)
    ts, codes = np.concatenate([ctx.reference.timestamp, ctx.current.timestamp]), np.concatenate([rc, cc])
    return names_local_days(cats, codes, ts, ctx.log_utc_offset(), ctx.onset)
