"""Faults on a building's occupancy in the cycle logs: still found?

    PYTHONPATH=. python -m benchmarks.outside.cycles.faults_on_occupancy --seeds 0-299 [--held-out]

The calendar-cells rule (docs/diagnostics.md, "Inputs set by the calendar") compares an input set
by the local hour and the workday (an office's occupancy) within the (local hour, kind of day)
cells both windows hold, so a window of workdays after a weekend's reference is no drift. This
checks that it blinds nothing it should not: on every healthy energy log of the generator, since
the alert's onset the occupancy is (a) multiplied by 100 (a percentage), (b) moved by four standard
deviations on a fifth of the rows (a corruption), (c) raised by a quarter (a sensor's offset).
Each log is diagnosed with the onset given; a fault is found when the cause is data and the
culprit `occupancy`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from benchmarks.outside.cycles.faults_on_weather import inject_three, still_found
from benchmarks.outside.cycles.gen import Spec

FAULTS = ("unit_x100", "fifth_of_rows", "offset")


def _inject(frame: pd.DataFrame, column: str, onset: float, fault: str, ref: pd.DataFrame) -> pd.DataFrame:
    return inject_three(frame, column, onset, fault, ref, offset=0.25, decimals=2)


def _picks(spec: Spec) -> bool:
    """A healthy log of the building."""
    return not spec.fault and spec.dataset == "energy"


def _column(spec: Spec, frame: pd.DataFrame) -> str:
    return "occupancy"


def main(argv: Sequence[str] | None = None) -> int:
    return still_found(argv, __doc__, FAULTS, _picks, _column, _inject)


if __name__ == "__main__":
    raise SystemExit(main())
