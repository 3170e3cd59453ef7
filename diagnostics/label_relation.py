"""An input that stopped saying anything about the label: values joined to the wrong rows.

A column filled from another request (a stale cache, a join on the wrong key) keeps its own
distribution, so every per-feature check sees nothing, and when it relates to no other input
(`feature_relations` needs partners) nothing sees the break but the labels: the loss rises
"everywhere" and the verdict was concept drift or a segment, whose answer (retrain) would
learn the broken column. What changes is the label's dependence on that column: it was clear
in the reference and is gone now, while the label's dependence on the other inputs held. A
concept change that makes one input irrelevant and nothing else is far rarer than a bad join.

Dependence is measured per column on its segment bins (reference deciles or top categories,
missing values a bin of their own) over the bins both windows fill, so a window that only holds
some hours of an hour-like input is compared on those hours: a contingency chi-square for
labels with few values (classes, 0/1), Kruskal-Wallis on label ranks for numbers. Its
non-centrality per row is the strength; the drop is judged against the chi-square the current
window would show if the reference's strength held. One vectorized pass per column.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.stats import rankdata

from diagnostics.calendar_cells import CELLS, local_cells
from diagnostics.context import Context
from diagnostics.feature_relations import MAX_FEATURES, MIN_DROP, STRONG, rank_correlations
from diagnostics.findings import Finding
from diagnostics.log import Categorical, take_rows
from diagnostics.model_checks import LossStats

MIN_ROWS = 200  # labelled rows per window
MIN_BIN_ROWS = 20  # rows a bin needs in both windows to be compared
MAX_CLASSES = 10  # label values kept apart (the rest pooled)
CLEAR_Z = 10.0  # the reference's dependence: this many standard errors above independence
COLLAPSED = 0.25  # the current strength is at most this share of the reference's ...
DROP_Z = 3.0  # ... and below the held relation's expectation by this many standard errors (one
# test per clearly related input, ten or so in a log: Bonferroni at 1% is z 3.1)
OTHERS_HELD = 0.6  # an input keeping this share of its dependence held (so did the model's use of the column)
MIN_INFLUENCE = 0.05  # a column the model does not read is no cause of its errors
# the model still reads a column whose label dependence collapsed when its own dependence kept
# OTHERS_HELD, or at least PRED_KEPT and PRED_MARGIN more than the label's share: a column
# that carried part of another input's information (a debt ratio raised for low incomes) loses
# that part for the model too once its values come from other rows (0.48 of the model's
# dependence against 0.0 of the label's), while a window in which a clock-tied input means
# nothing loses both alike (0.2 and 0.19)
PRED_KEPT = 0.35
PRED_MARGIN = 0.3
# a join breaks the label's link to one column, not its level: a value from another row of the
# same distribution leaves the mean prediction, and so the mean signed error, where it was. A
# signed error that moved by this share of the absolute error's rise (and beyond noise) is the
# label itself moving against the inputs: a concept change, even when it lands on a few values
# of one column and so cancels that column's marginal dependence (a segment's prices x1.9)
LEVEL_SHARE = 0.5
LEVEL_Z = 4.0


def _label_keys(
    ref: np.ndarray | Categorical, cur: np.ndarray | Categorical
) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """Per-row label keys of both windows on one scale, and whether they are discrete.

    Classes (or numbers with at most MAX_CLASSES values in the reference) become class keys
    0..MAX_CLASSES, shared by name/value across the windows (a value the reference lacks is
    pooled with the rarest), -1 where unlabelled; other numbers stay numbers (NaN unlabelled).
    """
    if isinstance(ref, Categorical) != isinstance(cur, Categorical):
        return None
    if isinstance(ref, Categorical):
        assert isinstance(cur, Categorical)
        r_names = [str(c) for c in ref.categories]
        rk = ref.codes.astype(np.int64)
        lookup = {c: i for i, c in enumerate(r_names)}
        to_ref = np.array([lookup.get(str(c), len(r_names)) for c in cur.categories] + [-1], dtype=np.int64)
        ck = np.where(cur.codes >= 0, to_ref[np.where(cur.codes >= 0, cur.codes, -1)], -1)
        n_keys = len(r_names) + 1
    else:
        rv, cv = np.asarray(ref, dtype=np.float64), np.asarray(cur, dtype=np.float64)
        values = np.unique(rv[np.isfinite(rv)])
        if values.size == 0:
            return None  # a training reference without predictions (or labels) has nothing to compare
        if values.size > MAX_CLASSES:
            return rv, cv, False

        def key(v: np.ndarray) -> np.ndarray:
            ok = np.isfinite(v)
            pos = np.searchsorted(values, np.where(ok, v, 0.0))
            hit = ok & (pos < values.size) & (values[np.minimum(pos, values.size - 1)] == v)
            return np.where(hit, pos, np.where(ok, values.size, -1)).astype(np.int64)

        rk, ck = key(rv), key(cv)
        n_keys = values.size + 1
    counts = np.bincount(rk[rk >= 0], minlength=n_keys)
    order = np.argsort(-counts)
    remap = np.full(n_keys, MAX_CLASSES, dtype=np.int64)
    remap[order[:MAX_CLASSES]] = np.arange(min(MAX_CLASSES, n_keys))
    r_out = np.where(rk >= 0, remap[np.maximum(rk, 0)], -1).astype(np.float64)
    c_out = np.where(ck >= 0, remap[np.maximum(ck, 0)], -1).astype(np.float64)
    return r_out, c_out, True


def _statistic(
    bins: np.ndarray, y: np.ndarray, discrete: bool, n_bins: int, min_rows: int = MIN_ROWS
) -> tuple[float, float, int]:
    """(chi-square-like statistic, degrees of freedom, rows) of y's dependence on the bins."""
    n = bins.shape[0]
    k = int(np.count_nonzero(np.bincount(bins, minlength=n_bins)))
    if n < min_rows or k < 2:
        return 0.0, 0.0, n
    if discrete:
        c = int(y.max()) + 1
        table = np.bincount(bins * c + y.astype(np.int64), minlength=n_bins * c).reshape(n_bins, c).astype(float)
        table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
        if table.shape[1] < 2:
            return 0.0, 0.0, n
        expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / n
        chi2 = float(((table - expected) ** 2 / expected).sum())
        return chi2, float((table.shape[0] - 1) * (table.shape[1] - 1)), n
    r = rankdata(y)
    counts = np.bincount(bins, minlength=n_bins).astype(float)
    sums = np.bincount(bins, weights=r, minlength=n_bins)
    filled = counts > 0
    h = 12.0 / (n * (n + 1.0)) * float((sums[filled] ** 2 / counts[filled]).sum()) - 3.0 * (n + 1.0)
    _, tie_counts = np.unique(y, return_counts=True)
    ties = 1.0 - float((tie_counts.astype(float) ** 3 - tie_counts).sum()) / max(float(n) ** 3 - n, 1.0)
    return h / max(ties, 1e-9), float(k - 1), n


def _compare(
    rb: np.ndarray, yr: np.ndarray, cb: np.ndarray, yc: np.ndarray, disc: bool, n_bins: int, ok_rows: bool = False
) -> tuple[float, float, float] | None:
    """(z of the reference's dependence, current strength / reference strength, z of the drop)."""
    if ok_rows:  # keep the rows where this target is present
        mr = yr >= 0 if disc else np.isfinite(yr)
        mc = yc >= 0 if disc else np.isfinite(yc)
        rb, yr, cb, yc = rb[mr], yr[mr], cb[mc], yc[mc]
    chi_r, df_r, n_r = _statistic(rb, yr, disc, n_bins)
    chi_c, df_c, n_c = _statistic(cb, yc, disc, n_bins)
    if df_r <= 0 or df_c <= 0 or n_r < MIN_ROWS or n_c < MIN_ROWS:
        return None
    z_ref = (chi_r - df_r) / math.sqrt(2.0 * df_r)
    lam_r = max(chi_r - df_r, 0.0) / n_r
    lam_c = max(chi_c - df_c, 0.0) / n_c
    ratio = lam_c / lam_r if lam_r > 0 else 1.0
    z_drop = (df_c + n_c * lam_r - chi_c) / math.sqrt(2.0 * (df_c + 2.0 * n_c * lam_r))
    return z_ref, ratio, z_drop


def _on_their_own_rows(ctx: Context, names: list[str]) -> set[str]:
    """Columns among `names` that kept their rank correlations with the other inputs.

    A value joined to another row (a stale cache, a wrong key) keeps nothing of the row's other
    inputs, so a column that moved with its partners before and still does is the row's own
    value: the label stopped following it, the join did not break (concept drift that zeroed
    some weights; three correlated inputs losing the label at once). A column with fewer partners
    cannot be told apart this way and stays a suspect, unless two or more such columns on their
    own rows lost the label with it.
    """
    if not names:
        return set()
    ref, cur = ctx.reference.features, ctx.current.features
    numeric = [
        k for k in ref
        if k in cur and not isinstance(ref[k], Categorical) and not isinstance(cur[k], Categorical)
    ]
    numeric.sort(key=lambda k: ctx.influence_raw.get(k, 0.0), reverse=True)
    listed = numeric[:MAX_FEATURES] + [k for k in names if k in numeric[MAX_FEATURES:]]
    if len(listed) < 2 or ctx.ref_sample.size < MIN_ROWS or ctx.cur_sample.size < MIN_ROWS:
        return set()
    r_ref, _, r_cur, _ = rank_correlations(ctx, listed)
    held: dict[str, int] = {}  # column -> its strong partners, all of them kept
    for name in names:
        if name not in listed:
            continue
        j = listed.index(name)
        rr, rc = np.nan_to_num(r_ref[j]), np.nan_to_num(r_cur[j])
        partners = np.abs(rr) >= STRONG
        partners[j] = False
        drop = np.abs(rr[partners]) - rc[partners] * np.sign(rr[partners])
        if float(drop.max(initial=0.0)) < MIN_DROP / 2:
            held[name] = int(partners.sum())
    own = {k for k, n in held.items() if n >= PARTNERS}
    # several inputs on their own rows lost the label together: the relation changed, and an input
    # with one partner or none, none of them broken, is read the same way
    return set(held) if len(own) >= PARTNERS else own


PARTNERS = 2  # strong relations a column needs before its held relations clear its join


NEIGHBOUR_SHARE = 0.25  # the adjacent row's label follows the column with this share of the reference's own
NEIGHBOUR_Z = 6.0  # and clearly: standard errors above independence


def _neighbour_share(
    ctx: Context, name: str, ref_label: np.ndarray | Categorical, cur_label: np.ndarray | Categorical
) -> float:
    """How much more the label of the adjacent row follows this column now than in the reference,
    as a share of the label's own dependence on it in the reference.

    A column whose values slid by one row (a batch call's answers zipped back one place off, a
    feature frame shifted against its keys) carries each request's neighbour's value: its label
    stops following it and the label of the row it came from starts to. When the column is the
    label's only clear input there is no held relation to tell that from a concept change, but
    this is direct evidence of the slide: the rows of a log are separate requests, so a
    neighbour's label tells nothing about a row's inputs unless they moved. Measured like the
    own dependence (same bins, same statistic) with the row before and the row after.
    """
    bins = ctx.bins.get(name)
    rc, cc = ctx.ref_bin_codes.get(name), ctx.cur_bin_codes.get(name)
    if bins is None or rc is None or cc is None:
        return 0.0
    own = _label_keys(take_rows(ref_label, ctx.ref_sample), take_rows(cur_label, ctx.cur_sample))
    if own is None:
        return 0.0
    ok_own = own[0] >= 0 if own[2] else np.isfinite(own[0])
    chi, df, n = _statistic(rc.astype(np.int64)[ok_own], own[0][ok_own], own[2], bins.n_bins)
    lam_own = max(chi - df, 0.0) / max(n, 1)
    if df <= 0 or lam_own <= 0:
        return 0.0
    best = 0.0
    for step in (-1, 1):
        lam: list[float] = []
        z = 0.0
        for log, idx, codes in ((ctx.reference, ctx.ref_sample, rc), (ctx.current, ctx.cur_sample, cc)):
            if log.label is None:
                return 0.0
            nb = idx + step
            inside = (nb >= 0) & (nb < len(log))
            keys = _label_keys(take_rows(ref_label, ctx.ref_sample), take_rows(log.label, np.clip(nb, 0, len(log) - 1)))
            if keys is None:
                return 0.0
            y, disc = keys[1], keys[2]
            ok = inside & ((y >= 0) if disc else np.isfinite(y))
            chi, df, n = _statistic(codes.astype(np.int64)[ok], y[ok], disc, bins.n_bins)
            if df <= 0:
                return 0.0
            lam.append(max(chi - df, 0.0) / max(n, 1))
            z = (chi - df) / math.sqrt(2.0 * df)
        if z >= NEIGHBOUR_Z:
            best = max(best, (lam[1] - lam[0]) / lam_own)
    return best


def _label_level_moved(ctx: Context) -> bool:
    """Did the signed error (label - prediction) move with most of the absolute error's rise?

    Numbers only (regression values, 0/1 labels against scores); class names have no level.
    """
    sides = []
    for log, idx in ((ctx.reference, ctx.ref_sample), (ctx.current, ctx.cur_sample)):
        lab, pred = log.label, log.prediction
        if lab is None or isinstance(lab, Categorical) or isinstance(pred, Categorical):
            return False
        res = (np.asarray(lab, dtype=np.float64) - np.asarray(pred, dtype=np.float64))[idx]
        res = res[np.isfinite(res)]
        if res.size < MIN_ROWS:
            return False
        sides.append(res)
    r, c = sides
    rise = float(np.abs(c).mean() - np.abs(r).mean())
    shift = float(c.mean() - r.mean())
    z = LossStats.of(c).z_worse(LossStats.of(r))  # the signed error's move, either way
    return rise > 0 and abs(shift) >= LEVEL_SHARE * rise and abs(z) >= LEVEL_Z


CELL_ROWS = 2 * MIN_BIN_ROWS  # labelled rows a cell of the local day needs to read a dependence inside it
UNHELD_SHARE = 0.5  # the window's labelled rows at cells the reference held too few of, above this share


def _through_the_clock(
    rb: np.ndarray, yr: np.ndarray, r_cells: np.ndarray, c_cells: np.ndarray, disc: bool, n_bins: int
) -> bool:
    """Whether the label followed the column only through the clock, and the window holds other hours.

    A temperature rises through the morning as a city's commute does: over a reference of a few
    night and morning hours the bike counts follow the temperature's bins clearly (the commute
    and the warmth climb together), while at any one hour they hardly do. A window of the whole
    day, or of the morning after a reference of the evening, holds that link no more: 'temperature
    no longer tells anything about the label ... its values look joined to the wrong rows' on
    healthy 36-72-hour logs (the cycles checker's seeds 178, 85). A join breaks a row's own link,
    which shows inside the hour too. The reference's dependence is read within each cell of the
    local day (`calendar_cells.local_cells`: the hour and the kind of day; a cell of `CELL_ROWS`
    labelled rows at least), its statistics summed across cells: when that is no more than chance
    (under `DROP_Z` standard errors) the reference's clear link was the clock's, and when more
    than `UNHELD_SHARE` of the window's labelled rows lie at cells the reference held too few of,
    the window's hours, not a join, moved it. A window at the reference's own hours (a multi-day
    log) keeps the finding: there the clock cannot have moved the link.
    """
    counts = np.bincount(r_cells, minlength=CELLS)
    if not c_cells.size or float((counts[c_cells] < CELL_ROWS).mean()) <= UNHELD_SHARE:
        return False  # the window's rows at the reference's own hours: the clock cannot have moved the link
    chi, df = 0.0, 0.0
    for cell in np.flatnonzero(counts >= CELL_ROWS):  # at most 48 cells, one statistic each
        m = r_cells == cell
        c, d, _ = _statistic(rb[m], yr[m], disc, n_bins, min_rows=CELL_ROWS)
        chi, df = chi + c, df + d
    return df > 0 and (chi - df) / math.sqrt(2.0 * df) < DROP_Z


def label_relation_findings(ctx: Context, offset: Callable[[], float | None] | None = None) -> list[Finding]:
    """Columns whose link to the label collapsed while the model still reads them (see the module).

    `offset`: the log's UTC offset (an hour-of-day or day-name input's), read only when a column
    collapsed, to tell a link the clock carried (`_through_the_clock`).
    """
    ref_label, cur_label = ctx.reference.label, ctx.current.label
    if ref_label is None or cur_label is None:
        return []
    keys = _label_keys(take_rows(ref_label, ctx.ref_sample), take_rows(cur_label, ctx.cur_sample))
    if keys is None:
        return []
    y_ref, y_cur, disc = keys
    ok_ref = y_ref >= 0 if disc else np.isfinite(y_ref)
    ok_cur = y_cur >= 0 if disc else np.isfinite(y_cur)
    if int(ok_ref.sum()) < MIN_ROWS or int(ok_cur.sum()) < MIN_ROWS:
        return []
    # the prediction's dependence on each column, on the same rows: the model still reading a
    # column as before while the label stopped following it is a stale join's signature; a
    # window of a few hours in which an input tied to the label only through the clock (a
    # temperature) no longer relates to either is not
    pred_keys = _label_keys(
        take_rows(ctx.reference.prediction, ctx.ref_sample), take_rows(ctx.current.prediction, ctx.cur_sample)
    )
    stats: dict[str, tuple[float, float, float]] = {}  # name -> (z of reference, strength ratio, z of drop)
    pred_ratio: dict[str, float] = {}
    for name, bins in ctx.bins.items():
        rc, cc = ctx.ref_bin_codes.get(name), ctx.cur_bin_codes.get(name)
        if rc is None or cc is None:
            continue
        rb, cb = rc.astype(np.int64)[ok_ref], cc.astype(np.int64)[ok_cur]
        shared = (np.bincount(rb, minlength=bins.n_bins) >= MIN_BIN_ROWS) & (
            np.bincount(cb, minlength=bins.n_bins) >= MIN_BIN_ROWS
        )
        if int(shared.sum()) < 3:
            continue  # a window in other bins (a unit change, stuck values) is the drift checks' case
        in_r, in_c = shared[rb], shared[cb]
        found = _compare(rb[in_r], y_ref[ok_ref][in_r], cb[in_c], y_cur[ok_cur][in_c], disc, bins.n_bins)
        if found is None:
            continue
        stats[name] = found
        if pred_keys is not None:
            p_ref, p_cur, p_disc = pred_keys
            p_found = _compare(
                rb[in_r], p_ref[ok_ref][in_r], cb[in_c], p_cur[ok_cur][in_c], p_disc, bins.n_bins, ok_rows=True
            )
            if p_found is not None:
                pred_ratio[name] = p_found[1]
    clear = {k: v for k, v in stats.items() if v[0] >= CLEAR_Z}
    collapsed = [
        k for k, (_, ratio, z_drop) in clear.items()
        if ratio <= COLLAPSED and z_drop >= DROP_Z and ctx.influence.get(k, 0.0) >= MIN_INFLUENCE
    ]
    if collapsed and _label_level_moved(ctx):
        return []  # the label moved as a whole: the relation changed, no join broke
    own_rows = _on_their_own_rows(ctx, collapsed)
    zone = offset() if collapsed and offset is not None else None
    if zone is not None:
        r_cells = local_cells(ctx.reference.timestamp[ctx.ref_sample][ok_ref], zone)
        c_cells = local_cells(ctx.current.timestamp[ctx.cur_sample][ok_cur], zone)
        for name in collapsed:
            rb = ctx.ref_bin_codes[name].astype(np.int64)[ok_ref]
            if _through_the_clock(rb, y_ref[ok_ref], r_cells, c_cells, disc, ctx.bins[name].n_bins):
                own_rows.add(name)  # the window's hours moved the link the clock carried
    out: list[Finding] = []
    for name, (z_ref, ratio, z_drop) in clear.items():
        influence = ctx.influence.get(name, 0.0)
        if name not in collapsed or name in own_rows:
            continue
        kept = pred_ratio.get(name, 0.0)
        if kept < OTHERS_HELD and (kept < PRED_KEPT or kept - ratio < PRED_MARGIN):
            continue  # the model's own use of the column moved as much: the window, not the join
        # another input held when it kept most of its dependence or lost no more than noise
        # (a weakly related input's point ratio scatters widely on a few thousand labels)
        others = [v[1] >= OTHERS_HELD or v[2] < DROP_Z for k, v in clear.items() if k != name]
        neighbour = 0.0
        if not others:  # the label's only clear input: nothing held to compare it with, unless the rows slid
            neighbour = _neighbour_share(ctx, name, ref_label, cur_label)
            if neighbour < NEIGHBOUR_SHARE:
                continue
        elif float(np.mean(others)) < 0.5:
            continue  # the label moved away from most inputs: the relation itself changed
        sure = 0.5 + 0.5 * float(np.clip((z_drop - DROP_Z) / 5.0, 0.0, 1.0))
        score = sure * (0.3 + 0.7 * influence)
        out.append(
            Finding(
                "data",
                "relation_break",
                name,
                score,
                f"Feature '{name}' no longer tells anything about the label: its dependence on it fell to "
                + f"{100 * ratio:.0f}% of the reference's ({z_drop:.1f} standard errors below what the reference "
                + (
                    f"predicts) while the label's dependence on {sum(others)} of {len(others)} other clearly "
                    "related input(s) held"
                    if others
                    else f"predicts) while the label of the row next to it follows it with {100 * neighbour:.0f}% "
                    "of that dependence"
                )
                + " and the model reads it as before: its values look joined to the wrong rows or replaced.",
                {
                    "change": "label_relation",
                    "strength_ratio": ratio,
                    "drop_z": z_drop,
                    "reference_z": z_ref,
                    "others_held": float(np.mean(others)) if others else 0.0,
                    "prediction_ratio": pred_ratio.get(name, 0.0),
                    "influence": influence,
                    "neighbour_share": neighbour,
                },
            )
        )
    return out
