"""A population shift onto a harder segment is a data cause, named by the input whose mix moved.

One group's share triples since the onset while the model answers every group as well as it
did, but that group was always harder (noisier labels): the error rises ~10% with no segment
worse and no input broken. The verdict read "none"; re-weighting the reference's per-group
error to the window's mix predicts the rise, so the group's input is named. The same mix
change onto a group the model is no worse on, and a harder group whose share holds, stay quiet.
"""

from __future__ import annotations

import numpy as np

from diagnostics import PredictionLog, diagnose
from tests.diagnostics.diag_synth import START

N = 12_000
SPAN = 8 * 3600.0
ONSET_FRAC = 0.6


def _log(seed: int, *, share_after: float, hard_noise: float) -> tuple[PredictionLog, float]:
    rng = np.random.default_rng(seed)
    ts = START + np.sort(rng.uniform(0.0, SPAN, N))
    onset = START + ONSET_FRAC * SPAN
    share = np.where(ts >= onset, share_after, 0.1)
    group = np.where(rng.random(N) < share, "student", "worker").astype(object)
    x0, x1 = rng.normal(size=N), rng.normal(size=N)
    pred = 2.0 * x0 + x1
    noise = np.where(group == "student", hard_noise, 1.0)
    label = pred + noise * rng.normal(size=N)
    log = PredictionLog(
        timestamp=ts,
        model_version=np.full(N, "v1", dtype=object),
        prediction=pred,
        label=label,
        latency_ms=np.full(N, 20.0),
        error=np.zeros(N, dtype=bool),
        features={"x0": x0, "x1": x1, "group": group},
    )
    return log, onset


def test_the_mix_moving_onto_a_harder_group_names_that_input() -> None:
    for seed in (0, 1):
        log, onset = _log(seed, share_after=0.3, hard_noise=1.6)
        d = diagnose(log, onset=onset)
        assert (d.cause, d.culprit_kind, d.culprit_name) == ("data", "feature", "group"), d.findings[:3]
        assert d.findings[0].check == "population_shift"


def test_the_same_mix_change_onto_an_easy_group_or_a_hard_group_that_holds_stays_quiet() -> None:
    for seed in (0, 1):
        for share_after, hard_noise in ((0.3, 1.0), (0.1, 1.6)):
            log, onset = _log(seed, share_after=share_after, hard_noise=hard_noise)
            d = diagnose(log, onset=onset)
            assert d.cause == "none", (share_after, hard_noise, d.findings[:3])
