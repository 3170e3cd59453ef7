"""A moved input whose rows carry the performance drop is the verdict, beside a milder concept change.

The world: a weather classifier reading a zero-inflated rain gauge and a temperature, three
stations. One station's gauge sticks at 0 (half the traffic: the column's dry share 0.6 -> 0.8)
while every label also gets a little noisier. The drift alone scores as a partial move, and the
concept check took the verdict with the rest of the drop; the rows the fault moved carry it.
"""

from __future__ import annotations

import numpy as np
import pytest

from diagnostics import PredictionLog, diagnose

START = 1_795_000_000.0
SPAN = 8 * 3600.0
N = 20_000


def _weather(seed: int, *, stuck: bool, temp_shift: float, relabel: float) -> tuple[PredictionLog, float]:
    rng = np.random.default_rng(seed)
    ts = START + np.sort(rng.uniform(0.0, SPAN, N))
    onset = float(ts[int(0.6 * N)])
    after = ts >= onset
    station = rng.choice(np.array(["KSEA", "KBFI", "KPAE"], dtype=object), size=N, p=[0.5, 0.3, 0.2])
    rain = np.where(rng.random(N) < 0.6, 0.0, rng.exponential(5.0, N)).round(1)
    temp = rng.normal(12.0, 6.0, N) + np.where(after, temp_shift, 0.0)

    def rule(r: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.where(r > 1.0, "rain", np.where(t > 12.0, "sun", "fog")).astype(object)

    label = rule(rain, temp)
    classes = np.array(["rain", "sun", "fog"], dtype=object)
    noisy = rng.random(N) < np.where(after, 0.2 + relabel, 0.2)
    label[noisy] = rng.choice(classes, size=int(noisy.sum()))
    seen = np.where(after & (station == "KSEA"), 0.0, rain) if stuck else rain
    log = PredictionLog(
        timestamp=ts,
        model_version=np.full(N, "v1", dtype=object),
        prediction=rule(seen, temp),
        label=label,
        latency_ms=20.0 * rng.lognormal(0.0, 0.3, N),
        error=np.zeros(N),
        features={"precipitation": seen, "temp": temp, "station": station},
    )
    return log, onset


@pytest.mark.parametrize("seed", [0, 1])
def test_a_stuck_gauge_on_half_the_traffic_is_the_verdict_beside_a_milder_concept_change(seed: int) -> None:
    log, onset = _weather(seed, stuck=True, temp_shift=0.0, relabel=0.08)
    d = diagnose(log, onset=onset)
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("data", "feature", "precipitation"), d.findings[:3]
    assert d.recommended_mitigation == "naive_model"
    top = d.findings[0]
    assert top.subject == "precipitation" and "carry" in top.evidence and top.details["carried_share"] >= 0.5
    concept = next((f for f in d.findings if f.check == "concept_drift"), None)
    assert concept is None or "most of it" in concept.evidence or concept.score < top.score


@pytest.mark.parametrize("seed", [0, 1])
def test_a_harmless_input_move_beside_a_concept_change_stays_concept(seed: int) -> None:
    """Temperature moved (the model follows it correctly) while labels got noisier everywhere:
    the moved rows carry no more of the drop than the others, so the concept keeps the verdict."""
    log, onset = _weather(seed, stuck=False, temp_shift=3.0, relabel=0.2)
    d = diagnose(log, onset=onset)
    assert (d.cause, d.culprit_kind) == ("model", "concept"), d.findings[:3]
    assert not any("carry" in f.evidence for f in d.findings)
