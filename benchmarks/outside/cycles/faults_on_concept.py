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

from collections.abc import Sequence

import numpy as np
import pandas as pd

from benchmarks.outside.cycles.faults_on_weather import since_onset, still_found
from benchmarks.outside.cycles.gen import Spec

FAULTS = ("relation", "everywhere")


def _inject(frame: pd.DataFrame, column: str, onset: float, fault: str, ref: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    after, label, rng = since_onset(out, "label", onset)
    x = out[column].to_numpy(dtype=float)
    z = (x - np.nanmean(x)) / max(float(np.nanstd(x)), 1e-9)
    if set(np.unique(label[np.isfinite(label)])) <= {0.0, 1.0}:  # a class label
        where = z >= np.nanquantile(z, 0.6) if fault == "relation" else np.ones(label.size, dtype=bool)
        hit = after & where & (rng.random(label.size) < (0.3 if fault == "relation" else 0.12))
        label[hit] = 1.0 - label[hit]
    elif fault == "relation":
        label[after] += 0.5 * float(np.nanstd(label)) * z[after]
    else:
        label[after] *= 1.25
    out["label"] = label
    return out


def _picks(spec: Spec) -> bool:
    """A healthy log with labels since the onset."""
    return not spec.fault and spec.labels == "present"


def _column(spec: Spec, frame: pd.DataFrame) -> str:
    """The numeric input (not the hour) the model's answers follow most closely."""
    numeric = [c for c in frame.columns[6:] if c != "hour" and pd.api.types.is_numeric_dtype(frame[c])]
    return str(max(numeric, key=lambda c: abs(float(np.corrcoef(frame[c], frame["prediction"])[0, 1]))))


def _model_found(cause: str, kind: str, name: str, column: str) -> bool:
    return cause == "model" and kind in ("concept", "segment")


def main(argv: Sequence[str] | None = None) -> int:
    return still_found(argv, __doc__, FAULTS, _picks, _column, _inject, _model_found)


if __name__ == "__main__":
    raise SystemExit(main())
