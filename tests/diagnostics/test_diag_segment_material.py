"""A slice whose own drop is gross and certain is material although the overall drop is small
in accuracy points (a rare-error classifier), and a scan's chance slice still is not."""

from __future__ import annotations

import numpy as np
import pytest

from diagnostics import PredictionLog, diagnose
from diagnostics.segments import Segment, explaining_first

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


def _seg(label: str, share: float, explained: float, ref: float, cur: float) -> Segment:
    return Segment(label, share, explained, ref, cur, 500)


def test_the_culprit_is_the_best_ranked_slice_that_explains_the_drop() -> None:
    """A slice inside the region ranks first on its larger own rise but explains only 56% of the
    excess; the region explains 89% and is the culprit."""
    child = _seg("region=apac and age in (0.01, inf]", 0.09, 0.56, 64.1, 87.7)
    region = _seg("region=apac", 0.22, 0.89, 59.2, 73.7)
    segs, concentrated = explaining_first([child, region], 3.6, lambda s: True)
    assert concentrated and segs[0] is region and segs[1] is child
    # the first that explains keeps its place; nothing explains: the ranking stays, no culprit
    assert explaining_first([region, child], 3.6, lambda s: True) == ([region, child], True)
    assert explaining_first([child], 3.6, lambda s: True) == ([child], False)
    # a rise no steeper than 2.5x the overall one, or a bias shift spread everywhere, is not one
    assert explaining_first([region], 6.0, lambda s: True)[1] is False
    assert explaining_first([region], 3.6, lambda s: False)[1] is False
