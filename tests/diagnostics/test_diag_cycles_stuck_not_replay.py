"""An input stuck since the onset is no replay (issue 12, 22c).

A replay (a queue delivering twice, a client retrying, a job re-sending an hour) repeats whole
requests: every input of an earlier row. An input stuck at its last reading (a sensor, a feature
pipeline that stopped refreshing) makes every request agree on that one column while the others
keep varying, so on a log of a few coarse inputs (ride demand and a temperature in tenths,
drizzle mostly 0, the day's name) whole requests collide far more often than before, and
`replayed_requests` read "Requests are being repeated: 82% of the 255 rows since the onset repeat
an earlier request's inputs exactly" above "Feature 'demand' is stuck at 30.5": the service was
paged for a data fault. Without the frozen column a replay's rows still repeat; a stuck input's do
not. Logs are the cycles checker's tuning seeds, rebuilt, with the fault of
`benchmarks.outside.cycles.faults_on_waves` injected.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.outside.cycles.faults_on_waves import _inject
from benchmarks.outside.cycles.gen import Built, build, make_spec
from diagnostics import diagnose
from diagnostics.loader import frame_to_log


def _rides(seed: int) -> tuple[pd.DataFrame, Built]:
    """A rides log under a day (demand, rain_mm, temperature, day_name), its own rows the reference."""
    built = build(make_spec(seed), Path(tempfile.mkdtemp(prefix="cyc-stuck-")))
    return pd.read_parquet(built.log), built


def _diagnose(frame: pd.DataFrame, built: Built) -> tuple[str, str, list[str]]:
    frame = frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
    d = diagnose(frame_to_log(frame), changes=built.changes, onset=built.onset)
    return d.cause, d.culprit_name, [f.evidence for f in d.findings if f.check == "replayed_requests" and f.score > 0]


def _seconds(frame: pd.DataFrame) -> np.ndarray:
    return frame["timestamp"].astype("int64").to_numpy() / 1e9


def test_a_demand_level_stuck_since_the_onset_is_named_not_replayed() -> None:
    # main (seed 30, 8 h): "Requests are being repeated: 82% of the 255 rows since the onset repeat
    # an earlier request's inputs exactly, against 9.8% just before" (seed 57, 6 h: 95% against 22%)
    for seed in (30, 57):
        frame, built = _rides(seed)
        stuck = _inject(frame, "demand", built.onset, "stuck", frame)
        cause, name, replays = _diagnose(stuck, built)
        assert not replays, (seed, replays)
        assert (cause, name) == ("data", "demand"), (seed, cause, name)


def test_retries_on_the_same_logs_are_still_found() -> None:
    # guard: a client retrying a third of its calls since the onset, 1-4 s apart (seed 57, the
    # stuck test's 6-hour log; seed 36, 20 hours. Seed 30's 255 rows since the onset are too few
    # for retries to show on main's code too)
    for seed in (57, 36):
        frame, built = _rides(seed)
        t = _seconds(frame)
        rng = np.random.default_rng(seed)
        dup = frame[(t >= built.onset) & (rng.random(t.size) < 0.33)].copy()
        dup["timestamp"] = dup["timestamp"] + pd.to_timedelta(rng.uniform(1, 4, len(dup)), unit="s")
        cause, name, replays = _diagnose(pd.concat([frame, dup]), built)
        assert replays and (cause, name) == ("service", "traffic"), (seed, cause, name)


def test_retries_beside_an_input_that_turned_constant_are_still_found() -> None:
    # guard: the client retries a third of its calls, and a band flag the request carries turns
    # constant at the onset (a peak-hours flag, on since then): the flag is frozen, the retries
    # repeat every other input too
    frame, built = _rides(36)
    t = _seconds(frame)
    rng = np.random.default_rng(1)
    frame["peak_band"] = np.where(t >= built.onset, 1.0, rng.integers(0, 3, t.size).astype(float))
    dup = frame[(t >= built.onset) & (rng.random(t.size) < 0.33)].copy()
    dup["timestamp"] = dup["timestamp"] + pd.to_timedelta(rng.uniform(1, 4, len(dup)), unit="s")
    cause, name, replays = _diagnose(pd.concat([frame, dup]), built)
    assert replays and (cause, name) == ("service", "traffic"), (cause, name, replays)
