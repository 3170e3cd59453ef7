"""A loss that follows an input that follows the clock is no concept drift, and no segment.

Healthy logs with real-world cycles gave model verdicts where nothing changed: a linear fit of a
curve in the first of ten inputs, whose rows are served by the time of day, read "concept drift"
in an evening window (matched on all ten inputs, the neighbours sat far along the nine that did
not move, and their mean loss regressed to the reference's); a slice of a few recurring inputs
read "explains 100% of the error increase" when the hour served its hard inputs more often,
each of them scored exactly as before. Each log is built here with numpy and a fixed model.
Guards: a relation that really changed, everywhere or in one slice, is still found.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.outside.cycles.gen import build, make_spec
from diagnostics import diagnose
from diagnostics.loader import frame_to_log, load_log
from diagnostics.log import PredictionLog

T0 = pd.Timestamp("2026-07-02T00:00Z").timestamp()
HOUR = 3600.0


def _top(d: object) -> list[tuple[str, str, float, str]]:
    return [(f.check, f.subject, round(f.score, 2), f.evidence[:140]) for f in d.findings[:3]]  # type: ignore[attr-defined]


def _clock_rows(rng: np.random.Generator, n: int, hours: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.sort(rng.uniform(T0, T0 + hours * HOUR, n))
    hod = ((t - T0) / HOUR) % 24
    return t, 0.5 + 0.5 * np.cos(2 * np.pi * (hod - 19) / 24)  # 1 in the evening, 0 in the morning


def _cycled(seed: int, tmp_path: Path, changed: float = 0.0) -> tuple[PredictionLog, PredictionLog | None, list]:
    """A healthy log of the cycles checker: a linear fit of Friedman's curve whose first input's rank
    follows the clock. `changed` adds that much times the fourth input to the labels from the
    alert on (a relation that changed everywhere)."""
    built = build(make_spec(seed), tmp_path / str(seed))
    if changed:
        df = pd.read_parquet(built.log)
        later = df["timestamp"] >= pd.Timestamp(built.onset, unit="s", tz="UTC")
        df["label"] = df["label"] + changed * df["x3"] * later
        df.to_parquet(built.log, index=False)
    return load_log(built.log), (load_log(built.reference) if built.reference else None), built.changes


@pytest.mark.parametrize("seed", [1, 229])
def test_a_fit_whose_errors_follow_a_clock_following_input_is_not_concept_drift(seed: int, tmp_path: Path) -> None:
    assert make_spec(seed).dataset == "friedman"
    log, ref, changes = _cycled(seed, tmp_path)
    d = diagnose(log, reference=ref, changes=changes)
    assert d.culprit_kind not in ("concept", "segment"), (seed, _top(d))


@pytest.mark.parametrize("seed", [1, 150])
def test_a_relation_that_changed_beside_the_clock_following_input_is_still_found(
    seed: int, tmp_path: Path
) -> None:
    log, ref, changes = _cycled(seed, tmp_path, changed=2.5)
    d = diagnose(log, reference=ref, changes=changes)
    # the change grows with the fourth input: its top slice may carry it
    assert (d.cause, d.culprit_kind) in {("model", "concept"), ("model", "segment")}, (seed, _top(d))


def _pool_log(seed: int, flipped: int = 0) -> tuple[pd.DataFrame, float]:
    """A classifier served a pool of 89 recurring inputs (fixed labels and answers) for 20 hours,
    the pool's rows drawn by the hour: the first input's rank is tilted to the evening, where the
    model errs more. The alert comes at 17:00. `flipped` of the pool's inputs the model answered
    right in the first input's top third get the other label from the alert on (a relation that
    changed in one slice)."""
    rng = np.random.default_rng(seed)
    pool = rng.normal(0, 1, (89, 4))
    score = pool @ np.array([0.4, 1.5, -1.0, 0.5])
    label = (score + rng.normal(0, 0.2, 89) + 0.8 * (pool[:, 0] > 0.8) > 0).astype(int)
    answer = (score > 0).astype(int)
    t, tilt = _clock_rows(rng, 24000, 20)
    order = np.argsort(pool[:, 0])
    rows = order[np.clip((0.35 * tilt + 0.65 * rng.random(t.size)) * 89, 0, 88).astype(int)]
    onset = T0 + 17 * HOUR
    y = label[rows].copy()
    if flipped:
        top = order[-15:]
        victims = top[answer[top] == label[top]][:flipped]
        hit = np.isin(rows, victims) & (t >= onset)
        y[hit] = 1 - y[hit]
    df = pd.DataFrame({"timestamp": pd.to_datetime(t, unit="s", utc=True), "model_version": "v7",
                       "prediction": answer[rows].astype(float), "label": y.astype(float),
                       "latency_ms": rng.lognormal(3.0, 0.2, t.size)})
    return pd.concat([df, pd.DataFrame(np.round(pool[rows], 3), columns=["a", "b", "c", "d"])], axis=1), onset


def test_a_slice_of_recurring_inputs_served_more_often_is_no_segment() -> None:
    for seed in (0, 1, 2):
        df, onset = _pool_log(seed)
        d = diagnose(frame_to_log(df), onset=onset)
        assert d.culprit_kind not in ("concept", "segment"), (seed, _top(d))


def test_recurring_inputs_whose_labels_turned_in_one_slice_are_still_a_model_finding() -> None:
    for seed in (0, 1, 3):
        df, onset = _pool_log(seed, flipped=3)
        d = diagnose(frame_to_log(df), onset=onset)
        assert (d.cause, d.culprit_kind) in {("model", "segment"), ("model", "concept")}, (seed, _top(d))
