"""A closed shop's day of weather measured by the whole day's swing, not by its open hours'.

An energy log of a shop open 08:00-19:00 in São Paulo (cycles seed 75, three days): its reference is
Wednesday's open hours, the onset (found, or the alert's) falls in the closed night, and Thursday
and Friday are warmer by a day's weather ('outdoor_temp drifted: KS 0.587, PSI 1.918; median 26 ->
28'). The days' levels step by 3.3 degrees with the wave taken out (`phase.day_levels`); a day's
weather moves its level by at most half the day's swing, but the swing was read over the hours the
log holds, the warm half of the day (5.2), and the step read as more than a day's. A shop closed
at night never logs the night's cool: the whole day's swing is twice the amplitude of one daily
harmonic fitted to its open hours (`phase.whole_day_swing`, 8.5 here).

Guards: the temperature since the alert moved by six degrees (beyond the reference's one day by
6, as `faults_on_weather`'s level fault), scaled by 100, or a fifth of its rows moved by four
standard deviations, is still the verdict; a missing temperature on some rows changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.outside.cycles.faults_on_weather import inject_three
from benchmarks.outside.cycles.gen import Built, build, make_spec
from diagnostics import Diagnosis, diagnose
from diagnostics.loader import frame_to_log, load_log


def _top(d: Diagnosis) -> list[tuple[str, str, float, str]]:
    return [(f.check, f.subject, round(f.score, 2), f.evidence[:140]) for f in d.findings[:3]]


def _closed_shop(tmp_path: Path) -> Built:
    spec = make_spec(75)
    assert (spec.dataset, spec.shape, spec.hours, spec.fault, spec.reference) == ("energy", "closed", 72, "", "own")
    return build(spec, tmp_path)


@pytest.mark.parametrize("given", [False, True])
def test_a_closed_shops_next_day_of_weather_is_no_drift(given: bool, tmp_path: Path) -> None:
    built = _closed_shop(tmp_path)
    d = diagnose(load_log(built.log), changes=built.changes, onset=built.onset if given else None)
    assert d.cause == "none", _top(d)


def test_a_missing_temperature_on_some_rows_changes_nothing(tmp_path: Path) -> None:
    built = _closed_shop(tmp_path)
    frame = pd.read_parquet(built.log)
    temp = frame["outdoor_temp"].to_numpy(dtype=float).copy()
    temp[::9] = np.nan
    frame["outdoor_temp"] = temp
    d = diagnose(frame_to_log(frame), changes=built.changes, onset=built.onset)
    assert not (d.cause == "data" and d.culprit_name == "outdoor_temp" and d.findings[0].check == "drift"), _top(d)


@pytest.mark.parametrize("fault", ["beyond_days", "unit_x100", "fifth_of_rows"])
def test_a_fault_on_the_closed_shops_temperature_is_still_found(fault: str, tmp_path: Path) -> None:
    built = _closed_shop(tmp_path)
    frame = pd.read_parquet(built.log)
    ref = frame[frame["timestamp"].astype("int64").to_numpy() / 1e9 < built.onset]
    faulty = inject_three(frame, "outdoor_temp", built.onset, fault, ref, 6.0, decimals=1)
    d = diagnose(frame_to_log(faulty), changes=built.changes, onset=built.onset)
    assert (d.cause, d.culprit_name) == ("data", "outdoor_temp"), _top(d)
