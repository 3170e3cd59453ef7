"""The onset of a change that shows only in a relation: the series the finding rests on dates it.

An input slid by one row within each request batch, or a batch's first value broadcast over
its rows, keeps every marginal where it was, so the level and mix scans see nothing and the
window fell back to the last quarter of the log (hours late), although diagnosing at the right
time names the input. The relation's own series (the input against its head partner, rows
repeating their neighbour) steps at the fault, and the engine keeps that step when a diagnosis
there names the same input; a healthy log keeps its quiet verdict. Likewise one client's
failures: the overall error rate, diluted by the other clients, steps too little to date the
log, the client's own rate plainly.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from diagnostics import Categorical, Diagnosis, diagnose
from tests.diagnostics.diag_synth import START, make_case, matrix_log

STEP = 3.0
N = 12_000
ONSET_FRAC = 0.6
BATCH = 4


def _world(seed: int) -> tuple[np.random.Generator, np.ndarray, np.ndarray]:
    """Inputs x0, x1, x3 moving together (a rating, a limit, an income), x2 apart; a label of all."""
    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=N)
    x1 = 0.9 * x0 + 0.45 * rng.normal(size=N)
    x2 = rng.normal(size=N)
    x3 = 0.7 * x0 + 0.7 * rng.normal(size=N)
    x = np.column_stack([x0, x1, x2, x3])
    return rng, x, _predict(x) + rng.normal(0.0, 0.5, size=N)


def _predict(x: np.ndarray) -> np.ndarray:
    return x[:, 0] + 0.15 * x[:, 1] + 0.8 * x[:, 2] + 0.2 * x[:, 3]


def _case(fault: str, seed: int, *, withheld: bool, column: int = 0) -> tuple[float, Diagnosis]:
    _, x, label = _world(seed)
    onset_row = int(ONSET_FRAC * N)
    after = np.arange(N) >= onset_row
    first = np.arange(N) - np.arange(N) % BATCH  # each row's batch's first row
    if fault == "shift":  # every row of a batch but its first reads the row before it
        moved = np.where(np.arange(N) % BATCH == 0, np.arange(N), np.arange(N) - 1)
        x[after, column] = x[moved[after], column]
    elif fault == "broadcast":  # every row of a batch carries its first row's value
        x[after, column] = x[first[after], column]
    pred = _predict(x)
    if withheld:
        label = np.where(after, np.nan, label)
    log = matrix_log(x, pred, label, np.full(N, "v1", dtype=object), START, STEP)
    return START + onset_row * STEP, diagnose(log)


def test_an_input_shifted_within_batches_is_dated_by_its_partner_with_labels_withheld() -> None:
    for seed in (0, 1):
        onset, d = _case("shift", seed, withheld=True)
        assert d.cause == "data" and d.culprit_name == "x0", (d.cause, d.culprit_name, d.findings[:2])
        assert abs(d.onset - onset) <= 15 * 60, (d.onset - onset) / 60


def test_a_value_broadcast_over_batches_is_dated_by_rows_repeating_their_neighbour_with_labels_withheld() -> None:
    for seed in (0, 1):
        onset, d = _case("broadcast", seed, withheld=True, column=1)  # no label since: no residual to turn
        assert d.cause == "data" and d.culprit_name == "x1", (d.cause, d.culprit_name, d.findings[:2])
        assert abs(d.onset - onset) <= 15 * 60, (d.onset - onset) / 60


def test_healthy_batches_stay_quiet() -> None:
    for seed in (0, 1):
        _, d = _case("healthy", seed, withheld=False)
        assert d.cause == "none", (d.cause, d.culprit_name, d.findings[:2])


def test_one_clients_failures_are_dated_by_that_clients_error_rate() -> None:
    for seed in (0, 1, 2):
        case = make_case("healthy", seed=seed, n=8000)
        region = case.log.features["region"]
        assert isinstance(region, Categorical)
        names = np.asarray(region.categories, dtype=object)[region.codes]
        rng = np.random.default_rng(seed + 100)
        # one caller in eight (13% of the calls) fails 10% of the time since the onset
        hit = (names == "latam") & (case.log.timestamp >= case.onset) & (rng.random(len(case.log)) < 0.1)
        error = case.log.error
        assert error is not None
        d = diagnose(replace(case.log, error=np.where(hit, 1.0, error)))
        assert d.cause == "service" and d.culprit_kind == "errors", (d.cause, d.culprit_name, d.findings[:2])
        assert abs(d.onset - case.onset) <= 20 * 60, (d.onset - case.onset) / 60
