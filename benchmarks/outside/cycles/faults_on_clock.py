"""Faults on an input that follows the clock, on the cycle logs shorter than a day: still found?

    PYTHONPATH=. python -m benchmarks.outside.cycles.faults_on_clock --seeds 0-299 [--held-out]

The glide rule (docs/diagnostics.md, "Inputs that glide through the onset") clears a drift of an
input that moved through its reference as it moves through the window and does not break at the
onset. This checks that it blinds nothing it should not: on every healthy log of the generator
whose rows follow the clock (a bundled set's first input tilted towards the evening) and that
holds less than a day, its own rows before the alert's onset the reference, the first input
since the onset is (a) multiplied by 100 (a unit), (b) moved by four standard deviations on a
fifth of the rows (a corruption), (c) moved by one standard deviation on every row (an offset),
(d) moved by two standard deviations on a fifth of the rows. Each log is diagnosed with the onset
given; a fault is found when the cause is data and the culprit the moved column.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from benchmarks.outside.cycles.faults_on_weather import since_onset, still_found
from benchmarks.outside.cycles.gen import Spec

FAULTS = ("unit_x100", "fifth_of_rows", "offset_1sd", "fifth_by_2sd")
CLOCK_SETS = ("breast_cancer", "diabetes", "wine")


def _inject(frame: pd.DataFrame, column: str, onset: float, fault: str, ref: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    after, values, rng = since_onset(out, column, onset)
    sd = float(np.std(values[~after]))
    fifth = after & (rng.random(values.size) < 0.2)
    if fault == "unit_x100":
        values[after] *= 100.0
    elif fault == "fifth_of_rows":
        values[fifth] += 4.0 * sd
    elif fault == "offset_1sd":
        values[after] += sd
    else:
        values[fifth] += 2.0 * sd
    out[column] = values
    return out


def _picks(spec: Spec) -> bool:
    """A healthy bundled log under a day, its own rows before the onset the reference."""
    return not spec.fault and spec.dataset in CLOCK_SETS and spec.reference == "own" and spec.hours < 24


def _column(spec: Spec, frame: pd.DataFrame) -> str:
    return str(frame.columns[6])  # the bundled set's first input, the one the clock tilts


def main(argv: Sequence[str] | None = None) -> int:
    return still_found(argv, __doc__, FAULTS, _picks, _column, _inject)


if __name__ == "__main__":
    raise SystemExit(main())
