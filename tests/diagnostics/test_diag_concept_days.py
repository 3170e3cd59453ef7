"""A rise at the same inputs that some days carry is no concept drift on a window of days.

A forest fitted on three cool days and judged over two weeks (cycles seed 156, a Berlin bike log,
onset found after three and a half days) loses what it loses on the warm days it never saw: the
window's daily MAE at the same inputs runs from -17% to +37% of the reference's with the warmth of
each day. Over 11,000 matched rows the row-level z of the mean rise (+9%) is 9, and "the relation
between inputs and labels changed" was the verdict. Rows of one day share its weather: read with
the window's local days as clusters (`matched.across_days_z`), the rise is z 2.4-3.5, a
day-to-day swing, not a change. A relation that changed raises the loss on every day.

A slice is read so too (`segments._rose_at_same_inputs`): a tenth of a two-week log's traffic
whose loss rose on two days of eight was "the segment that explains 100% of the error increase".

Guards: the same bike log with the labels' bearing on the temperature changed since the alert, or
every label scaled by 1.25, is still concept drift; a synthetic two-week log whose noise grew by
15% at the onset is too, and the slice whose loss rose since the onset is still the segment.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.outside.cycles.gen import build, make_spec
from diagnostics import Diagnosis, diagnose
from diagnostics.loader import frame_to_log, load_log
from tests.diagnostics.test_diag_concept_conditions import labels_changed_since_onset


def _top(d: Diagnosis) -> list[tuple[str, str, float, str]]:
    return [(f.check, f.subject, round(f.score, 2), f.evidence[:140]) for f in d.findings[:3]]


def test_a_rise_that_the_warm_days_carry_is_not_concept_drift(tmp_path: Path) -> None:
    spec = make_spec(156)
    assert (spec.dataset, spec.model, spec.hours, spec.fault, spec.redeploy) == ("bike", "forest", 336, "", False)
    built = build(spec, tmp_path)
    d = diagnose(load_log(built.log), changes=built.changes)  # the onset found in the log
    assert d.culprit_kind not in ("concept", "segment"), _top(d)


@pytest.mark.parametrize("scale", [0.0, 1.25])
def test_labels_changed_since_the_alert_on_the_two_weeks_are_still_concept_drift(
    scale: float, tmp_path: Path
) -> None:
    """`scale` 1.25: every label since the alert scaled by it; 0: the labels moved by half their
    spread times the temperature, standardized (its bearing on the count changed)."""
    built = build(make_spec(156), tmp_path)
    d = diagnose(labels_changed_since_onset(built, scale), changes=built.changes, onset=built.onset)
    assert (d.cause, d.culprit_kind) == ("model", "concept"), _top(d)


def _days_log(rise_on: list[int] | None, noise: float, slice_from: float | None = None) -> tuple[pd.DataFrame, float]:
    """Fourteen days of a regression (UTC, an hour input), the last eight the window: the noise
    times `noise` on the window's days in `rise_on`, or on all of them (None); on every row, or on
    the slice of rows whose first input exceeds `slice_from`."""
    rng = np.random.default_rng(3)
    n = 14 * 24 * 60
    ts = 1_767_225_600.0 + np.sort(rng.uniform(0, 14 * 86_400, n))
    hour = np.floor((ts % 86_400) / 3_600)
    x, z = rng.normal(0, 1, n), rng.normal(0, 1, n)
    day = ((ts - ts[0]) // 86_400).astype(int)
    onset = ts[0] + 6 * 86_400
    hit = ts >= onset if rise_on is None else np.isin(day, [6 + d for d in rise_on])
    if slice_from is not None:
        hit &= x > slice_from
    pred = 3.0 * x + z + 0.1 * hour
    label = pred + rng.normal(0, 1, n) * np.where(hit, noise, 1.0)
    frame = pd.DataFrame({"timestamp": pd.to_datetime(ts, unit="s", utc=True), "model_version": "v1",
                          "prediction": pred, "label": label, "x": x, "z": z, "hour": hour})
    return frame, onset


def test_a_rise_on_two_days_of_eight_is_not_concept_drift() -> None:
    frame, onset = _days_log([2, 5], 1.6)
    d = diagnose(frame_to_log(frame), onset=onset)
    assert d.culprit_kind not in ("concept", "segment"), _top(d)


def test_a_relation_changed_at_the_onset_of_a_window_of_days_is_concept_drift() -> None:
    frame, onset = _days_log(None, 1.15)
    d = diagnose(frame_to_log(frame), onset=onset)
    assert (d.cause, d.culprit_kind) == ("model", "concept"), _top(d)


def test_a_slice_whose_loss_rose_on_two_days_of_eight_is_not_a_segment() -> None:
    """The slice's rows (a tenth of the traffic) lose eight times their noise on two days: its
    loss rose at its own inputs across the rows (z well past 3), not across the days."""
    frame, onset = _days_log([2, 5], 8.0, slice_from=1.5)
    d = diagnose(frame_to_log(frame), onset=onset)
    assert d.culprit_kind not in ("concept", "segment"), _top(d)


def test_a_slice_whose_loss_rose_since_the_onset_is_a_segment() -> None:
    frame, onset = _days_log(None, 8.0, slice_from=1.5)
    d = diagnose(frame_to_log(frame), onset=onset)
    assert (d.cause, d.culprit_kind) == ("model", "segment"), _top(d)
