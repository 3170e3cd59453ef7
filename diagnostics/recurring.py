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
from dataclasses import dataclass, field

import numpy as np

from diagnostics.log import Categorical, align_categorical

KEY_SAMPLE = 20_000  # rows of a window the chance of a repeat is read on (time-ordered stride)
UNUSED_INFLUENCE = 0.05  # below this influence the model does not read the column


def input_names(
    features: Mapping[str, np.ndarray | Categorical], influence: Mapping[str, float], clock: Collection[str]
) -> list[str]:
    """The columns whose values together make a served input (see the module's docstring)."""
    return sorted(k for k in features if k not in clock and influence.get(k, 0.0) >= UNUSED_INFLUENCE)


RECURRING_SHARE = 0.5  # distinct inputs per row at or above which a window's inputs do not recur
ALTERED_INPUTS = 0.1  # share of a window's rows on altered inputs that keeps the rows' evidence
_MULTIPLIERS = np.random.default_rng(20261201).integers(1, 2**62, size=4096, dtype=np.uint64) * 2 + 1


@dataclass(frozen=True)
class Recurrence:
    """How the two windows' served inputs recur (`recurrence`).

    `chance_*`: the chance that two of a window's rows carry the same input. `altered`: per
    column of the input, the share of the current window's rows whose input the reference never
    served while it served one equal to it in every other column (an input with that value changed).
    """

    chance_ref: float = 0.0
    chance_cur: float = 0.0
    altered: dict[str, float] = field(default_factory=dict)

    def counted_in_inputs(self, name: str) -> bool:
        """Whether a two-sample statistic of column `name` is read at the windows' distinct inputs.

        When inputs recur, a window of other hours serves the pool's inputs in another mix (some
        the reference's few hours never drew), and which inputs each window drew is all that
        differs. A data fault changes the values of inputs the reference served (a fifth of the
        rows moved, a unit, a stuck, shuffled or misjoined column): the window then carries the
        reference's inputs with that column altered, each such row a new observation of it, and
        the column keeps the rows' evidence (`ALTERED_INPUTS` of the rows or more: under it a
        drift cannot reach the KS bar of 0.1 on those rows). The other columns of those rows are
        the reference's inputs' own values and are still counted in inputs. A column outside the
        input (the model does not read it, the clock's) keeps the rows' evidence.

        The same holds for a column's values the reference never had inside its range (issue-24a):
        a remap replaces codes on the inputs that carried them, so the window serves the
        reference's inputs with that one value changed; the pool's inputs a reference of a few
        hours never drew carry values it never had in every column, interleaved with its own.
        """
        recurs = self.chance_ref > 0.0 or self.chance_cur > 0.0
        return recurs and name in self.altered and self.altered[name] < ALTERED_INPUTS


def recurrence(
    reference: Mapping[str, np.ndarray | Categorical],
    current: Mapping[str, np.ndarray | Categorical],
    names: list[str],
    ref_rows: np.ndarray,
    cur_rows: np.ndarray,
) -> Recurrence:
    """The windows' recurring inputs over the columns `names`, read on up to `KEY_SAMPLE` of the
    rows each (a stride through `ref_rows`, `cur_rows`: distinct row indices).

    With `c_i` rows of input i among the `m` read, the chance of a repeat is
    (sum c_i^2 - m) / (m (m - 1)). An input is a row's 64-bit key: each column's value bits times
    a fixed odd multiplier, summed (wrapping); less one column's term it is the input without
    that column, which tells an altered input from a new one (a pass per column, no row loop).
    """
    ref_rows = ref_rows[:: max(1, -(-ref_rows.shape[0] // KEY_SAMPLE))]
    cur_rows = cur_rows[:: max(1, -(-cur_rows.shape[0] // KEY_SAMPLE))]
    m_ref, m_cur = int(ref_rows.shape[0]), int(cur_rows.shape[0])
    if m_ref < 2 or m_cur < 2 or not names:
        return Recurrence()
    terms: list[np.ndarray] = []
    used: list[str] = []
    for k in names[: _MULTIPLIERS.shape[0]]:
        r, c = reference[k], current[k]
        if isinstance(r, Categorical) or isinstance(c, Categorical):
            if not (isinstance(r, Categorical) and isinstance(c, Categorical)):
                continue
            rc, cc, _ = align_categorical(r, c)
            x = np.concatenate((rc[ref_rows], cc[cur_rows])).astype(np.float64)
        else:
            x = np.concatenate((np.asarray(r, dtype=np.float64)[ref_rows], np.asarray(c, dtype=np.float64)[cur_rows]))
            x = np.where(np.isnan(x), np.inf, x)  # missing is one value, as a category would be
        code = (x + 0.0).view(np.uint64)  # a value's bits (+ 0.0: -0.0 is 0.0)
        terms.append(code * _MULTIPLIERS[len(terms)])
        used.append(k)
    if not terms:
        return Recurrence()
    key = np.zeros(m_ref + m_cur, dtype=np.uint64)
    for t in terms:
        key += t
    ref_keys, counts_ref = np.unique(key[:m_ref], return_counts=True)
    counts_cur = np.unique(key[m_ref:], return_counts=True)[1]
    if len(terms) < 2 or max(counts_ref.shape[0] / m_ref, counts_cur.shape[0] / m_cur) >= RECURRING_SHARE:
        # one column's repeated values are a discrete input's, no recurring input; and where most
        # rows are distinct inputs (rounded values meeting by chance) each row is its own observation
        return Recurrence()
    new = ~np.isin(key[m_ref:], ref_keys)
    altered = {}
    for k, t in zip(used, terms, strict=True):
        less = key - t  # the input without this column
        altered[k] = float((new & np.isin(less[m_ref:], less[:m_ref])).mean()) if len(terms) > 1 else 0.0
    c_ref, c_cur = counts_ref.astype(np.float64), counts_cur.astype(np.float64)
    return Recurrence(
        chance_ref=float(((c_ref * c_ref).sum() - m_ref) / (m_ref * (m_ref - 1.0))),
        chance_cur=float(((c_cur * c_cur).sum() - m_cur) / (m_cur * (m_cur - 1.0))),
        altered=altered,
    )


def effective_counts(n: np.ndarray, chance: float | np.ndarray) -> np.ndarray:
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
