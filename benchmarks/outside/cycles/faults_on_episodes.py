"""Faults on an intermittent input (drizzle) of the cycle logs: still found?

    PYTHONPATH=. python -m benchmarks.outside.cycles.faults_on_episodes --seeds 0-299 [--held-out]

The episode rule (docs/diagnostics.md, "Inputs that rest between episodes") judges an input that
rests at one value between episodes (rain's 0 between showers) by its values away from rest, and
lets it rest as long as its spells last. This checks that it blinds nothing it should not: on every
healthy log of the generator whose model reads `rain_mm`, since the alert's onset the gauge is
(a) multiplied by 100 (a unit), (b) moved by four standard deviations on a fifth of the rows (a
corruption, dry rows included), (c) stuck at the 90th percentile of its wet readings (a frozen
gauge), (d) read in inches on its wet rows (another gauge's unit, off the tenths grid). Each log is
diagnosed with the onset given; a fault is found when the cause is data and the culprit `rain_mm`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from benchmarks.outside.cycles.faults_on_weather import since_onset, still_found
from benchmarks.outside.cycles.gen import Spec

FAULTS = ("unit_x100", "fifth_of_rows", "stuck_wet", "inches")


def _inject(frame: pd.DataFrame, column: str, onset: float, fault: str, ref: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    after, values, rng = since_onset(out, column, onset)
    before = ref[column].to_numpy(dtype=float)
    if fault == "unit_x100":
        values[after] *= 100.0
    elif fault == "fifth_of_rows":
        values[after & (rng.random(values.size) < 0.2)] += 4.0 * float(np.std(before))
    elif fault == "stuck_wet":
        wet = before[before > 0]
        values[after] = float(np.quantile(wet, 0.9)) if wet.size else 1.0
    else:
        values[after] = np.round(values[after] / 25.4, 3)
    out[column] = values
    return out


def _picks(spec: Spec) -> bool:
    """A healthy log whose model reads the drizzle."""
    return not spec.fault and spec.dataset in ("bike", "rides")


def _column(spec: Spec, frame: pd.DataFrame) -> str:
    return "rain_mm"


def main(argv: Sequence[str] | None = None) -> int:
    return still_found(argv, __doc__, FAULTS, _picks, _column, _inject)


if __name__ == "__main__":
    raise SystemExit(main())
