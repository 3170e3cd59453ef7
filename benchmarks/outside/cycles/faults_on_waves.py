"""Faults on an input that climbs or falls steeply with the clock, on the cycle logs shorter than a day: still found?

    PYTHONPATH=. python -m benchmarks.outside.cycles.faults_on_waves --seeds 0-299 [--held-out]

The smooth-path rule (docs/diagnostics.md, "Steep daily waves on logs under a day") clears a drift
of an input whose path runs through the onset with no step, no change of slope and nothing else
moved. This checks that it blinds nothing it should not: on every healthy weather log of the
generator (bike, energy, rides) that holds less than a day, its own rows before the alert's onset
the reference, the input that follows the clock (the temperature; a rides log's demand) since the
onset is (a) multiplied by 100 (a unit), (b) moved by four standard deviations on a fifth of the
rows (a corruption), (c) moved by one standard deviation on every row (an offset, mid-wave), (d)
moved by a ramp that reaches two standard deviations an hour after the onset and stays (a sensor
that degrades), (e) stuck at its last value before the onset. Each log is diagnosed with the onset
given; a fault is found when the cause is data and the culprit the moved column.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from benchmarks.outside.cycles.faults_on_weather import since_onset, still_found
from benchmarks.outside.cycles.gen import Spec

FAULTS = ("unit_x100", "fifth_of_rows", "offset_1sd", "ramp_2sd_hour", "stuck")
WEATHER_SETS = ("bike", "energy", "rides")


def _inject(frame: pd.DataFrame, column: str, onset: float, fault: str, ref: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    after, values, rng = since_onset(out, column, onset)
    sd = float(np.std(values[~after]))
    if fault == "unit_x100":
        values[after] *= 100.0
    elif fault == "fifth_of_rows":
        values[after & (rng.random(values.size) < 0.2)] += 4.0 * sd
    elif fault == "offset_1sd":
        values[after] += sd
    elif fault == "ramp_2sd_hour":
        ts = out["timestamp"].astype("int64").to_numpy() / 1e9
        values[after] += 2.0 * sd * np.clip((ts[after] - onset) / 3600.0, 0.0, 1.0)
    else:
        values[after] = values[~after][-1]
    out[column] = np.round(values, 1)
    return out


def _picks(spec: Spec) -> bool:
    """A healthy weather log under a day, its own rows before the onset the reference."""
    return not spec.fault and spec.dataset in WEATHER_SETS and spec.reference == "own" and spec.hours < 24


def _column(spec: Spec, frame: pd.DataFrame) -> str:
    return {"energy": "outdoor_temp", "rides": "demand"}.get(spec.dataset, "temperature")


def main(argv: Sequence[str] | None = None) -> int:
    return still_found(argv, __doc__, FAULTS, _picks, _column, _inject)


if __name__ == "__main__":
    raise SystemExit(main())
