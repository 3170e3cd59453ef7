"""Whether an input's move on a short log of unseen hours is carried by its companion inputs: a mix of rows, not a feed.

A log shorter than a day whose window holds hours its reference never held has no earlier day
of the same hours to say what an input that follows the clock does then: a bundled set's rows
drawn in another mix as the hour turns (the cycles checker's breast-cancer logs, whose first
input's rank is tilted towards the evening). Its distribution moves as far as a broken feed's
would, and the wave-free and glide readings (`phase`) judge the input alone. A changed mix of
rows moves each input of the rows together, as the reference's rows relate them; a feed's fault
moves one column and leaves the others where they were. The input less its linear fit on the
other numeric inputs (fitted on the reference's rows; hour-of-day inputs are no companions, they
move with any window, and a companion whose window sits beyond the reference's range has no
fitted relation there) must have moved by at most `MIX_SHARE` (a fifth) of the input's own move,
with the power to see that share (`FOLLOW_Z` standard errors), and its spread by at most that
share (a fifth of the rows moved, a cap or noise widen or narrow it). A linear fit of a curved
relation leaves some of a mix's move unexplained (3-6% on the cycles checker's breast-cancer
log, up to 15% on a squared size). Positive inputs are read in logs too, where sizes related by
a power (an area, a radius) lie on a line: carried to a window of larger tumours than the
reference held, the line in the values left the area a rest five times as wide (issue-23d). An
input without companions the reference relates to it (an office's occupancy, a demand beside
the weather) is judged as before.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from diagnostics.clock_features import hour_offset
from diagnostics.context import Context
from diagnostics.log import Categorical
from diagnostics.phase import HOUR_S, SMOOTH_RAMP_SD, SMOOTH_STEP_SD, smooth_through_onset

MIX_SHARE = 0.2  # of the input's move, the most left unexplained (a linear fit of a curved relation leaves some)
FOLLOW_Z = 3.29  # standard errors the unexplained move at that share must stand out by (alpha 0.001)
MIN_FOLLOW_ROWS = 200  # rows on each side of the onset


def _explained(move: float, unexplained: float, se: float, share: float) -> bool:
    """At most `share` of `move` left unexplained, with the power to see that share."""
    return abs(move) * share >= FOLLOW_Z * se and abs(unexplained) <= share * abs(move)


class _Scale(NamedTuple):
    """An input's standardization on the reference's rows, and whether the window's median lies in its range;
    its logs' standardization when every finite value is positive (`logs`: mean and sd), else None."""

    mean: float
    sd: float
    held: bool
    logs: tuple[float, float] | None = None


class MovedTogether:
    """The companions of one diagnosis's inputs (module docstring), each input read on first ask.

    Only each input's scale is kept between asks, never its standardized sample: 48 inputs of an
    80,000-row sample are 31 MB of float64, and the fit's design as many again (on a 1M-row log
    the two together were the diagnosis's peak, 40 MB above the next step's). Each ask
    standardizes the samples afresh into the design it fits (the same values, bit for bit), and
    reads the companions' scales as it needs them: the first companion missing where the input is
    known ends the ask (a log whose inputs miss 1% of their values reads one or two of them)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._scales: dict[str, _Scale | None] = {}

    def _scale(self, name: str) -> _Scale | None:
        if name not in self._scales:
            self._scales[name] = _scale(self._ctx, name)
        return self._scales[name]

    def companions_carried(self, name: str) -> bool:
        """Whether the other numeric inputs, related as in the reference, moved `name` as far as it moved.

        Read on the values as logged, and again in logs where the input is positive (each positive
        companion in logs too): sizes relate by powers (an area by a radius squared), which a line
        in logs fits and a line in the values does not (`_carried`)."""
        scale = self._scale(name)
        if scale is None:
            return False
        ctx = self._ctx
        n_ref = ctx.ref_sample.size
        x = _standardized(ctx, name, scale)
        ok = np.isfinite(x)
        r_ok, c_ok = ok[:n_ref], ok[n_ref:]
        if int(r_ok.sum()) < MIN_FOLLOW_ROWS or int(c_ok.sum()) < MIN_FOLLOW_ROWS:
            return False
        others = self._companions(name, ok)
        if not others:
            return False  # none, or one missing or infinite on a row of the input: its fit says nothing there
        if self._carried(x, others, r_ok, c_ok, logs=False):
            return True
        if scale.logs is None:
            return False
        return self._carried(_standardized(ctx, name, scale, logs=True), others, r_ok, c_ok, logs=True)

    def _carried(self, x: np.ndarray, others: list[str], r_ok: np.ndarray, c_ok: np.ndarray, logs: bool) -> bool:
        """Whether `x` (reference rows first) less its linear fit on `others` on the reference's rows
        moved by at most `MIX_SHARE` of `x`'s own move, with the power to see that share, and its
        spread by at most that share (a fifth of the rows moved, a cap or noise widen or narrow it).

        The spread is held to that share of its own size or, when the rest is a sliver of the input
        (a perimeter beside its radius: a rest of 0.035 of the input's spread, whose doubling is
        0.045 more), to that share of the input's move, the bar the mean's rest is held to: a fifth
        of the rows moved by two spreads widens the rest by about 0.8 of the input's spread."""
        n_ref = self._ctx.ref_sample.size
        # the reference's rows of the design (the fit), then the whole design (the rest): one alive at a time
        beta = np.linalg.lstsq(self._design(others, np.flatnonzero(r_ok), logs), x[:n_ref][r_ok], rcond=None)[0]
        res = x - self._design(others, None, logs) @ beta
        rr, rc = res[:n_ref][r_ok], res[n_ref:][c_ok]
        sd_r, sd_c = float(rr.std()), float(rc.std())
        move = float(x[n_ref:][c_ok].mean() - x[:n_ref][r_ok].mean())
        if not (sd_r > 0 and sd_c > 0):
            return False
        if abs(math.log(sd_c / sd_r)) > math.log1p(MIX_SHARE) and abs(sd_c - sd_r) > MIX_SHARE * abs(move):
            return False  # the rest of the input widened or narrowed: a fifth moved, a cap, noise
        se = math.sqrt(sd_r**2 / rr.size + sd_c**2 / rc.size)
        return _explained(move, float(rc.mean() - rr.mean()), se, MIX_SHARE)

    def related_through_onset(self, name: str) -> bool:
        """Whether `name` keeps its relation to the other numeric inputs through the onset, the relation
        read on the whole log: no step at the onset, no change of trend since, its rest as wide.

        A weather input that follows the clock moves with the others of its station: humidity falls
        as the temperature climbs through the morning. On a log under a day, a reference of an hour
        or two holds too little of either's swing for a relation fitted on it alone to be carried
        to the window (`companions_carried`: the temperature left the reference's range, and the
        slope read on it had a standard error of a third of the move it must explain), and the
        input's own wave is no help there either (a morning's humidity, noise of 6 on a wave of
        6-14 over the hours held, 'drifted: KS 0.417, median 77 -> 70' on a healthy 12-hour log).
        The window itself holds the relation across hours of the day the reference never saw. The
        input (standardized on the reference) is fitted on the whole log's rows by its companions
        with a step at the onset and a ramp from it (in hours): a feed's fault breaks the relation
        there (an offset is a step, a sensor that degrades a ramp, a fifth of the rows moved a step
        of a fifth of their move and a wider rest), while rows of other hours move the input along
        it. The relation holds when neither the step nor the ramp stands out of the fit's noise
        (`FOLLOW_Z` standard errors), the fit can see an offset of the input's reference spread and
        a ramp to twice it within an hour (`phase.SMOOTH_STEP_SD`, `SMOOTH_RAMP_SD`: the bars the
        smooth path through the onset is held to), and the rest keeps its spread within
        `MIX_SHARE`. Read on the rows where the input and every companion are finite (a missing
        reading breaks no relation); none the reference holds still, or too few rows a side: no claim."""
        scale = self._scale(name)
        if scale is None:
            return False
        ctx = self._ctx
        n_ref = ctx.ref_sample.size
        others = self._companions(name, None, held=False)
        x = _standardized(ctx, name, scale)
        ok = np.isfinite(x)
        for k in others:  # the rows every one of them holds: a missing reading is no relation broken
            companion = self._scale(k)
            assert companion is not None
            ok &= np.isfinite(_standardized(ctx, k, companion))
        n_b = int(ok[:n_ref].sum())
        if not others or n_b < MIN_FOLLOW_ROWS or int(ok[n_ref:].sum()) < MIN_FOLLOW_ROWS:
            return False
        ts = np.concatenate((ctx.reference.timestamp[ctx.ref_sample], ctx.current.timestamp[ctx.cur_sample]))[ok]
        after = np.zeros(ts.size)
        after[n_b:] = 1.0
        since = after * (ts - ctx.onset) / HOUR_S
        design = np.column_stack((self._design(others, np.flatnonzero(ok)), after, since))
        v = x[ok]
        # normal equations: the design's columns are standardized, and no second copy of it is made
        inv = np.linalg.pinv(design.T @ design)
        beta = inv @ (design.T @ v)
        rest = v - design @ beta
        carried = design[:, :-2] @ beta[:-2]  # the companions' share of the input
        del design
        if not np.isfinite(beta).all():
            return False
        sigma2 = float(rest @ rest) / max(v.size - beta.size, 1)
        se = np.sqrt(np.maximum(np.diag(inv)[-2:] * sigma2, 1e-300))
        if FOLLOW_Z * float(se[0]) > SMOOTH_STEP_SD or FOLLOW_Z * float(se[1]) > SMOOTH_RAMP_SD:
            return False  # too few or too noisy rows to see an offset of its spread or such a ramp
        if bool((np.abs(beta[-2:]) > FOLLOW_Z * se).any()):
            return False  # a step at the onset or a trend since it that the companions do not carry
        # and the companions carry the move itself: a fault can cancel what a linear fit of a curved
        # relation leaves of a healthy move (an age offset by its spread on a bundled set's evening
        # rows: a step of 0.29, 2.7 standard errors, where the healthy rows leave about -0.7)
        lever = np.array([1.0, float(since[n_b:].mean())])
        unexplained = float(lever @ beta[-2:])
        move = float(v[n_b:].mean() - v[:n_b].mean())
        if not _explained(move, unexplained, math.sqrt(float(lever @ inv[-2:, -2:] @ lever) * sigma2), MIX_SHARE):
            return False
        sd_b, sd_a = float(rest[:n_b].std()), float(rest[n_b:].std())
        if not (sd_b > 0 and sd_a > 0 and abs(math.log(sd_a / sd_b)) <= math.log1p(MIX_SHARE)):
            return False  # its rest widened or narrowed: a fifth of the rows moved, a cap, noise
        # the companions moved it with the clock, not at one moment: rows of another kind arriving
        # at the onset (a population drawn otherwise) step there together
        return smooth_through_onset(carried[:n_b], ts[:n_b], carried[n_b:], ts[n_b:])

    def _companions(self, name: str, ok: np.ndarray | None, held: bool = True) -> list[str]:
        """The companions of `name`: the other numeric inputs held in the reference's range (any the
        reference does not hold still, with `held` False), in the log's order; none when one is
        missing or infinite at a position in `ok` (the input's finite ones; not asked when None)."""
        ctx = self._ctx
        out: list[str] = []
        for k in ctx.reference.features:
            scale = self._scale(k) if k != name else None
            if scale is None or (held and not scale.held):
                continue
            if ok is not None and not np.isfinite(_standardized(ctx, k, scale)[ok]).all():
                return []
            out.append(k)
        return out

    def _design(self, others: list[str], rows: np.ndarray | None = None, logs: bool = False) -> np.ndarray:
        """A constant and the standardized `others`, one column each, at the sample positions `rows`
        (all when None), as `np.column_stack` lays them out; with `logs`, each positive one in logs."""
        ctx = self._ctx
        size = ctx.ref_sample.size + ctx.cur_sample.size if rows is None else rows.size
        out = np.empty((size, len(others) + 1))
        out[:, 0] = 1.0
        for j, k in enumerate(others, start=1):
            scale = self._scale(k)
            assert scale is not None
            z = _standardized(ctx, k, scale, logs and scale.logs is not None)
            out[:, j] = z if rows is None else z[rows]
        return out


def _sample(ctx: Context, name: str) -> np.ndarray:
    """The input's values at the windows' sample positions, reference rows first."""
    r, c = ctx.reference.features[name], ctx.current.features[name]
    assert not isinstance(r, Categorical) and not isinstance(c, Categorical)
    return np.concatenate((r[ctx.ref_sample], c[ctx.cur_sample])).astype(np.float64)


def _standardized(ctx: Context, name: str, scale: _Scale, logs: bool = False) -> np.ndarray:
    """The input's sample standardized on the reference's rows; with `logs` (its `scale.logs` set),
    its logs standardized likewise (missing and infinite values stay so)."""
    if not logs:
        return (_sample(ctx, name) - scale.mean) / scale.sd
    assert scale.logs is not None
    x = _sample(ctx, name)
    ok = np.isfinite(x)
    x[ok] = np.log(x[ok])
    return (x - scale.logs[0]) / scale.logs[1]


def _scale(ctx: Context, name: str) -> _Scale | None:
    """A numeric input's (not an hour of the day) standardization on the reference's rows of the
    windows' samples, and whether the window's median lies in the reference's range.

    Inputs the reference holds still (a constant, a workday flag on a short reference) carry
    nothing and are left out (None). A companion whose window sits beyond the reference's range (an
    office's occupancy at 0.5-1 after a night's 0-0.1) has no fitted relation there: a slope read
    on a reference's noise, carried 20 of its standard deviations out, explains anything by chance.
    (A window that reaches past the range with some rows, a bundled set's rows in another mix of
    hours, is read with it: the relation holds there as the rows' own.)"""
    r, c = ctx.reference.features[name], ctx.current.features.get(name)
    if isinstance(r, Categorical) or c is None or isinstance(c, Categorical):
        return None
    if hour_offset(r, ctx.reference.timestamp) is not None:
        return None
    x = _sample(ctx, name)
    head = x[: ctx.ref_sample.size]
    ok = np.isfinite(head)
    if int(ok.sum()) < MIN_FOLLOW_ROWS:
        return None
    mean, sd = float(head[ok].mean()), float(head[ok].std())
    if not sd > 0:
        return None
    tail = x[ctx.ref_sample.size :]
    tail = tail[np.isfinite(tail)]
    mid = float(np.median(tail)) if tail.size else math.nan
    return _Scale(mean, sd, float(head[ok].min()) <= mid <= float(head[ok].max()), _log_scale(x, ctx.ref_sample.size))


def _log_scale(x: np.ndarray, n_ref: int) -> tuple[float, float] | None:
    """The mean and sd of the logs of `x`'s finite values on the reference's rows (the first
    `n_ref`), when every finite value of `x` is positive; None otherwise, or when they hold still."""
    ok = np.isfinite(x)
    if not (x[ok] > 0).all():
        return None
    head = np.log(x[:n_ref][ok[:n_ref]])
    sd = float(head.std()) if head.size else 0.0
    return (float(head.mean()), sd) if sd > 0 else None
