"""A fifth of a used input's rows moved by one standard deviation (lead, session 14).

The issue's target class counts "20% or more of the rows of a feature the model uses moved" a
fault. Moved by 1 sd, a fifth of the rows shifts the input's distribution by KS ~0.07: under the
drift bar (0.1) and under the old slight-drift bar (2 critical values, 0.083 on these windows),
though 1.6 critical values is p ~ 1e-10. The model reads the input, so the moved rows carry the
error's rise, and the verdict was "concept drift, the inputs held". A slight move now counts from
1.5 critical values; it names the input only when the loss carry shows its moved rows carry the
drop, so an input that moved as slightly on a log whose error did not rise stays quiet."""

from __future__ import annotations

import numpy as np
import pytest

from diagnostics import PredictionLog, diagnose

START = 1_795_000_000.0
N = 10_000


def _log(seed: int, shift: float, model_reads_it: bool = True, concept: float = 0.0) -> tuple[PredictionLog, float]:
    rng = np.random.default_rng(seed)
    ts = START + np.sort(rng.uniform(0.0, 2 * 86400.0, N))
    x = rng.normal(size=(N, 3))
    truth = 2.0 * x[:, 0] + x[:, 1] - 0.5 * x[:, 2]
    onset = float(ts[int(0.6 * N)])
    served = x.copy()
    moved = (ts >= onset) & (rng.uniform(size=N) < 0.2)
    served[moved, 0] += shift
    pred = (2.0 * served[:, 0] if model_reads_it else 2.0 * x[:, 0]) + x[:, 1] - 0.5 * x[:, 2]
    log = PredictionLog(
        timestamp=ts,
        model_version=np.full(N, "2.1.0", dtype=object),
        prediction=pred + rng.normal(0.0, 0.3, N),
        label=truth + rng.normal(0.0, 1.0, N) + np.where(ts >= onset, concept, 0.0),
        features={f"x{i}": served[:, i] for i in range(3)},
        name="partial_shift",
    )
    return log, onset


def test_a_fifth_of_a_used_inputs_rows_moved_by_one_sd_names_the_input_in_most_logs() -> None:
    """Ten logs: session 13's code named x0 in 3 (KS at 2 critical values, and the carry read in
    every bin that lost rows, which still hold moved rows); session 14's in 6 (the rest read
    "concept drift": with ten bins every bin below the shift holds some moved rows, so the share
    read in the losing bins is a floor); 10 since the unmoved rows' rise is read off a line through
    every bin's rise against its moved share (`loss_carry._unmoved_rise`; 19 of seeds 0-19)."""
    named = []
    for seed in range(10):
        log, onset = _log(seed, 1.0)
        d = diagnose(log, onset=onset)
        assert d.cause in ("data", "model"), d.findings[0].evidence
        named.append((d.cause, d.culprit_kind, d.culprit_name) == ("data", "feature", "x0"))
    assert sum(named) >= 9, named


@pytest.mark.parametrize("seed", [0, 1])
def test_the_same_move_the_model_does_not_feel_is_no_verdict_of_drift_alone(seed: int) -> None:
    """The moved rows are served as before (the model does not read the moved copy): no error rise."""
    log, onset = _log(seed, 1.0, model_reads_it=False)
    d = diagnose(log, onset=onset)
    assert d.cause == "none", [f.evidence for f in d.findings[:2]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_change_everywhere_beside_a_move_the_model_does_not_feel_is_not_the_inputs(seed: int) -> None:
    """The labels rose by 1.5 on every row since the onset while a fifth of x0's rows moved, served
    as before: every bin's rise is alike whatever its moved share, so the line's rise at no moved
    rows is the whole rise and the input carries none of it (a model cause, never x0)."""
    log, onset = _log(seed, 1.0, model_reads_it=False, concept=1.5)
    d = diagnose(log, onset=onset)
    assert d.cause == "model" and d.culprit_name != "x0", [f.evidence for f in d.findings[:2]]
