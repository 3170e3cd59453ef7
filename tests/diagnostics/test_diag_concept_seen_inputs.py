"""A loss that follows the clock into hours the reference never held is no concept drift.

A model's loss follows inputs that follow the clock (fraud is likelier at night, a building's load
follows the working hours): a window at hours its reference never held loses what the model loses
there, which the reference cannot say. The cycles checker's 24-hour payments log (seed 6, onset
found), whose first eight hours were the reference, read "the relation between inputs and labels
changed" over the night after, while the window's rows at the reference's own hours scored better
than the reference. Here a regression's noise is larger from 10:00 to 22:00; the reference holds
the hours 0-9, the window runs to 10:00 the next day. Guard: the labels' relation to the input
changed from the onset on is still concept drift (the window's rows at seen hours carry it too).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from diagnostics import diagnose
from diagnostics.loader import frame_to_log

T0 = pd.Timestamp("2026-07-02T00:00Z").timestamp()
HOUR = 3600.0
ONSET = T0 + 10 * HOUR


def _log(seed: int, changed: float = 0.0) -> pd.DataFrame:
    """34 hours of a fixed model (prediction 2x) whose label noise is 1.8 times larger at 10:00-22:00;
    `changed` adds that much times x to the labels from the onset on."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(T0, T0 + 34 * HOUR, 8000))
    hour = np.floor(((t - T0) / HOUR) % 24)
    x = rng.normal(0, 1, t.size)
    noise = rng.normal(0, 1, t.size) * np.where((hour >= 10) & (hour < 22), 1.8, 1.0)
    label = 2 * x + noise + changed * x * (t >= ONSET)
    return pd.DataFrame({"timestamp": pd.to_datetime(t, unit="s", utc=True), "model_version": "v7",
                         "prediction": np.round(2 * x, 3), "label": np.round(label, 3),
                         "latency_ms": rng.lognormal(3.0, 0.2, t.size), "x": np.round(x, 3), "hour": hour})


def _top(d: object) -> list[tuple[str, str, float, str]]:
    return [(f.check, f.subject, round(f.score, 2), f.evidence[:120]) for f in d.findings[:3]]  # type: ignore[attr-defined]


def test_a_loss_that_follows_the_clock_into_unseen_hours_is_not_concept_drift() -> None:
    for seed in (0, 2):
        d = diagnose(frame_to_log(_log(seed)), onset=ONSET)
        assert d.culprit_kind != "concept", (seed, _top(d))


def test_a_relation_that_changed_at_the_onset_is_still_concept_drift_beside_unseen_hours() -> None:
    for seed in (0, 2):
        d = diagnose(frame_to_log(_log(seed, changed=0.8)), onset=ONSET)
        assert (d.cause, d.culprit_kind) == ("model", "concept"), (seed, _top(d))


ONSET_LATE = T0 + 5.5 * HOUR


def _read_hours(seed: int, changed: float = 0.0) -> pd.DataFrame:
    """16 hours of a model that reads the hour (prediction 2x + the hour's wave, as the labels), its
    label noise 1.8 times larger from 09:00; the reference holds the hours 0-5, the alert at 05:30
    leaves seen rows only at the window's start. `changed` adds that much times x from the onset on."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(T0, T0 + 16 * HOUR, 8000))
    hour = np.floor(((t - T0) / HOUR) % 24)
    x = rng.normal(0, 1, t.size)
    wave = 3 * np.sin(2 * np.pi * hour / 24)
    noise = rng.normal(0, 1, t.size) * np.where(hour >= 9, 1.8, 1.0)
    label = 2 * x + wave + noise + changed * x * (t >= ONSET_LATE)
    return pd.DataFrame({"timestamp": pd.to_datetime(t, unit="s", utc=True), "model_version": "v7",
                         "prediction": np.round(2 * x + wave, 3), "label": np.round(label, 3),
                         "latency_ms": rng.lognormal(3.0, 0.2, t.size), "x": np.round(x, 3), "hour": hour})


def test_a_window_at_unseen_hours_whose_loss_did_not_rise_inside_it_is_not_concept_drift() -> None:
    for seed in (0, 2):
        d = diagnose(frame_to_log(_read_hours(seed)), onset=ONSET_LATE)
        assert d.culprit_kind != "concept", (seed, _top(d))


def test_a_relation_that_changed_at_the_onset_still_shows_at_the_few_seen_rows() -> None:
    for seed in (0, 2):
        d = diagnose(frame_to_log(_read_hours(seed, changed=0.8)), onset=ONSET_LATE)
        assert (d.cause, d.culprit_kind) == ("model", "concept"), (seed, _top(d))
