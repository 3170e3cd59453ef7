"""Whether the rows an input's drift moved carry the performance drop.

Why: a moved input and a concept change both lower performance, and a drift finding's score
measures how far the input moved, not how much of the drop it explains. A partial fault (one
station's rain gauge stuck at 0: half the traffic, its share of dry readings 0.58 -> 0.78) scored
0.40 as drift, and "concept drift" took the verdict at 0.60 with the rest of the drop. The rows
decide it: against the reference's loss in each of the input's bins, the bins that gained rows
lost more than the other bins did (a difference in differences). A concept change everywhere
raises every bin alike; a fault raises the loss where its rows went.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from diagnostics.context import Context, loss_name
from diagnostics.findings import Finding
from diagnostics.model_checks import LossStats

MIN_OTHER_SHARE = 0.15  # the bins that did not gain rows must hold this share: the rise everywhere
MIN_ROWS = 50  # labelled rows on each side of the comparison
GAIN = 1.1  # a bin gained rows: 10% more of the window, and one point of it
CARRY_Z = 3.0  # the extra rise in the gaining bins, in standard errors
MIN_CARRIED = 0.5  # the share of the drop the input's rows must carry to be named for it
CARRY_SCORE = 0.6  # a finding carrying the whole drop scores this (a verdict at a moderate effect)
MIN_BIN_ROWS = 30  # labelled current rows a bin needs for its mean rise to join the line
MIN_MOVED = 0.05  # the fault moved this share of rows at least, and the bins' moved shares differ by it


@dataclass(frozen=True)
class Carried:
    share: float  # of the window's loss increase, 0..1
    z: float
    gained: float  # share of the current window in the bins that gained rows
    rise_there: float  # loss rise over the reference's per-bin loss, in the gaining bins
    rise_elsewhere: float
    rise_where_left: float | None = None  # in the bins that lost rows, when they were read


def carried(ctx: Context, name: str) -> Carried | None:
    """How much of the loss increase the rows in `name`'s gaining bins carry beyond the rest."""
    rc, cc = ctx.ref_bin_codes.get(name), ctx.cur_bin_codes.get(name)
    if rc is None or cc is None or rc.size == 0 or cc.size == 0:
        return None
    rl, cl = ctx.ref_loss[ctx.ref_sample], ctx.cur_loss[ctx.cur_sample]
    ok_r, ok_c = np.isfinite(rl), np.isfinite(cl)
    if int(ok_r.sum()) < MIN_ROWS or int(ok_c.sum()) < 2 * MIN_ROWS:
        return None
    nb = int(max(rc.max(), cc.max())) + 1
    p_ref = np.bincount(rc, minlength=nb) / rc.size
    p_cur = np.bincount(cc, minlength=nb) / cc.size
    n_lab = np.bincount(rc[ok_r], minlength=nb)
    ref_mean = float(rl[ok_r].mean())
    bin_loss = np.bincount(rc[ok_r], weights=rl[ok_r], minlength=nb) / np.maximum(n_lab, 1)
    bin_loss = np.where(n_lab >= 5, bin_loss, ref_mean)  # a bin the reference barely saw: its mean
    total = float(cl[ok_c].mean()) - ref_mean
    if not total > 0:
        return None
    gaining = (p_cur > GAIN * p_ref) & (p_cur - p_ref > 0.01)
    codes = cc[ok_c]
    rise = cl[ok_c] - bin_loss[codes]
    there = gaining[codes]
    n_there, n_else = int(there.sum()), int((~there).sum())
    if n_there < MIN_ROWS or n_else < max(MIN_ROWS, MIN_OTHER_SHARE * codes.size):
        return None  # no rows left to show how much every bin rose (a date column: all new)
    a, b = LossStats.of(rise[there]), LossStats.of(rise[~there])
    extra = a.mean - b.mean
    z = a.z_worse(b)
    # the gaining bins' extra rise, plus what the new mix of bins costs at the reference's losses
    mix = float(((p_cur - p_ref) * bin_loss).sum())
    share = (extra * n_there / codes.size + max(mix, 0.0)) / total
    # A fault's rows also land in bins that did not gain enough to count (a fifth of a three-humped
    # input moved by 1.3 sd lands in the next hump), so "elsewhere" holds some of its rise and the
    # share above is a floor (55-59% where the fault carried it all). The bins that *lost* rows hold
    # none of them: their rise is what a change everywhere would show. Read there when they are
    # enough rows, the share is the part of the window's rise they do not show.
    # Those bins hold moved rows too (a row moved up by 1 sd from the low tail lands in a bin that
    # still lost rows overall), so only the bins that lost the most are read, the fewest of them
    # that hold the rows asked for: where the input lost a fifth of its rows, none moved in.
    losing = (p_cur * GAIN < p_ref) & (p_ref - p_cur > 0.01)
    need = max(MIN_ROWS, MIN_OTHER_SHARE * codes.size)
    left: float | None = None
    if int(losing[codes].sum()) >= need:
        with np.errstate(invalid="ignore", divide="ignore"):
            kept = np.where(losing, p_cur / p_ref, np.inf)
        order = np.argsort(kept, kind="stable")
        held = np.cumsum(np.bincount(codes, minlength=nb)[order])
        lost = np.zeros(nb, dtype=bool)
        lost[order[: int(np.searchsorted(held, need)) + 1]] = True
        left = float(rise[lost[codes]].mean())
        share = max(share, 1.0 - max(left, 0.0) / total)
    unmoved = _unmoved_rise(codes, rise, p_ref, p_cur, nb)
    if unmoved is not None:
        share = max(share, 1.0 - max(unmoved, 0.0) / total)
    return Carried(float(np.clip(share, 0.0, 1.0)), z, float(p_cur[gaining].sum()), a.mean, b.mean, left)


def _unmoved_rise(codes: np.ndarray, rise: np.ndarray, p_ref: np.ndarray, p_cur: np.ndarray, nb: int) -> float | None:
    """The loss rise of the rows the fault did not move, read across every bin at once.

    A fault that moved a share f of the rows leaves (1 - f) of each bin's reference share in
    place: `p_cur = (1 - f) p_ref + f q`, so in bin b the unmoved rows are `u_b = (1 - f) / r_b`
    of its current rows (`r_b = p_cur / p_ref`), and the bin that kept the least holds the
    fewest moved ones (`f` is read there: `1 - min r_b`). Each bin's mean rise is
    `c u_b + m (1 - u_b)`: a weighted least-squares line through the bins' rises against their
    moved share gives c, the rise of unmoved rows, at `u = 1` (a change everywhere: c is the whole
    rise; a fault's own rows: c is about 0). The losing bins' mean alone is a floor of the share
    carried: below a shift every bin holds some moved rows (a fifth of the rows moved by 1 sd read
    0.47-0.50 there). None when the bins' moved shares hardly differ (nothing to fit)."""
    n_b = np.bincount(codes, minlength=nb).astype(np.float64)
    ok = (n_b >= MIN_BIN_ROWS) & (p_ref > 0)
    if int(ok.sum()) < 3:
        return None
    r = p_cur[ok] / p_ref[ok]
    kept = float(min(r.min(), 1.0))
    if kept > 1.0 - MIN_MOVED:
        return None
    moved = 1.0 - np.clip(kept / r, 0.0, 1.0)
    w = n_b[ok]
    mean_rise = np.bincount(codes, weights=rise, minlength=nb)[ok] / w
    mw = float((w * moved).sum() / w.sum())
    spread = float((w * (moved - mw) ** 2).sum())
    if spread <= 0.0 or float(moved.max() - moved.min()) < MIN_MOVED:
        return None
    rw = float((w * mean_rise).sum() / w.sum())
    slope = float((w * (moved - mw) * (mean_rise - rw)).sum()) / spread
    return rw - slope * mw


def carried_drops(ctx: Context, findings: Sequence[Finding], used: float) -> tuple[list[Finding], float]:
    """Data findings whose moved rows carry most of the performance drop, raised to a verdict.

    Returns the findings (each raised finding replaced in place) and the largest share carried,
    which the concept check counts as explained elsewhere. Only an input the model reads
    (influence >= `used`) and its strongest finding are considered.
    """
    best: dict[str, int] = {}
    for i, f in enumerate(findings):
        if f.cause != "data" or f.check == "input_quality" or ctx.influence.get(f.subject, 0.0) < used:
            continue
        if f.subject not in best or f.score > findings[best[f.subject]].score:
            best[f.subject] = i
    out = list(findings)
    top = 0.0
    for name, i in best.items():
        c = carried(ctx, name)
        if c is None or c.z < CARRY_Z or c.share < MIN_CARRIED:
            continue
        top = max(top, c.share)
        f = out[i]
        text = (
            f" The rows it moved carry {100 * c.share:.0f}% of the performance drop: {loss_name(ctx.task)} rose "
            f"{c.rise_there:+.3g} in its value ranges that gained rows ({100 * c.gained:.0f}% of the window) against "
            f"{c.rise_elsewhere:+.3g} elsewhere"
            + (f" ({c.rise_where_left:+.3g} where rows left)." if c.rise_where_left is not None else ".")
        )
        details = {**f.details, "carried_share": c.share, "carried_z": c.z}
        out[i] = replace(f, score=max(f.score, CARRY_SCORE * c.share), evidence=f.evidence + text, details=details,
                         severity="")
    return out, top
