"""Whether the labels moved with an input's move as the model reads it: the world moved, not the feed.

A log shorter than a day whose window holds hours its reference never held has no earlier day
of the same hours to say what an input that follows the clock does then: an office's occupancy
that fills at 08:00 after a reference of night hours (0.05 -> 0.75), a demand climbing to its
evening peak. Its distribution moves as far as a broken feed's would, and the wave-free and glide
readings (`phase`) cannot tell them apart under a day (a sensor 4 degrees high from exactly 08:00
steps on the hour too). The outcomes can: a feed fault moves what the model reads and so its
predictions, while the outcome, set by the true value, stays where it was, and the model's error
moves by minus the fault's share of the prediction's move. When the input's own part of the
prediction's move (a linear surrogate of the prediction on the numeric inputs, over both
windows: the slope times the move of the input's mean) is large and the labelled rows' error
(label minus prediction) moved by at most `FOLLOW_SHARE` of it, the labels followed the input:
at most that share of its move can be the feed's. With too few labelled rows, class-name answers,
or a move too small for such a share to stand out of the error's noise (`FOLLOW_Z` standard
errors), nothing is claimed. An error that moved for another input's fault keeps every finding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from diagnostics.context import Context
from diagnostics.log import Categorical

FOLLOW_SHARE = 0.2  # of the input's move: the most the feed's fault may be (the target's fifth of the rows)
FOLLOW_Z = 3.29  # standard errors the error's move at that share must stand out by (alpha 0.001)
MIN_FOLLOW_ROWS = 200  # labelled rows with an answer, on each side of the onset


@dataclass(frozen=True)
class _Moves:
    moves: dict[str, float]  # each numeric input's part of the prediction's move, in the prediction's units
    error_move: float  # the labelled rows' mean (label - prediction), window minus reference
    error_se: float


class OutcomesFollow:
    """The prediction's move split among the inputs and the error's move, fitted once per diagnosis on first ask."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._done = False
        self._moves: _Moves | None = None

    def labels_followed(self, name: str) -> bool:
        """Whether `name`'s move, as the model reads it, is one the labels followed (module docstring)."""
        if not self._done:
            self._moves = _fit(self._ctx)
            self._done = True
        m = self._moves
        if m is None or name not in m.moves:
            return False
        move = abs(m.moves[name])
        return move * FOLLOW_SHARE >= FOLLOW_Z * m.error_se and abs(m.error_move) <= FOLLOW_SHARE * move


def _fit(ctx: Context) -> _Moves | None:
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
    design = np.column_stack([np.ones(ri.size + ci.size), *cols])
    pred = np.concatenate((rp[ri], cp[ci])).astype(np.float64)
    beta = np.linalg.lstsq(design, pred, rcond=None)[0]
    # each input's slope times the move of its mean: its part of the prediction's move
    after = np.r_[np.zeros(ri.size, dtype=bool), np.ones(ci.size, dtype=bool)]
    moves = {
        n: float(beta[j + 1] * (cols[j][after].mean() - cols[j][~after].mean())) for j, n in enumerate(names)
    }
    se = math.sqrt(float(er.var(ddof=1)) / er.size + float(ec.var(ddof=1)) / ec.size)
    return _Moves(moves, float(ec.mean() - er.mean()), se)
