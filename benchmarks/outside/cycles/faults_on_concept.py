"""A changed relation between inputs and labels on the cycle logs: still found?

    PYTHONPATH=. python -m benchmarks.outside.cycles.faults_on_concept --seeds 0-299 [--held-out]

The concept check reads "quality fell everywhere" at the window's rows whose inputs the reference
held when many of them sit at values it never held (docs/diagnostics.md, "Concept drift read at
the inputs the reference held"). This checks that it blinds nothing it should not: on every
healthy log of the generator with labels present, since the alert's onset the labels are
(a) `relation`: moved by half the label's spread times the model's most read numeric input,
standardized (the input's bearing on the label changed; a class label flips where that input is
in its top 40%, with probability 0.3), (b) `everywhere`: a numeric label scaled by 1.25 (a class
label flipped with probability 0.12 on every row). Each log is diagnosed with the onset given; a
fault is found when the cause is model and the culprit a concept or a segment.
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

FAULTS = ("relation", "everywhere")
CLASSES = ("payments", "breast_cancer", "wine")


def _inject(frame: pd.DataFrame, onset: float, fault: str, column: str, classes: bool) -> pd.DataFrame:
    out = frame.copy()
    after = out["timestamp"].astype("int64").to_numpy() / 1e9 >= onset
    rng = np.random.default_rng(int(onset) % 1000)
    label = out["label"].to_numpy(dtype=float).copy()
    x = out[column].to_numpy(dtype=float)
    z = (x - np.nanmean(x)) / max(float(np.nanstd(x)), 1e-9)
    if classes:
        top = z >= np.nanquantile(z, 0.6)
        hit = after & (rng.random(label.size) < (0.3 if fault == "relation" else 0.12)) & (top | (fault != "relation"))
        label[hit] = 1.0 - label[hit]
    elif fault == "relation":
        label[after] += 0.5 * float(np.nanstd(label)) * z[after]
    else:
        label[after] *= 1.25
    out["label"] = label
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from diagnostics import diagnose
    from diagnostics.loader import frame_to_log, load_log

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="0-299")
    parser.add_argument("--held-out", action="store_true")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="cycles-concept-"))
    found = {f: 0 for f in FAULTS}
    total = 0
    for seed in _seeds(args.seeds):
        if (seed % 3 == 2) != args.held_out:
            continue
        spec = make_spec(seed)
        if spec.fault or spec.labels != "present":
            continue
        built = build(spec, folder / str(seed))
        frame = pd.read_parquet(built.log)
        reference = load_log(built.reference) if built.reference else None
        numeric = [c for c in frame.columns[6:] if c != "hour" and pd.api.types.is_numeric_dtype(frame[c])]
        column = max(numeric, key=lambda c: abs(np.corrcoef(frame[c], frame["prediction"])[0, 1]))
        total += 1
        for fault in FAULTS:
            log = frame_to_log(_inject(frame, built.onset, fault, column, spec.dataset in CLASSES))
            d = diagnose(log, reference=reference, changes=built.changes, onset=built.onset)
            ok = d.cause == "model" and d.culprit_kind in ("concept", "segment")
            found[fault] += ok
            if not ok:
                top = d.findings[0].evidence[:140] if d.findings else ""
                print(f"MISSED seed={seed} {spec.dataset}/{spec.model} {spec.hours}h ref={spec.reference} {fault} "
                      f"{column!r} -> {d.cause} {d.culprit_kind} {d.culprit_name}: {top}", flush=True)
    for fault in FAULTS:
        print(f"{fault}: found {found[fault]}/{total}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
