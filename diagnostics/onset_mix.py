"""Onset of a change in the inputs' distribution: shares of rows, weighed by the rows they hold.

A data fault whose labels are withheld shows only in the inputs, and a moderate one moves an
input's mean little against the scatter of its per-bin means: a 0/1 flag inverted (its share
0.35 -> 0.65), a category remapped onto another existing one (`tablet` sent as `web`, a fifth of
the rows), a numeric input clipped at its 70th percentile. The per-bin mean series of
`onset.detect_onset` weighs every time bin alike, so on diurnal traffic the night's bins of
three or four rows set the residual variance: the flag's step scored 11.9 over a line, 8.4
beyond the daily cycle, 5.6 after the cause series' penalty, under the bar of 6, and the window
fell back to the last quarter (9 hours late, verdict "none").

Here each input is cut into cells on the log's head (the top categories plus "other" and
"missing"; a numeric input's distinct values when it has a dozen or fewer, else its head's
deciles plus "missing"), the rows are counted per (time bin, cell) in one `bincount` per column,
and every cell's share is fitted by weighted least squares, each bin weighed by its rows: a
baseline of a line plus the daily cycle the log's span has seen (`phase.cycle_columns`), and a
step on top of it at every split at once (`weighted_steps`). The strength is sqrt(gain / the
weighted residual variance), so a share's chance scatter is its binomial one however sparse the
night's bins, and a daily rhythm or a wandering level shows as scatter the step must clear.

A join that hands every entity another entity's value (keys off by one) moves no distribution:
each numeric input held per entity (a user's lifetime value) is followed as the share of rows
whose value equals the value their entity carried in the log's head (`kept_rows`); it drops from
about 1 to about 0 at the join.

`onset.detect_onset` counts a column's strongest step as a cause series (divided by 1.5) and lets
these series in only when one reaches the bar and says more than every series already scanned:
a log those date stays dated as it was, unless an input's mix steps more clearly still.
"""

from __future__ import annotations

import numpy as np

from diagnostics.log import Categorical, PredictionLog
from diagnostics.phase import cycle_columns
from diagnostics.stats import bins_at, quantile_edges

MAX_CATEGORIES = 9  # a categorical's top categories in the head get a cell each, the rest share "other"
MAX_DISTINCT = 12  # a numeric input with this many distinct head values or fewer: a cell per value
DECILES = 10
MIN_HEAD_ROWS = 50
MAX_PURITY = 0.99  # a column whose bins hold one value each (this share of its rows) takes turns by time
MIN_CELL_SHARE = 0.02  # a cell this rare in the head is no share to scan (its step would be a few rows)
MAX_COLUMNS = 64
ENTITY_MIN_DISTINCT = 50  # an entity key: this many distinct values in the log's head
MAX_ENTITY_COLUMNS = 3
KEPT_MIN_ROWS = 100  # rows of entities seen in the head, before the middle of the log
KEPT_MIN_SHARE = 0.9  # an attribute held per entity: this share of them kept the head's value
BLOCKS = 20  # the residuals' long-run variance is read off this many blocks of consecutive bins
LINE_Z = 3.0  # the step must add this much over a line and a parabola (a slow drift is no step)


def mix_codes(values: np.ndarray | Categorical, head: int) -> tuple[np.ndarray, list[str]] | None:
    """Each row's cell (cut on the first `head` rows) and the cells' names; None when no cut fits.

    A numeric input with at most `MAX_DISTINCT` distinct head values (a flag, a rating, a count of
    a few values) is cut at its values, anything else in "other"; a finer one at its head's deciles
    (a value clipped at the 70th percentile empties the top three). Missing rows have a cell.
    """
    if isinstance(values, Categorical):
        codes = values.codes
        present = codes[:head] >= 0
        if int(present.sum()) < MIN_HEAD_ROWS:
            return None
        counts = np.bincount(codes[:head][present], minlength=len(values.categories))
        top = np.argsort(-counts)[:MAX_CATEGORIES]
        top = top[counts[top] > 0]
        lookup = np.full(len(values.categories), len(top), dtype=np.int64)  # other
        lookup[top] = np.arange(len(top))
        cells = np.where(codes >= 0, lookup[np.maximum(codes, 0)], len(top) + 1)
        return cells, [f"={values.categories[i]}" for i in top] + [" other", " missing"]
    v = np.asarray(values, dtype=np.float64)
    h = v[:head][np.isfinite(v[:head])]
    if h.size < MIN_HEAD_ROWS:
        return None
    hs = np.sort(h)  # one sort for the distinct values and the deciles
    distinct = hs[np.concatenate(([True], hs[1:] != hs[:-1]))]
    if distinct.size < 2:
        return None
    if distinct.size <= MAX_DISTINCT:
        pos = np.searchsorted(distinct, v)
        hit = (pos < distinct.size) & (distinct[np.minimum(pos, distinct.size - 1)] == v)
        cells = np.where(hit, pos, distinct.size)
        names = [f"={x:g}" for x in distinct] + [" other"]
    else:
        edges = quantile_edges(hs, DECILES)
        if edges.size == 0:
            return None
        cells = bins_at(edges, v)
        names = [f" bin {i} of {edges.size + 1}" for i in range(edges.size + 1)]
    cells = np.where(np.isnan(v), len(names), cells)
    return cells.astype(np.int64), [*names, " missing"]


def weighted_steps(
    shares: np.ndarray, weights: np.ndarray, cycle: np.ndarray, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per column of `shares` (bins x cells): the best step's first bin and its strength.

    Every bin is weighed by its rows (`weights`; bins without rows are left out). The step at
    each first bin in [lo, hi) is fitted on top of a level and the daily cycle (`cycle`, bins x
    c), all by least squares in closed form on the sqrt-weighted series (one QR of the baseline,
    one matrix product for every split and cell); the best split's gain is its strength's square,
    in units of the residual variance around it. Two guards keep what is no step out:

    - a slow drift is a smooth curve (sessions growing all day move a decile's share along a
      bend, not a line): the same step must also add `LINE_Z`^2 residual variances over a
      baseline with a line and a parabola, else the strength is 0;
    - a wandering level (a market level's day-to-day wander) leaves residuals that run in long
      stretches, which a binomial or white scatter understates: the variance is the larger of
      the residuals' own and their long-run one (sums over `BLOCKS` blocks of consecutive bins,
      the variance a block's sum would have if the bins were independent).
    """
    used = np.flatnonzero(weights > 0)
    k = shares.shape[1]
    zero = (np.zeros(k, dtype=np.int64), np.zeros(k))
    lo, hi = max(lo, 1), min(hi, shares.shape[0] - 1)
    if used.size < cycle.shape[1] + 3 * BLOCKS or hi <= lo:
        return zero
    sw = np.sqrt(weights[used])[:, None]
    x = used.astype(np.float64)
    level = np.column_stack([np.ones(used.size), cycle[used]]) * sw
    xs = (x - x.mean()) / max(float(np.ptp(x)), 1.0)
    with_line = np.column_stack([level, xs * sw[:, 0], (xs**2 - float(np.mean(xs**2))) * sw[:, 0]])
    y = shares[used] * sw
    splits = np.arange(lo, hi)
    raw_steps = (used[:, None] >= splits[None, :]).astype(np.float64) * sw

    def gains(basis: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        q, _ = np.linalg.qr(basis)
        resid = y - q @ (q.T @ y)
        steps = raw_steps - q @ (q.T @ raw_steps)
        norm = np.einsum("ij,ij->j", steps, steps)
        with np.errstate(invalid="ignore", divide="ignore"):
            cross = resid.T @ steps  # cells x splits
            gain = np.where(norm[None, :] > 1e-9, cross**2 / norm[None, :], 0.0)
            beta = np.where(norm[None, :] > 1e-9, cross / norm[None, :], 0.0)
        return gain, resid, steps, beta

    gain0, resid0, steps0, beta0 = gains(level)
    gain1, _, _, _ = gains(with_line)
    best = np.argmax(gain0, axis=1)
    cells = np.arange(k)
    # residuals around each cell's best step, in bin order
    fitted = resid0 - steps0[:, best] * beta0[cells, best][None, :]
    dof = max(used.size - level.shape[1] - 1, 1)
    s2 = np.einsum("ij,ij->j", fitted, fitted) / dof
    blocks = np.array_split(np.arange(used.size), BLOCKS)
    sums = np.stack([fitted[b].sum(axis=0) for b in blocks])  # blocks x cells
    long_run = (sums**2).sum(axis=0) / used.size
    s2 = np.maximum(s2, long_run)
    g0, g1 = gain0[cells, best], gain1[cells, best]
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(s2 > 0, np.sqrt(np.maximum(g0, 0.0) / np.maximum(s2, 1e-300)), 0.0)
        z = np.where(g1 / np.maximum(s2, 1e-300) >= LINE_Z**2, z, 0.0)
    return splits[best].astype(np.int64), z


def entity_heads(entity: Categorical, head: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Per entity key seen in the log's first `head` rows: its code and its first row there; None
    unless the column is a key (`ENTITY_MIN_DISTINCT` distinct values in the head)."""
    codes = entity.codes
    seen = codes[:head] >= 0
    if int(seen.sum()) < MIN_HEAD_ROWS:
        return None
    first_codes, first_at = np.unique(codes[:head][seen], return_index=True)
    if first_codes.size < ENTITY_MIN_DISTINCT:
        return None
    return first_codes, np.flatnonzero(seen)[first_at]


def kept_rows(
    entity: Categorical, heads: tuple[np.ndarray, np.ndarray], values: np.ndarray, head: int, middle: int
) -> np.ndarray | None:
    """1 where a row's value equals the one its entity carried first in the log's head, 0 where it
    does not, NaN for rows of entities the head never saw (and each entity's own first row).

    None unless the attribute is held per entity: among the rows after the head and before
    `middle` whose entity the head saw, at least `KEPT_MIN_SHARE` carry the head's value.
    """
    codes = entity.codes
    first_codes, first_rows = heads
    v = np.asarray(values, dtype=np.float64)
    held = np.full(len(entity.categories), np.nan)
    held[first_codes] = v[first_rows]
    ref = np.where(codes >= 0, held[np.maximum(codes, 0)], np.nan)
    ref[first_rows] = np.nan  # an entity's first head row is its own reference
    known = np.isfinite(ref) & np.isfinite(v)
    kept = np.where(known, (v == ref).astype(np.float64), np.nan)
    early = kept[head:middle]
    early = early[np.isfinite(early)]
    if early.size < KEPT_MIN_ROWS or float(early.mean()) < KEPT_MIN_SHARE:
        return None
    return kept


def mix_steps(
    log: PredictionLog,
    rows: slice,
    bs: np.ndarray,
    n_bins: int,
    centres: np.ndarray,
    head_fraction: float,
    skip: frozenset[str] = frozenset(),
) -> list[tuple[float, int, str]]:
    """The strongest step of each input's cell shares, and of each entity-held input's kept share:
    (strength, first bin, series name), strongest first. Inputs in `skip` (clock inputs) are left
    out. The bin is the onset (a share of a few rows per bin gives no row-level split to trust).
    """
    n = bs.shape[0]
    head = int(n * head_fraction)
    cyc = cycle_columns(centres)
    basis = np.column_stack(cyc) if cyc else np.zeros((n_bins, 0))
    lo, hi = int(head_fraction * n_bins), int(0.95 * n_bins)
    rows_per_bin = np.bincount(bs, minlength=n_bins).astype(np.float64)
    out: list[tuple[float, int, str]] = []
    names = [k for k in log.features if k not in skip][:MAX_COLUMNS]
    # every column's cell shares share the bins' weights: one weighted fit for all of them
    blocks: list[np.ndarray] = []
    owners: list[str] = []
    for name in names:
        col = log.features[name]
        cut = mix_codes(col.take(np.arange(len(log))[rows]) if isinstance(col, Categorical) else col[rows], head)
        if cut is None:
            continue
        cells, labels = cut
        k = len(labels)
        counts = np.bincount(bs * k + cells, minlength=n_bins * k).reshape(n_bins, k).astype(np.float64)
        if float(counts.max(axis=1).sum()) >= MAX_PURITY * float(counts.sum()):
            continue  # one value per bin all along: a calendar column (a day's name) takes turns by time
        head_share = counts[:lo].sum(axis=0) / max(float(counts[:lo].sum()), 1.0)
        scan = np.flatnonzero(head_share >= MIN_CELL_SHARE)
        if scan.size == 0:
            continue
        blocks.append(counts[:, scan] / np.maximum(rows_per_bin, 1.0)[:, None])
        owners += [name] * scan.size
    if blocks:
        at, z = weighted_steps(np.column_stack(blocks), rows_per_bin, basis, lo, hi)
        best: dict[str, tuple[float, int]] = {}
        for owner, zi, ai in zip(owners, z.tolist(), at.tolist(), strict=True):
            if zi > best.get(owner, (-1.0, 0))[0]:
                best[owner] = (zi, ai)
        out += [(zi, ai, f"{owner}:mix") for owner, (zi, ai) in best.items()]
    entities = sorted(
        (k for k, v in log.features.items() if isinstance(v, Categorical) and k not in skip),
        key=lambda k: -len(log.features[k].categories),  # type: ignore[union-attr]
    )[:MAX_ENTITY_COLUMNS]
    for ent in entities:
        ecol = log.features[ent]
        assert isinstance(ecol, Categorical)
        sampled = ecol.take(np.arange(len(log))[rows])
        heads = entity_heads(sampled, head)
        if heads is None:
            continue
        for name in names:
            col = log.features[name]
            if isinstance(col, Categorical):
                continue
            kept = kept_rows(sampled, heads, col[rows], head, n // 2)
            if kept is None:
                continue
            ok = np.isfinite(kept)
            totals = np.bincount(bs[ok], minlength=n_bins).astype(np.float64)
            hits = np.bincount(bs[ok], weights=kept[ok], minlength=n_bins)
            with np.errstate(invalid="ignore", divide="ignore"):
                share = (hits / np.maximum(totals, 1.0))[:, None]
            at, z = weighted_steps(share, totals, basis, lo, hi)
            out.append((float(z[0]), int(at[0]), f"{name}:kept"))
    out.sort(key=lambda c: -c[0])
    return out
