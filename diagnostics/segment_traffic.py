"""One segment's requests fell: a categorical input's value whose share of the rows collapsed.

A broken upstream for one country, one app version's client failing to call, one partner's
feed stopping: the log keeps the other segments' requests at their usual rate, so the total
rate falls by only that segment's share (a 15% segment to 10% of normal moves the total by
13%, inside a diurnal day) and every distribution check sees a mild mix change. The on-call
engineer needs "requests from country=BR fell to 10% of normal".

A value's rate is judged against the rest of the column's rows (the others are the clock the
segment should keep pace with, so a quiet night or a busy holiday moves both), at the current
window's hours of the day (time zones: Tokyo's share of a global service cycles every day), and
against the window just before the onset; the fall must hold against both, be far beyond the
count's own hour-to-hour noise in the reference, and the lost rows must not have moved to
another value of the column (a renamed, remapped or emptied value is a data fault, which the
data checks name).
"""

from __future__ import annotations

import math

import numpy as np

from diagnostics.context import Context
from diagnostics.findings import Finding
from diagnostics.log import Categorical, PredictionLog, align_categorical
from diagnostics.phase import HOUR_S, hour_of_day
from diagnostics.stats import floor_quotient

MIN_SHARE = 0.02  # a value holding less of the reference's rows is not a segment anyone routes
MIN_EXPECTED = 50.0  # rows the segment should have sent since the onset
MAX_RATIO = 0.5  # the segment fell to half its normal rate or less ...
MIN_Z = 6.0  # ... far beyond its count's noise
MAX_ABSORBED = 0.3  # share of the lost rows one other value (or new/missing values) may have gained
MAX_REST_ABSORBED = 0.5  # share of them the other values together may have gained over their own rate
MIN_HOUR_ROWS = 20  # reference rows of the others an hour of the day needs to set that hour's ratio
MAX_SHARE = 0.9  # a value holding nearly every row has no others to keep pace with
MIN_PURITY = 0.9  # share of rows that one value holds within an hour of the log (a day-of-week column)


def _counts(groups: np.ndarray, codes: np.ndarray, k: int, n_groups: int = 24) -> np.ndarray:
    """Rows per (group, value) in one pass: shape (n_groups, k), missing in the last column.

    The groups are the hours of the day, or for `_purity` the hours of the log."""
    idx = groups * k + np.where(codes < 0, k - 1, codes)
    return np.bincount(idx, minlength=n_groups * k).reshape(n_groups, k).astype(np.float64)


def _hour_cover(start: float, end: float) -> np.ndarray:
    """Seconds of [start, end) in each UTC hour of the day (24 values, one pass over the hours)."""
    first = math.floor(start / HOUR_S)
    slots = np.arange(first, math.floor(end / HOUR_S) + 1, dtype=np.float64)
    lo = np.maximum(slots * HOUR_S, start)
    hi = np.minimum((slots + 1) * HOUR_S, end)
    return np.bincount((slots % 24).astype(np.int64), weights=np.maximum(hi - lo, 0.0), minlength=24)


def _dispersion(ts: np.ndarray, is_v: np.ndarray, ratio_h: np.ndarray) -> float:
    """Pearson dispersion of the value's hourly counts in the reference around its hour-of-day model.

    Requests come in bursts (a campaign, a batch client), so a segment's count varies more than
    a Poisson count would; the z of the fall is divided by this (never below 1).
    """
    b = floor_quotient(ts - ts[0], HOUR_S).astype(np.int64)
    nb = int(b[-1]) + 1 if b.size else 0
    if nb < 6:
        return 1.0
    v = np.bincount(b, weights=is_v.astype(np.float64), minlength=nb)
    others = np.bincount(b, weights=(~is_v).astype(np.float64), minlength=nb)
    h = hour_of_day(ts[0] + (np.arange(nb) + 0.5) * HOUR_S)
    exp = others * ratio_h[h]
    ok = exp >= 5.0
    if int(ok.sum()) < 6:
        return 1.0
    chi2 = float((((v[ok] - exp[ok]) ** 2) / exp[ok]).sum())
    return max(1.0, chi2 / float(ok.sum()))


def _purity(groups: np.ndarray, codes: np.ndarray, k: int) -> float:
    """Share of the rows that the commonest value of their group holds (1: the group sets the value)."""
    counts = _counts(groups, codes, k, int(groups.max()) + 1)
    return float(counts.max(axis=1).sum() / max(counts.sum(), 1.0))


def follows_the_date(ts: np.ndarray, codes: np.ndarray, k: int) -> bool:
    """A day-of-week or date column: one value per hour of the log, but not per hour of the day.

    Its values take turns with the calendar, so a window of other days "loses" the reference's
    day (a window on Monday has no Sunday rows); the hour-of-day comparison cannot see that. A
    column set by the hour of the day (lunch / dinner) is compared at the same hours and kept.
    """
    if ts.size < 2:
        return False
    hours = floor_quotient(ts - ts.min(), HOUR_S).astype(np.int64)
    return _purity(hours, codes, k) >= MIN_PURITY and _purity(hour_of_day(ts), codes, k) < MIN_PURITY


def _column_findings(ctx: Context, name: str, ref: Categorical, cur: Categorical) -> list[Finding]:
    r_codes, c_codes, cats = align_categorical(ref, cur)
    k = len(cats) + 1
    r_ts, c_ts = ctx.reference.timestamp, ctx.current.timestamp
    if follows_the_date(np.concatenate([r_ts, c_ts]), np.concatenate([r_codes, c_codes]), k):
        return []
    rh, ch = hour_of_day(r_ts), hour_of_day(c_ts)
    R, C = _counts(rh, r_codes, k), _counts(ch, c_codes, k)
    r_total = R.sum()
    shares = R[:, :-1].sum(axis=0) / max(r_total, 1.0)
    look = max(float(c_ts[-1]) - ctx.onset, HOUR_S)
    adjacent = r_ts >= ctx.onset - look
    A = np.bincount(np.where(r_codes[adjacent] < 0, k - 1, r_codes[adjacent]), minlength=k).astype(np.float64)
    # each hour of the day's time in the current window against the reference's: the others'
    # rows at the reference's rate per hour of the day, scaled to the current window's hours
    r_cover, c_cover = _hour_cover(float(r_ts[0]), ctx.onset), _hour_cover(ctx.onset, float(c_ts[-1]))
    rate_scale = np.where(r_cover >= 0.5 * HOUR_S, c_cover / np.maximum(r_cover, 1.0), 0.0)
    if float(c_cover[r_cover < 0.5 * HOUR_S].sum()) > 0.1 * float(c_cover.sum()):
        return []  # the reference misses hours the window holds: no rate to expect
    out: list[Finding] = []
    for v in np.flatnonzero((shares >= MIN_SHARE) & (shares <= MAX_SHARE)):
        r_others_h = R.sum(axis=1) - R[:, v]
        c_others_h = C.sum(axis=1) - C[:, v]
        overall = float(R[:, v].sum() / max(r_others_h.sum(), 1.0))
        # the value's rate per row of the others at each hour of the day; an hour the reference
        # barely holds takes the whole reference's ratio
        ratio_h = np.where(r_others_h >= MIN_HOUR_ROWS, R[:, v] / np.maximum(r_others_h, 1.0), overall)
        expected = float((c_others_h * ratio_h).sum())
        observed = float(C[:, v].sum())
        if expected < MIN_EXPECTED:
            continue
        rel_hour = observed / expected
        adj_others = float(A.sum() - A[v])
        rel_adjacent = (observed / max(float(c_others_h.sum()), 1.0)) / max(A[v] / max(adj_others, 1.0), 1e-12)
        rel = max(rel_hour, rel_adjacent)
        if rel > MAX_RATIO:
            continue
        phi = _dispersion(r_ts, r_codes == v, ratio_h)
        z = (expected - observed) / math.sqrt(expected * phi)
        if z < MIN_Z:
            continue
        # where did the lost rows go? a pure fall leaves the other values' mix at its usual
        # hours-of-day shares; a rename or remap hands them to one value (or to new or missing ones)
        lost = expected - observed
        r_rest = R.copy()
        r_rest[:, v] = 0.0
        rest_total_h = r_rest.sum(axis=1)
        share_h = r_rest / np.maximum(rest_total_h, 1.0)[:, None]
        exp_rest = (c_others_h[:, None] * share_h).sum(axis=0)
        obs_rest = C.sum(axis=0)
        obs_rest[v] = exp_rest[v] = 0.0
        known = shares > 0
        gained = np.append(obs_rest[:-1][known] - exp_rest[:-1][known], 0.0)
        new_or_missing = float(obs_rest[:-1][~known].sum() + obs_rest[-1] - exp_rest[-1])
        if max(float(gained.max()), new_or_missing) >= MAX_ABSORBED * lost:
            continue
        # and the others as a whole kept their own rate: a mix that moved (one theme replacing
        # another) hands the lost rows to the rest, whose count then rises by them (both against
        # the reference's rows per hour of the day, scaled to the window's hours)
        lost_abs = float((R[:, v] * rate_scale).sum()) - observed
        gained_abs = float(c_others_h.sum()) - float((r_others_h * rate_scale).sum())
        if lost_abs <= 0 or gained_abs >= MAX_REST_ABSORBED * lost_abs:
            continue
        mag = float(np.clip((0.6 - rel) / 0.35, 0.0, 1.0))
        value = str(cats[v])
        out.append(
            Finding(
                "service",
                "segment_traffic",
                f"{name}={value}",
                mag,
                f"Requests from {name}={value} fell to {rel_hour:.0%} of normal since the onset while the other "
                f"{name} values kept their rate: {observed:.0f} rows against {expected:.0f} expected at these hours "
                f"({shares[v]:.1%} of the rows before; a broken upstream or client for that segment).",
                {"column": name, "value": value, "rows_current": observed, "rows_expected": expected,
                 "ratio_hour_matched": rel_hour, "ratio_adjacent": rel_adjacent, "z": z, "dispersion": phi,
                 "share_reference": float(shares[v])},
            )
        )
    return out


def segment_traffic_findings(ctx: Context) -> list[Finding]:
    """Values of a categorical input whose rows fell to a fraction of their rate (see module doc)."""
    if ctx.reference.timestamp.size < 2 * MIN_EXPECTED or ctx.current.timestamp.size < MIN_EXPECTED:
        return []
    if float(ctx.reference.timestamp[-1]) > ctx.onset:  # another period: no rate to compare with
        return []
    out: list[Finding] = []
    for name, ref in ctx.reference.features.items():
        cur = ctx.current.features.get(name)
        if isinstance(ref, Categorical) and isinstance(cur, Categorical):
            out.extend(_column_findings(ctx, name, ref, cur))
    out.sort(key=lambda f: f.score, reverse=True)
    return out[:1]


def _loglik(k: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Binomial log-likelihood of k hits in n rows at rate p (0 log 0 = 0), elementwise."""
    out: np.ndarray = np.nan_to_num(k * np.log(p)) + np.nan_to_num((n - k) * np.log1p(-p))
    return out


def segment_traffic_onset(log: PredictionLog) -> float | None:
    """When one value's requests fell, for a log whose onset nothing else dated.

    A segment's fall moves no distribution enough for the onset scan, which then leaves the
    last quarter of the log as the window: the fall may have started a day earlier. Per value
    of each categorical input (a `MIN_SHARE` of the rows or more), its hourly count among all
    rows is a binomial series; the hour that splits it best into two rates (the largest
    likelihood ratio, from cumulative sums) is the candidate when the later rate is at most
    `MAX_RATIO` of the earlier. The caller keeps it only when a diagnosis at that time finds the
    fall with all its guards (hours of the day, the adjacent window, where the rows went).
    """
    ts = log.timestamp
    if ts.size < 4 * MIN_EXPECTED:
        return None
    hours = floor_quotient(ts - ts[0], HOUR_S).astype(np.int64)
    n_h = int(hours[-1]) + 1
    if n_h < 8:
        return None
    total = np.bincount(hours, minlength=n_h).astype(np.float64)
    best: tuple[float, float] | None = None  # (likelihood ratio, time)
    for col in log.features.values():
        if not isinstance(col, Categorical):
            continue
        share = np.bincount(col.codes[col.codes >= 0], minlength=len(col.categories)) / float(ts.size)
        for v in np.flatnonzero(share >= MIN_SHARE):
            hits = np.bincount(hours[col.codes == v], minlength=n_h).astype(np.float64)
            c_hits, c_rows = np.cumsum(hits)[:-1], np.cumsum(total)[:-1]
            a_hits, a_rows = hits.sum() - c_hits, total.sum() - c_rows
            with np.errstate(invalid="ignore", divide="ignore"):
                p1, p2 = c_hits / c_rows, a_hits / a_rows
                p0 = np.full(p1.shape, hits.sum() / total.sum())
                llr = (
                    _loglik(c_hits, c_rows, p1) + _loglik(a_hits, a_rows, p2)
                    - _loglik(c_hits + a_hits, c_rows + a_rows, p0)
                )
            # a fall, in a later part holding at least two hours and an earlier at least six
            ok = (p2 <= MAX_RATIO * p1) & (np.arange(1, n_h) >= 6) & (np.arange(1, n_h) <= n_h - 2)
            if not ok.any():
                continue
            i = int(np.argmax(np.where(ok, llr, -np.inf)))
            if best is None or llr[i] > best[0]:
                best = (float(llr[i]), float(ts[0]) + (i + 1) * HOUR_S)
    return None if best is None else best[1]
