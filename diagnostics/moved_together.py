"""Whether an input's move on a log of unseen hours is carried by what moved with it: the world, not the feed.

A log shorter than a day whose window holds hours its reference never held has no earlier day
of the same hours to say what an input that follows the clock does then: an office's occupancy
that fills at 08:00 after a reference of night hours (0.05 -> 0.75), a bundled set's rows drawn
in another mix as the hour turns. Its distribution moves as far as a broken feed's would, and the
wave-free and glide readings (`phase`) cannot tell them apart under a day (a sensor 4 degrees
high from exactly 08:00 steps on the hour too). What moved with it can; a feed's fault moves one
column alone:

- **The labels** (`labels_followed`). A fault moves what the model reads and so its predictions,
  while the outcome, set by the true value, stays where it was: the model's error moves by minus
  the fault's part of the prediction's move. The input's own part of the prediction's move is a
  linear surrogate of the prediction on the numeric inputs over both windows (the slope times the
  move of the input's mean); the labelled rows' error (label minus prediction) must have moved by
  at most `LABEL_SHARE` (a tenth) of it. The witness needs the model to have read the values logged: the
  surrogate is fitted with a step at the onset beside the inputs, and the answers' step there
  beyond what the inputs account for must be under that share of the input's part of the move,
  the window's misfit no wider than the reference's by that share. A column corrupted on its
  way to the log, the answers served on the true values, leaves the error where it was and is
  not cleared by it (an office's temperature logged one standard deviation high since the onset,
  the answers unmoved; a fifth of its occupancy rows 1.6 higher: misfit 4.0 -> 10.2). A model
  whose answers bend between the reference's inputs and the window's (a forest's step in
  occupancy) shows such a step too, and is not cleared: the witness errs towards the finding.
- **Its companion inputs** (`companions_carried`). A changed mix of rows moves every input of
  the rows together, as the reference's rows relate them; a fault on one column leaves the others
  where they were. The input less its linear fit on the other numeric inputs (fitted on the
  reference; hour-of-day inputs are no companions, they move with any window) must have moved by
  at most `MIX_SHARE` (a fifth) of the input's own move, and its spread by at most that share
  (a linear fit of a curved relation leaves some of a mix's move unexplained: 3-6% on the
  cycles checker's breast-cancer log, up to 15% on a squared size).

Either way, at most that share of the input's move can be the feed's (the issue's target counts
a fifth of a used input's rows moved as a fault). With too few rows, class-name answers, or a move
too small for such a share to stand out of the noise (`FOLLOW_Z` standard errors), nothing is
claimed; an error or a residual that moved for another column's fault keeps every finding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from diagnostics.clock_features import hour_of_day_columns
from diagnostics.context import Context
from diagnostics.log import Categorical

LABEL_SHARE = 0.1  # of the input's move, the most the labels witness lets be the feed's
MIX_SHARE = 0.2  # the companions witness's (a linear fit of a curved relation leaves some of a mix's move)
FOLLOW_Z = 3.29  # standard errors the unexplained move at that share must stand out by (alpha 0.001)
MIN_FOLLOW_ROWS = 200  # rows on each side of the onset (labelled, for the labels)


@dataclass(frozen=True)
class _Moves:
    moves: dict[str, float]  # each numeric input's part of the prediction's move, in the prediction's units
    error_move: float  # the labelled rows' mean (label - prediction), window minus reference
    error_se: float
    unread_step: float  # the answers' step at the onset beyond what the logged inputs account for
    misfit_ref: float  # the surrogate's misfit (prediction less its fit), spread in the reference
    misfit_cur: float  # and in the window


def _explained(move: float, unexplained: float, se: float, share: float) -> bool:
    """At most `share` of `move` left unexplained, with the power to see that share."""
    return abs(move) * share >= FOLLOW_Z * se and abs(unexplained) <= share * abs(move)


class MovedTogether:
    """The witnesses of one diagnosis (module docstring), each fitted on first ask."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._moves: _Moves | None | bool = False  # False: not fitted yet
        self._companions: dict[str, tuple[np.ndarray, bool]] | None = None

    def carried(self, name: str) -> bool:
        """Whether `name`'s move is carried by the labels or by its companions (module docstring)."""
        return self.labels_followed(name) or self.companions_carried(name)

    def labels_followed(self, name: str) -> bool:
        """Whether the labels moved with `name`'s move as the model reads it."""
        if self._moves is False:
            self._moves = _prediction_moves(self._ctx)
        m = self._moves
        if not isinstance(m, _Moves) or name not in m.moves:
            return False
        move = m.moves[name]
        if abs(m.unread_step) > LABEL_SHARE * abs(move) or m.misfit_cur > (
            1.0 + LABEL_SHARE
        ) * m.misfit_ref + LABEL_SHARE * abs(move):
            return False  # the answers do not follow the logged inputs: the model did not read these values
        return _explained(move, m.error_move, m.error_se, LABEL_SHARE)

    def companions_carried(self, name: str) -> bool:
        """Whether the other numeric inputs, related as in the reference, moved `name` as far as it moved."""
        if self._companions is None:
            self._companions = _numeric_inputs(self._ctx)
        cols = self._companions
        if name not in cols:
            return False
        ctx = self._ctx
        n_ref = ctx.ref_sample.size
        others = [v for k, (v, held) in cols.items() if k != name and held]
        x = cols[name][0]
        ok = np.isfinite(x)
        r_ok, c_ok = ok[:n_ref], ok[n_ref:]
        if not others or int(r_ok.sum()) < MIN_FOLLOW_ROWS or int(c_ok.sum()) < MIN_FOLLOW_ROWS:
            return False
        design = np.column_stack([np.ones(x.size), *others])
        beta = np.linalg.lstsq(design[:n_ref][r_ok], x[:n_ref][r_ok], rcond=None)[0]
        res = x - design @ beta
        rr, rc = res[:n_ref][r_ok], res[n_ref:][c_ok]
        sd_r, sd_c = float(rr.std()), float(rc.std())
        if not (sd_r > 0 and sd_c > 0) or abs(math.log(sd_c / sd_r)) > math.log1p(MIX_SHARE):
            return False  # the rest of the input widened or narrowed: a fifth moved, a cap, noise
        move = float(x[n_ref:][c_ok].mean() - x[:n_ref][r_ok].mean())
        se = math.sqrt(sd_r**2 / rr.size + sd_c**2 / rc.size)
        return _explained(move, float(rc.mean() - rr.mean()), se, MIX_SHARE)


def _numeric_inputs(ctx: Context) -> dict[str, tuple[np.ndarray, bool]]:
    """Each numeric input (not an hour of the day) on the windows' samples, reference rows first,
    standardized on the reference's rows, and whether the window's median lies in the reference's range.

    Inputs the reference holds still (a constant, a workday flag on a short reference) carry
    nothing and are left out. A companion whose window sits beyond the reference's range (an
    office's occupancy at 0.5-1 after a night's 0-0.1) has no fitted relation there: a slope read
    on a reference's noise, carried 20 of its standard deviations out, explains anything by chance.
    (A window that reaches past the range with some rows, a bundled set's rows in another mix of
    hours, is read with it: the relation holds there as the rows' own.)"""
    out: dict[str, tuple[np.ndarray, bool]] = {}
    clock = set(hour_of_day_columns(ctx.reference.features, ctx.reference.timestamp))
    for name, r in ctx.reference.features.items():
        c = ctx.current.features.get(name)
        if name in clock or isinstance(r, Categorical) or c is None or isinstance(c, Categorical):
            continue
        x = np.concatenate((r[ctx.ref_sample], c[ctx.cur_sample])).astype(np.float64)
        head = x[: ctx.ref_sample.size]
        ok = np.isfinite(head)
        if int(ok.sum()) < MIN_FOLLOW_ROWS:
            continue
        mean, sd = float(head[ok].mean()), float(head[ok].std())
        if sd > 0:
            tail = x[ctx.ref_sample.size :]
            tail = tail[np.isfinite(tail)]
            mid = float(np.median(tail)) if tail.size else math.nan
            out[name] = ((x - mean) / sd, float(head[ok].min()) <= mid <= float(head[ok].max()))
    return out


def _prediction_moves(ctx: Context) -> _Moves | None:
    if ctx.task.kind not in ("regression", "binary_score"):
        return None
    rp, cp, rl, cl = ctx.reference.prediction, ctx.current.prediction, ctx.reference.label, ctx.current.label
    if any(isinstance(a, Categorical) or a is None for a in (rp, cp, rl, cl)):
        return None
    assert isinstance(rp, np.ndarray) and isinstance(cp, np.ndarray)
    assert isinstance(rl, np.ndarray) and isinstance(cl, np.ndarray)
    ri = ctx.ref_sample[np.isfinite(rp[ctx.ref_sample])]
    ci = ctx.cur_sample[np.isfinite(cp[ctx.cur_sample])]
    er, ec = rl[ri] - rp[ri], cl[ci] - cp[ci]
    er, ec = er[np.isfinite(er)], ec[np.isfinite(ec)]
    if er.size < MIN_FOLLOW_ROWS or ec.size < MIN_FOLLOW_ROWS:
        return None
    names, cols = [], []
    for name, r in ctx.reference.features.items():
        c = ctx.current.features.get(name)
        if isinstance(r, Categorical) or c is None or isinstance(c, Categorical):
            continue
        x = np.concatenate((r[ri], c[ci])).astype(np.float64)
        ok = np.isfinite(x)
        if int(ok.sum()) < x.size // 2:
            continue
        x = np.where(ok, x, float(x[ok].mean()))
        sd = float(x.std())
        if sd > 0:
            names.append(name)
            cols.append((x - float(x.mean())) / sd)
    if not names:
        return None
    after = np.r_[np.zeros(ri.size, dtype=bool), np.ones(ci.size, dtype=bool)]
    # a step at the onset beside the inputs: the answers' move the logged inputs do not account for
    design = np.column_stack([np.ones(ri.size + ci.size), after.astype(np.float64), *cols])
    pred = np.concatenate((rp[ri], cp[ci])).astype(np.float64)
    beta = np.linalg.lstsq(design, pred, rcond=None)[0]
    # each input's slope times the move of its mean: its part of the prediction's move
    moves = {n: float(beta[j + 2] * (cols[j][after].mean() - cols[j][~after].mean())) for j, n in enumerate(names)}
    se = math.sqrt(float(er.var(ddof=1)) / er.size + float(ec.var(ddof=1)) / ec.size)
    misfit = pred - design @ beta
    return _Moves(
        moves, float(ec.mean() - er.mean()), se, float(beta[1]), float(misfit[~after].std()), float(misfit[after].std())
    )
