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

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.outside.cycles.gen import build, make_spec
from benchmarks.outside.cycles.run import _seeds

FAULTS = ("unit_x100", "fifth_of_rows", "offset_1sd", "fifth_by_2sd")
CLOCK_SETS = ("breast_cancer", "diabetes", "wine")


def _inject(frame: pd.DataFrame, column: str, onset: float, fault: str) -> pd.DataFrame:
    out = frame.copy()
    ts = out["timestamp"].astype("int64").to_numpy() / 1e9
    after = ts >= onset
    values = out[column].to_numpy(dtype=float).copy()
    sd = float(np.std(values[~after]))
    rng = np.random.default_rng(int(onset) % 1000)
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


def main(argv: Sequence[str] | None = None) -> int:
    from diagnostics import diagnose
    from diagnostics.loader import frame_to_log

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="0-299")
    parser.add_argument("--held-out", action="store_true")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="cycles-clock-faults-"))
    found = {f: 0 for f in FAULTS}
    total = 0
    for seed in _seeds(args.seeds):
        if (seed % 3 == 2) != args.held_out:
            continue
        spec = make_spec(seed)
        if spec.fault or spec.dataset not in CLOCK_SETS or spec.reference != "own" or spec.hours >= 24:
            continue
        built = build(spec, folder / str(seed))
        frame = pd.read_parquet(built.log)
        column = str(frame.columns[6])  # the bundled set's first input, the one the clock tilts
        total += 1
        for fault in FAULTS:
            log = frame_to_log(_inject(frame, column, built.onset, fault))
            d = diagnose(log, changes=built.changes, onset=built.onset)
            ok = d.cause == "data" and d.culprit_name == column
            found[fault] += ok
            if not ok:
                top = d.findings[0].evidence[:140] if d.findings else ""
                print(f"MISSED seed={seed} {spec.dataset} {spec.hours}h {fault} {column!r} -> "
                      f"{d.cause} {d.culprit_name}: {top}", flush=True)
    for fault in FAULTS:
        print(f"{fault}: found {found[fault]}/{total}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
