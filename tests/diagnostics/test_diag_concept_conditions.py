"""A loss that follows the day's conditions is no concept drift when the same conditions carried it before.

Healthy bike-count logs of the cycles checker read "the relation between inputs and labels
changed" where the window held hours, kinds of day or combinations of inputs its reference
never held, and matching on the inputs as numbers let the neighbours come from other
conditions:

- the window's own halves (`matched.rose_inside`): an afternoon's 14:00-15:00 rows were
  matched to the morning's 12:00-13:00 rows of the same warmth and lost more towards the
  evening peak (seed 168, a 20-hour London log); a Monday's commute was matched to a Sunday's
  (seed 31, a 36-hour São Paulo log whose reference is Sunday night: its workday flag, constant
  there, shows no influence and was not matched);
- the reference (`matched.held_conditions`): a 21-hour reference that ended at 16:30 held
  the half hour before a 17:30 peak; its window's 16:30-17:00 rows at the same logged hour and
  weather lost 60% more, and its 17:00-19:00 rows the reference never held (seed 235, a linear
  fit over three Berlin days);
- a slice (`segments._rises_where_held`): "humidity in (-inf, 68] explains 100% of the error
  increase: loss 2.352 -> 3.271" (the warm hours of a 36-hour Berlin log) while the slice's 544
  rows at conditions its 8-hour reference held lost 2.38 against 2.41 there (seed 43).

Rows are now compared only within the same cell of the local day (its half hour, and whether
it is a weekend day), and the concept is also read at the window's rows whose conditions the
reference held as densely as its own rows, when those reach the window's end, and a slice must
rise at its rows so held too.
Guards: a relation that changed since the alert on the same logs is still a model verdict.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.outside.cycles.gen import Built, build, make_spec
from diagnostics import Diagnosis, PredictionLog, diagnose
from diagnostics.loader import frame_to_log, load_log


def _top(d: Diagnosis) -> list[tuple[str, str, float, str]]:
    return [(f.check, f.subject, round(f.score, 2), f.evidence[:140]) for f in d.findings[:3]]


@pytest.mark.parametrize("seed", [31, 43, 168, 235])
def test_a_loss_that_follows_the_hour_and_the_kind_of_day_is_not_concept_drift(seed: int, tmp_path: Path) -> None:
    spec = make_spec(seed)
    assert (spec.dataset, spec.fault, spec.redeploy) == ("bike", "", False)
    built = build(spec, tmp_path / str(seed))
    d = diagnose(load_log(built.log), changes=built.changes)  # the onset found in the log
    assert d.culprit_kind not in ("concept", "segment"), (seed, _top(d))


@pytest.mark.parametrize(("seed", "scale"), [(168, 1.25), (168, 0.0), (156, 1.25)])
def test_labels_that_changed_since_the_alert_are_still_a_model_verdict(
    seed: int, scale: float, tmp_path: Path
) -> None:
    """`scale` 1.25: every label since the alert scaled by it; 0: the labels moved by half their
    spread times the temperature, standardized (its bearing on the count changed)."""
    built = build(make_spec(seed), tmp_path / str(seed))
    d = diagnose(labels_changed_since_onset(built, scale), changes=built.changes, onset=built.onset)
    assert (d.cause, d.culprit_kind) in {("model", "concept"), ("model", "segment")}, (seed, _top(d))


def labels_changed_since_onset(built: Built, scale: float, column: str = "temperature") -> PredictionLog:
    """A cycles log's labels since its onset scaled by `scale`, or (0) moved by half their spread
    times the input `column` (a bike log's temperature), standardized: a real change of the
    relation, for concept guards."""
    frame = pd.read_parquet(built.log)
    after = frame["timestamp"].astype("int64").to_numpy() / 1e9 >= built.onset
    label = frame["label"].to_numpy(dtype=float).copy()
    if scale:
        label[after] *= scale
    else:
        t = frame[column].to_numpy(dtype=float)
        label[after] += 0.5 * float(np.nanstd(label)) * ((t - t.mean()) / t.std())[after]
    frame["label"] = label
    return frame_to_log(frame)
