"""A redeploy judged against the baseline's rows of other days, at the same conditions (issue 12, cycles checker).

A harmless redeploy (the same recipe refitted on 90% of its rows) of a building's energy model
took over on a Friday morning of a five-day Sydney log; its labelled rows (a Friday and a
Saturday) read MAE 4.36 -> 4.77 against the baseline's Tuesday and Wednesday, and the verdict
named the version (cycles seed 67: "v7 in the reference window" with the onset found, "v7 before
the onset" with the alert's). The version's rows sit at conditions the baseline's rows did not
hold (a weekend day, other weather), and the model's loss follows them. Read at the rows whose
conditions the baseline held (the same half hour and kind of day, inputs as dense as its own,
`matched.condition_gap`), the gap is 4.41 -> 4.63 (z 2.5): no version to blame.
Guard: the same log with the version's answers made worse (noise, or 10% too high) is still
named, by the same reading at the same conditions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.outside.cycles.gen import Built, build, make_spec
from diagnostics import Diagnosis, diagnose
from diagnostics.loader import frame_to_log, load_log


@pytest.fixture(scope="module")
def seed67(tmp_path_factory: pytest.TempPathFactory) -> Built:
    spec = make_spec(67)
    assert (spec.dataset, spec.fault, spec.redeploy, spec.labels) == ("energy", "", True, "withheld")
    return build(spec, tmp_path_factory.mktemp("seed67"))


def _top(d: Diagnosis) -> list[tuple[str, str, float, str]]:
    return [(f.check, f.subject, round(f.score, 2), f.evidence[:300]) for f in d.findings[:3]]


@pytest.mark.parametrize("given", [False, True])
def test_a_redeploy_that_served_other_days_is_judged_at_the_same_conditions(seed67: Built, given: bool) -> None:
    d = diagnose(load_log(seed67.log), changes=seed67.changes, onset=seed67.onset if given else None)
    assert d.culprit_kind != "model_version", _top(d)
    (version,) = [f for f in d.findings if f.check == "version_change"]
    assert "at the same conditions" in version.evidence, version.evidence
    assert 0.5 <= float(version.details["conditions_held_share"]) < 0.75, version.details


@pytest.mark.parametrize(("given", "how"), [(False, "noise"), (True, "noise"), (False, "scale")])
def test_a_worse_version_on_the_same_days_is_still_named(seed67: Built, given: bool, how: str) -> None:
    """`noise`: the version's answers off by noise of half the log's mean absolute error (+12%);
    `scale`: 10% too high (+45%)."""
    frame = pd.read_parquet(seed67.log)
    v8 = (frame["model_version"] == "v8").to_numpy()
    pred = frame["prediction"].to_numpy(dtype=float).copy()
    mae = float(np.nanmean(np.abs(pred - frame["label"].to_numpy(dtype=float))))
    if how == "noise":
        pred[v8] += np.random.default_rng(0).normal(0.0, 0.5 * mae, int(v8.sum()))
    else:
        pred[v8] *= 1.1
    frame["prediction"] = pred
    d = diagnose(frame_to_log(frame), changes=seed67.changes, onset=seed67.onset if given else None)
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("model", "model_version", "v8"), _top(d)
