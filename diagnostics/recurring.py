"""Served inputs that recur: how many independent observations a window's rows hold.

A bundled set's few hundred rows replayed all day (a wine set's 89 inputs served 3,000 times in
six hours), a pool of known customers scored again and again: each row of such a log repeats an
input that other rows carry too, with the same values in every column. A KS statistic or a rank
correlation over those rows has far fewer independent observations than rows: which inputs a
window happened to draw, not their count, is what it knows about the population, and a window
of other hours draws the same inputs in another mix (the generator's clock tilt). Counted in
rows, a mix of 89 wines moved by KS 0.12 read as a drift at five times the critical value.

The rows of one input are one cluster; a window's effective size is the cluster-sampling one
(Kish): `n / (1 + p (n - 1))` with `p` the chance that two of its rows carry the same input,
estimated on a sample of its rows. Inputs that never repeat leave it at `n`; a pool of `M`
inputs served evenly brings it to about `M`. The paired version z is bounded by the same idea
(`matched.distinct_input_bound`: each distinct input's summed difference one piece of evidence);
here it is the size a two-sample statistic's critical value or standard error is read at.

Which columns make an input: those the model reads (influence `UNUSED_INFLUENCE` or more), less
the clock's (an hour, a weekday flag), which belong to the time a row was served, not to the
input: the same wine served at 9 and at 10 is the same wine. A column the model ignores (a
request id, a session length) cannot split an input into many. Pure numpy, one pass per column.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

from diagnostics.log import Categorical

KEY_SAMPLE = 20_000  # rows of a window the chance of a repeat is read on (time-ordered stride)
UNUSED_INFLUENCE = 0.05  # below this influence the model does not read the column (as data_checks)


def input_names(
    features: Mapping[str, np.ndarray | Categorical], influence: Mapping[str, float], clock: Collection[str]
) -> list[str]:
    """The columns whose values together make a served input (see the module's docstring)."""
    return sorted(k for k in features if k not in clock and influence.get(k, 0.0) >= UNUSED_INFLUENCE)


def repeat_chance(features: Mapping[str, np.ndarray | Categorical], names: list[str], rows: np.ndarray) -> float:
    """The chance that two of `rows` (distinct row indices) carry the same input in every column of `names`.

    Read exactly on up to `KEY_SAMPLE` of the rows (a stride through them): with `c_i` rows of
    input i among the `m` read, (sum c_i^2 - m) / (m (m - 1)). 0 when nothing repeats.
    """
    rows = rows[:: max(1, -(-rows.shape[0] // KEY_SAMPLE))]
    m = int(rows.shape[0])
    if m < 2 or not names:
        return 0.0
    cols = []
    for k in names:
        v = features[k]
        if isinstance(v, Categorical):
            cols.append(np.asarray(v.codes)[rows].astype(np.float64))
        else:
            x = np.asarray(v, dtype=np.float64)[rows]
            cols.append(np.where(np.isnan(x), np.inf, x))  # missing is one value, as a category would be
    _, counts = np.unique(np.stack(cols, axis=1), axis=0, return_counts=True)
    if counts.shape[0] == m:
        return 0.0
    c = counts.astype(np.float64)
    return float(((c * c).sum() - m) / (m * (m - 1.0)))


def effective_counts(n: np.ndarray, chance: float) -> np.ndarray:
    """Independent observations in `n` rows (each count of an array: a correlation matrix's pairwise
    counts) whose pairs repeat an input with probability `chance`: n / (1 + chance (n - 1)) (Kish)."""
    out: np.ndarray = n / (1.0 + chance * np.maximum(n - 1.0, 0.0))
    return out


def effective_rows(n: float, chance: float) -> float:
    """`effective_counts` of one count."""
    return float(effective_counts(np.asarray(float(n)), chance))


def critical_factor(n_ref: float, n_cur: float, chance_ref: float, chance_cur: float) -> float:
    """How many times wider a two-sample statistic's noise is when counted in inputs rather than rows.

    A KS critical value or a difference of two correlations' standard errors goes with
    sqrt(1/n_ref + 1/n_cur); counted in effective rows each term grows by its window's design
    effect. 1 when no input repeats.
    """
    if n_ref <= 0 or n_cur <= 0:
        return 1.0
    e_ref, e_cur = effective_rows(n_ref, chance_ref), effective_rows(n_cur, chance_cur)
    if e_ref <= 0 or e_cur <= 0:
        return 1.0
    return float(np.sqrt((1.0 / e_ref + 1.0 / e_cur) / (1.0 / n_ref + 1.0 / n_cur)))
