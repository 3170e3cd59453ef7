"""Faults on a weather input of the cycle logs whose reference holds several days: still found?

    PYTHONPATH=. python -m benchmarks.outside.cycles.faults_on_weather --seeds 0-299 [--held-out]

The day-to-day weather rule (docs/diagnostics.md, "Weather from day to day") takes a window's shift
of level out when the reference's own days sat as far apart. This checks that it blinds nothing it
should not: on every healthy log of the generator whose reference holds two days or more (a
validation file of three days, or the log's own first days) and whose model reads a temperature,
the temperature since the alert's onset is (a) multiplied by 100 (a unit), (b) moved by four
standard deviations on a fifth of the rows (a corruption), (c) raised by the range of the
reference's daily medians plus 6 degrees (a level beyond every day the reference showed). Each log
is diagnosed with the onset given; a fault is found when the cause is data and the culprit the
temperature column.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.outside.cycles.gen import Spec, build, make_spec
from benchmarks.outside.cycles.run import _seeds

FAULTS = ("unit_x100", "fifth_of_rows", "beyond_days")


def since_onset(frame: pd.DataFrame, column: str, onset: float) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    """The rows since the onset, a copy of the column's values, and the fault's random numbers."""
    after = frame["timestamp"].astype("int64").to_numpy() / 1e9 >= onset
    return after, frame[column].to_numpy(dtype=float).copy(), np.random.default_rng(int(onset) % 1000)


def inject_three(
    frame: pd.DataFrame, column: str, onset: float, fault: str, ref: pd.DataFrame, offset: float, decimals: int
) -> pd.DataFrame:
    """The three faults every still-found checker of a numeric input injects since the onset: a unit
    change (x100), a fifth of the rows moved by 4 reference standard deviations, and an `offset`."""
    out = frame.copy()
    after, values, rng = since_onset(out, column, onset)
    if fault == "unit_x100":
        values[after] *= 100.0
    elif fault == "fifth_of_rows":
        hit = after & (rng.random(values.size) < 0.2)
        values[hit] += 4.0 * float(np.std(ref[column].to_numpy(dtype=float)))
    else:
        values[after] += offset
    out[column] = np.round(values, decimals)
    return out


def _inject(frame: pd.DataFrame, column: str, onset: float, fault: str, ref: pd.DataFrame) -> pd.DataFrame:
    offset = 0.0
    if fault == "beyond_days":  # beyond the reference's own day-to-day weather
        rts = ref["timestamp"].astype("int64").to_numpy() / 1e9
        day = ((rts - rts[0]) // 86400).astype(int)
        medians = [float(np.median(ref[column].to_numpy()[day == d])) for d in np.unique(day)]
        offset = (max(medians) - min(medians)) + 6.0
    return inject_three(frame, column, onset, fault, ref, offset, decimals=1)


def _picks(spec: Spec) -> bool:
    """A healthy weather log whose reference holds two days or more."""
    if spec.fault or spec.dataset not in ("bike", "energy", "rides"):
        return False
    return not (spec.reference == "own" and spec.hours * spec.onset_share < 48)


def _column(spec: Spec, frame: pd.DataFrame) -> str:
    return "outdoor_temp" if spec.dataset == "energy" else "temperature"


def still_found(
    argv: Sequence[str] | None,
    doc: str | None,
    faults: Sequence[str],
    picks: Callable[[Spec], bool],
    column_of: Callable[[Spec, pd.DataFrame], str],
    inject: Callable[[pd.DataFrame, str, float, str, pd.DataFrame], pd.DataFrame],
    right: Callable[[str, str, str, str], bool] | None = None,
) -> int:
    """Each picked log with each fault injected on its column since the onset, diagnosed with the onset given.
    `right(cause, culprit kind, culprit name, column)` says whether a verdict finds the fault (default:
    cause data, culprit the column)."""
    from diagnostics import diagnose
    from diagnostics.loader import frame_to_log, load_log

    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--seeds", default="0-299")
    parser.add_argument("--held-out", action="store_true")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="cycles-faults-"))
    found = {f: 0 for f in faults}
    total = 0
    for seed in _seeds(args.seeds):
        if (seed % 3 == 2) != args.held_out:
            continue
        spec = make_spec(seed)
        if not picks(spec):
            continue
        built = build(spec, folder / str(seed))
        frame = pd.read_parquet(built.log)
        column = column_of(spec, frame)
        ref_frame = pd.read_parquet(built.reference) if built.reference else frame[
            frame["timestamp"].astype("int64").to_numpy() / 1e9 < built.onset]
        reference = load_log(built.reference) if built.reference else None
        total += 1
        for fault in faults:
            log = frame_to_log(inject(frame, column, built.onset, fault, ref_frame))
            d = diagnose(log, reference=reference, changes=built.changes, onset=built.onset)
            ok = (right or _data_at)(d.cause, d.culprit_kind, d.culprit_name, column)
            found[fault] += ok
            if not ok:
                top = d.findings[0].evidence[:140] if d.findings else ""
                print(f"MISSED seed={seed} {spec.dataset} {spec.hours}h ref={spec.reference} {fault} {column!r} -> "
                      f"{d.cause} {d.culprit_name}: {top}", flush=True)
    for fault in faults:
        print(f"{fault}: found {found[fault]}/{total}")
    return 0


def _data_at(cause: str, kind: str, name: str, column: str) -> bool:
    return cause == "data" and name == column


def main(argv: Sequence[str] | None = None) -> int:
    return still_found(argv, __doc__, FAULTS, _picks, _column, _inject)


if __name__ == "__main__":
    raise SystemExit(main())
