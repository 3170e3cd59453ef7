"""A label that followed an input only through the clock, on a window of other hours, is no broken join.

A temperature rises through the morning as a city's commute does: over a reference of a few
night and morning hours the bike counts follow the temperature's bins clearly, while at any one
hour they hardly do. A window of the whole day, or of the morning after an evening's reference,
holds that link no more, and `label_relation` read 'temperature no longer tells anything about
the label ... its values look joined to the wrong rows' on healthy logs (the cycles checker's
seeds 178, a 36-hour Berlin bike log with a six-hour night reference, and 85, a 72-hour
Los Angeles rides log whose onset is dated just past a local midnight; issue-20c). The
reference's link is now also read within each cell of the local day (`_through_the_clock`):
no more than chance there, and the window mostly at other cells, the window's hours moved it.
Guards: the same seed's temperature joined from other rows since the onset is still found, and
a label that follows its input within the hour (a log built here) keeps its broken join.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.outside.cycles.gen import build, make_spec
from diagnostics import Diagnosis, diagnose
from diagnostics.loader import frame_to_log, load_log


def _top(d: Diagnosis) -> list[tuple[str, str, float, str]]:
    return [(f.check, f.subject, round(f.score, 2), f.evidence[:140]) for f in d.findings[:3]]


@pytest.mark.parametrize("seed", [178, 85])
def test_a_link_the_clock_carried_is_no_broken_join_on_a_window_of_other_hours(seed: int, tmp_path: Path) -> None:
    spec = make_spec(seed)
    assert (spec.fault, spec.redeploy) == ("", False)
    built = build(spec, tmp_path / str(seed))
    d = diagnose(load_log(built.log), changes=built.changes)  # the onset found in the log
    assert d.cause == "none", (seed, _top(d))


def test_the_temperature_joined_from_other_rows_since_the_onset_is_still_found(tmp_path: Path) -> None:
    built = build(make_spec(178), tmp_path / "178")
    df = pd.read_parquet(built.log)
    after = (df["timestamp"] >= pd.Timestamp(built.onset, unit="s", tz="UTC")).to_numpy()
    rows = np.flatnonzero(after)
    df.loc[rows, "temperature"] = df["temperature"].to_numpy()[np.random.default_rng(0).permutation(rows)]
    d = diagnose(frame_to_log(df), changes=built.changes, onset=built.onset)
    assert (d.cause, d.culprit_name) == ("data", "temperature"), _top(d)


def _within_hour_log(join: bool) -> tuple[Diagnosis, list[tuple[str, str, float, str]]]:
    """40 hours from 00:00 local (UTC+1) with an hour input; the label follows `temp_c` at every hour.

    The reference is the first ten hours (a night and a morning), the window the rest; with `join`
    the window's `temp_c` comes from other rows of the window.
    """
    rng = np.random.default_rng(7)
    t0 = pd.Timestamp("2026-09-07T00:00Z").timestamp() - 3600.0
    t = np.sort(rng.uniform(t0, t0 + 40 * 3600.0, 12000))
    hour = ((t - t0) / 3600.0) % 24
    temp = 15 + 4 * np.cos(2 * np.pi * (hour - 15) / 24) + rng.normal(0, 1.5, t.size)
    commute = np.exp(-0.5 * ((hour - 8) / 1.2) ** 2) + np.exp(-0.5 * ((hour - 17.5) / 1.5) ** 2)
    label = 2.0 * temp + 6 * commute + rng.normal(0, 1.0, t.size)
    onset = t0 + 10 * 3600.0
    served = temp.copy()
    if join:
        rows = np.flatnonzero(t >= onset)
        served[rows] = temp[rng.permutation(rows)]
    pred = 2.0 * served + 6 * commute
    df = pd.DataFrame({"timestamp": pd.to_datetime(t, unit="s", utc=True), "model_version": "v1",
                       "prediction": np.round(pred, 3), "label": np.round(label, 3),
                       "latency_ms": rng.lognormal(3.0, 0.2, t.size), "temp_c": np.round(served, 1),
                       "hour": np.floor(hour)})
    d = diagnose(frame_to_log(df), onset=onset)
    return d, _top(d)


def test_a_label_that_follows_its_input_within_the_hour_keeps_its_broken_join() -> None:
    d, top = _within_hour_log(join=True)
    assert (d.cause, d.culprit_name) == ("data", "temp_c"), top
    assert any(f.check == "relation_break" and f.subject == "temp_c" and f.score > 0 for f in d.findings), top
