"""The onset of a change in the inputs' distribution, found when the labels since it are withheld
(`diagnostics/onset_mix.py`): a flag inverted, a category remapped onto another existing one, a
numeric input clipped at its 70th percentile, a join off by one entity. With the onset given each
is a data fault; with it detected, main's scan left each log undated (the last quarter, 9 hours
late on a two-day log) and the verdict was "none". A healthy log whose inputs follow the clock
and wander from day to day must get no onset from these series.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diagnostics import diagnose
from diagnostics.loader import frame_to_log

MONDAY = pd.Timestamp("2026-11-09T00:00:00Z").timestamp()
DAY = 86400.0


def _times(rng: np.random.Generator, n: int, days: float) -> np.ndarray:
    """Diurnal traffic: a deep daily wave (nights of a few requests per 7-minute bin)."""
    t = MONDAY + rng.uniform(0.0, days * DAY, 4 * n)
    t = t[rng.uniform(size=t.size) < 0.5 + 0.45 * np.sin(2 * np.pi * ((t % DAY) / 3600.0 - 9.0) / 24.0)]
    return np.sort(rng.permutation(t)[:n])


def _level(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """A market level: a daily wave plus a mean-reverting wander from day to day."""
    grid = np.arange(MONDAY - DAY, t[-1] + 600.0, 600.0)
    keep = np.exp(-600.0 / (8 * 3600.0))
    walk = np.zeros(grid.size)
    shocks = rng.normal(0.0, 0.06 * np.sqrt(1.0 - keep**2), grid.size)
    for i in range(1, grid.size):
        walk[i] = keep * walk[i - 1] + shocks[i]
    return 0.8 * np.sin(2 * np.pi * ((t % DAY) / 3600.0 - 8.0) / 24.0) + np.interp(t, grid, walk)


def _requests(seed: int, fault: str) -> tuple[pd.DataFrame, float]:
    """Two days of a conversion score over diurnal traffic; the labels since the onset (62% of the
    span) are withheld. Devices whose mix follows the hour (phones in the evening), a returning
    flag, 2,000 users with a joined lifetime value, a wandering market level, a chronic-disease
    score of 30 values. `fault` turns one input at the onset ("" for none)."""
    rng = np.random.default_rng(seed)
    ts = _times(rng, 9000, 2.0)
    n = ts.size
    hour = (ts % DAY) / 3600.0
    phone = 0.45 + 0.15 * np.sin(2 * np.pi * (hour - 14.0) / 24.0)
    u = rng.uniform(size=n)
    device = np.where(u < phone, "ios", np.where(u < phone + 0.25, "tablet", "web"))
    returning = (rng.uniform(size=n) < 0.35 + 0.05 * np.sin(2 * np.pi * (hour - 20.0) / 24.0)).astype(float)
    table = np.round(rng.gamma(2.0, 40.0, 2001), 2)
    user = rng.integers(0, 2000, n)
    ltv = table[user]
    level = np.round(_level(rng, ts) + rng.normal(0.0, 0.12, n), 3)
    disease = np.round(np.minimum(rng.gamma(2.0, 5.0, n), 29.0))
    logit = (-1.2 + 0.6 * returning + 0.01 * (ltv - 80.0) + 0.9 * level + 0.05 * (disease - 10.0)
             + np.select([device == "ios", device == "tablet"], [0.4, -0.5], 0.0))
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-logit))).astype(float)
    onset = float(ts[0] + 0.62 * (ts[-1] - ts[0]))
    after = ts >= onset
    if fault == "invert":
        returning = np.where(after, 1.0 - returning, returning)
    elif fault == "remap":
        device = np.where(after & (device == "tablet"), "web", device)
    elif fault == "clip":
        cap = float(np.percentile(disease, 70))
        disease = np.where(after, np.minimum(disease, cap), disease)
    elif fault == "join":
        ltv = np.where(after, table[user + 1], ltv)
    served = (-1.2 + 0.6 * returning + 0.01 * (ltv - 80.0) + 0.9 * level + 0.05 * (disease - 10.0)
              + np.select([device == "ios", device == "tablet"], [0.4, -0.5], 0.0))
    df = pd.DataFrame({"timestamp": ts, "model_version": "v1", "user_id": np.char.add("u", user.astype(str)),
                       "device": device, "is_returning": returning, "user_ltv": ltv, "market_level": level,
                       "disease": disease, "prediction": np.round(1.0 / (1.0 + np.exp(-served)), 4),
                       "label": np.where(after, np.nan, y)})
    return df, onset


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    ("fault", "column"),
    [("invert", "is_returning"), ("remap", "device"), ("clip", "disease"), ("join", "user_ltv")],
)
def test_a_moved_input_without_labels_is_dated_and_found(fault: str, column: str, seed: int) -> None:
    """Each fault moves a fifth or more of an input's rows (or every joined value) and nothing
    else: no label after the onset, a prediction that moves a little. The per-bin mean of the
    input weighs a night's bin of three rows like a day's of forty, and its step was under the
    bar; the shares of the input's values, each bin weighed by its rows, step far above it."""
    df, onset = _requests(seed, fault)
    d = diagnose(frame_to_log(df, name=f"requests-{fault}"))
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("data", "feature", column), d.findings[:3]
    assert d.onset_detected
    assert abs(d.onset - onset) <= 0.05 * (df["timestamp"].iloc[-1] - df["timestamp"].iloc[0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_healthy_diurnal_log_gets_no_onset_from_its_inputs_mix(seed: int) -> None:
    """Devices whose mix follows the hour, a flag whose share does, a level with a daily wave and
    a day-to-day wander, a per-user value joined right: none of their shares steps beyond the
    daily cycle and the wander's own long-run scatter, and the log stays undated."""
    from diagnostics.onset import HEAD_FRACTION, MIN_Z, MIX_PENALTY, detect_onset
    from diagnostics.onset_mix import mix_steps

    df, _ = _requests(seed, "")
    log = frame_to_log(df, name="requests")
    found = detect_onset(log, np.full(len(log), np.nan), [])
    assert not found.series.endswith((":mix", ":kept")), found
    ts = log.timestamp
    n_bins = min(400, max(12, len(log) // 25))
    b = np.minimum(((ts - ts[0]) / ((ts[-1] - ts[0]) / n_bins)).astype(np.int64), n_bins - 1)
    centres = ts[0] + (np.arange(n_bins) + 0.5) * (ts[-1] - ts[0]) / n_bins
    steps = mix_steps(log, slice(None), b, n_bins, centres, HEAD_FRACTION)
    assert steps and steps[0][0] / MIX_PENALTY < 0.75 * MIN_Z, steps[:3]
    d = diagnose(log)
    assert d.cause == "none", d.findings[:3]
    # a calendar column (the day's name) holds one value per bin: its share steps at midnight,
    # beyond any scatter, and is no change of the inputs
    days = frame_to_log(df.assign(day=np.where(df["timestamp"] - MONDAY < DAY, "Monday", "Tuesday")), name="days")
    assert "day:mix" not in [name for _, _, name in mix_steps(days, slice(None), b, n_bins, centres, HEAD_FRACTION)]
