"""A slice whose own drop is gross and certain is material although the overall drop is small
in accuracy points (a rare-error classifier), and a scan's chance slice still is not."""

from __future__ import annotations

import numpy as np
import pytest

from diagnostics import PredictionLog, diagnose

START = 1_795_000_000.0
SPAN = 8 * 3600.0
N = 16_000


def _case(seed: int, flip_share: float) -> tuple[PredictionLog, float]:
    rng = np.random.default_rng(seed)
    ts = START + np.sort(rng.uniform(0.0, SPAN, N))
    x = rng.uniform(size=(N, 3))
    margin = x[:, 0] + x[:, 1] - 1.0
    label = rng.random(N) < 1.0 / (1.0 + np.exp(-margin / 0.01))
    region = rng.choice(np.array(["eu", "us", "apac", "latam"], dtype=object), p=[0.37, 0.33, 0.22, 0.08], size=N)
    onset = float(ts[int(0.6 * N)])
    hit = (ts >= onset) & (region == "latam") & (rng.random(N) < flip_share)
    label = np.where(hit, ~label, label)  # the world changed in one region only
    log = PredictionLog(
        timestamp=ts,
        model_version=np.full(N, "v1", dtype=object),
        prediction=np.where(margin > 0, "pos", "neg").astype(object),
        label=np.where(label, "pos", "neg").astype(object),
        latency_ms=20.0 * rng.lognormal(0.0, 0.3, N),
        error=np.zeros(N),
        features={"x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "region": region},
    )
    return log, onset


@pytest.mark.parametrize("seed", range(4))
def test_a_certain_drop_in_a_small_region_is_the_verdict_when_the_overall_one_is_small(seed: int) -> None:
    log, onset = _case(seed, 0.15)  # latam (8%) ~1.5% -> ~16% error; overall ~+1 point
    d = diagnose(log, onset=onset)
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("model", "segment", "region=latam"), [
        f.to_dict() for f in d.findings[:3]
    ]


@pytest.mark.parametrize("seed", range(3))
def test_no_regional_change_no_segment(seed: int) -> None:
    log, onset = _case(10 + seed, 0.0)
    assert diagnose(log, onset=onset).cause == "none"
