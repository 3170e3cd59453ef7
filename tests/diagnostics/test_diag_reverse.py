"""A version without labels judged on the reference's own labels (`diagnostics.matched.reverse_gap`).

Fresh inputs (no served input repeats, none is in the reference) and labels withheld since the
onset: the label model is weaker than the versions it judges there (on make_friedman1 it
estimates the baseline's error at ~1.5 where the versions err ~0.9), so a worse, smoother
version was estimated *better*. Scoring each labelled reference row by either version's answer
at the nearest input it served (pools of equal size) needs no estimated label. A worse version is
rolled back, an equivalent retrain and a *better* version are not blamed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pytest
from scipy import stats
from sklearn.datasets import make_classification, make_friedman1
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier

from diagnostics import PredictionLog, diagnose
from diagnostics.matched import answer_cluster_z, cluster_z

START = 1_795_000_000.0
SPAN = 6 * 3600.0
N = 9_000  # served rows, all distinct; 60% before the onset


def test_cluster_z_is_the_one_sample_z_when_no_answer_is_shared() -> None:
    rng = np.random.default_rng(0)
    diff = rng.normal(0.05, 1.0, 800)
    ids = np.arange(800)
    z = diff.mean() / (diff.std() / np.sqrt(800))  # iid, variance with 1/n
    assert cluster_z(diff, ids, ids) == pytest.approx(z, rel=1e-9)


def test_cluster_z_counts_a_shared_answer_once() -> None:
    """Every difference repeated four times (one answer scored four rows): the evidence is the
    quarter as many distinct answers, not four times as many rows."""
    rng = np.random.default_rng(1)
    base = rng.normal(0.1, 1.0, 300)
    diff = np.repeat(base, 4)
    ids = np.repeat(np.arange(300), 4)
    iid = diff.mean() / (diff.std() / np.sqrt(diff.size))
    z = cluster_z(diff, ids, ids)
    assert z == pytest.approx(iid / 2.0, rel=0.02)
    assert z == pytest.approx(stats.ttest_1samp(base, 0.0).statistic, rel=0.01)


def _brute_force_answer_cluster_z(lv: np.ndarray, lb: np.ndarray, jv: np.ndarray, jb: np.ndarray) -> float:
    """The definition, term by term: every pair of terms (+-loss / k) that shares the scored row, or
    the same answer on the same side, adds its product to the variance of the sum."""
    n, k = lv.shape
    e = np.concatenate([((lv - lv.mean()) / k).ravel(), (-(lb - lb.mean()) / k).ravel()])
    row = np.concatenate([np.repeat(np.arange(n), k)] * 2)
    side = np.repeat([0, 1], n * k)
    ans = np.concatenate([jv.ravel(), jb.ravel()])
    share = (row[:, None] == row[None, :]) | ((side[:, None] == side[None, :]) & (ans[:, None] == ans[None, :]))
    row_sums = (lv - lv.mean()).mean(axis=1) - (lb - lb.mean()).mean(axis=1)
    var = max(float(e @ share @ e), float(row_sums @ row_sums)) / n**2
    return float(lv.mean() - lb.mean()) / np.sqrt(var)


@pytest.mark.parametrize("pool", [7, 40, 400])
def test_answer_cluster_z_matches_the_pairwise_definition(pool: int) -> None:
    rng = np.random.default_rng(pool)
    n, k = 120, 5
    # k distinct answers per row from a pool of `pool` (fewer answers: more sharing)
    jv = np.argsort(rng.random((n, pool)), axis=1)[:, :k]
    jb = np.argsort(rng.random((n, pool)), axis=1)[:, :k]
    lv = rng.random(pool)[jv] + rng.normal(0.1, 0.3, (n, k))
    lb = rng.random(pool)[jb] + rng.normal(0.0, 0.3, (n, k))
    assert answer_cluster_z(lv, lb, jv, jb) == pytest.approx(_brute_force_answer_cluster_z(lv, lb, jv, jb), rel=1e-9)


def test_answer_cluster_z_is_the_one_sample_z_without_shared_answers() -> None:
    rng = np.random.default_rng(3)
    n, k = 500, 5
    lv, lb = rng.normal(0.05, 1.0, (n, k)), rng.normal(0.0, 1.0, (n, k))
    ids = np.arange(n * k).reshape(n, k)
    diff = lv.mean(axis=1) - lb.mean(axis=1)
    assert answer_cluster_z(lv, lb, ids, ids) == pytest.approx(diff.mean() / (diff.std() / np.sqrt(n)), rel=1e-9)


def test_answer_cluster_z_counts_answers_beyond_the_nearest() -> None:
    """Each answer shared by many rows, but rarely as their nearest: clustering on the nearest answer
    alone reads the rows as nearly independent and overstates z; all shared answers count."""
    rng = np.random.default_rng(5)
    n, k, pool = 2_000, 5, 100
    jv = np.argsort(rng.random((n, pool)), axis=1)[:, :k]
    jb = np.argsort(rng.random((n, pool)), axis=1)[:, :k]
    effect_v, effect_b = rng.normal(0.0, 1.0, pool), rng.normal(0.0, 1.0, pool)  # answers, not rows, vary
    lv, lb = effect_v[jv] + 0.05, effect_b[jb]
    full = answer_cluster_z(lv, lb, jv, jb)
    nearest = cluster_z(lv.mean(axis=1) - lb.mean(axis=1), jv[:, 0], jb[:, 0])
    assert abs(full) < 0.6 * abs(nearest)
    # the honest figure: 100 answers a side, each a draw of sd 1: mean gap 0.05 / sqrt(2 / 100)
    assert abs(full) == pytest.approx(abs(effect_v.mean() + 0.05 - effect_b.mean()) / np.sqrt(2 / 100), rel=0.6)


@lru_cache(maxsize=4)
def _friedman(n_trees: int, seed: int) -> Any:
    x, y = make_friedman1(n_samples=4_000, n_features=10, noise=1.0, random_state=100 + seed)
    return GradientBoostingRegressor(n_estimators=n_trees, max_depth=3, random_state=seed).fit(x, y)


@lru_cache(maxsize=4)
def _classifier(shuffled: float, seed: int) -> Any:
    x, y = make_classification(
        n_samples=6_000, n_features=10, n_informative=4, n_redundant=2, weights=[0.8], flip_y=0.02, random_state=7
    )
    rng = np.random.default_rng(seed)
    idx = rng.choice(y.size, int(shuffled * y.size), replace=False)
    y = y.copy()
    y[idx] = y[rng.permutation(idx)]
    forest = RandomForestClassifier(n_estimators=200, min_samples_leaf=2, random_state=seed, n_jobs=1)
    return forest.fit(x[:4_000], y[:4_000])


def _fresh_log(task: str, old: Any, new: Any, seed: int) -> tuple[PredictionLog, float, float]:
    """v1 (`old`) until the onset, v2 (`new`) after; labels only before; returns the log, the
    onset and v2's realized loss relative to v1's on the rows v2 served."""
    rng = np.random.default_rng(seed)
    if task == "regression":
        x, y = make_friedman1(n_samples=N, n_features=10, noise=1.0, random_state=500 + seed)
    else:
        x, y = make_classification(
            n_samples=6_000 + N,
            n_features=10,
            n_informative=4,
            n_redundant=2,
            weights=[0.8],
            flip_y=0.02,
            random_state=7,
        )
        keep = rng.choice(np.arange(6_000, 6_000 + N), N, replace=False)  # rows no model trained on
        x, y = x[keep], y[keep]
    ts = START + np.sort(rng.uniform(0.0, SPAN, N))
    onset = START + 0.6 * SPAN
    after = ts >= onset
    p_old, p_new = old.predict(x), new.predict(x)
    pred = np.where(after, p_new, p_old)
    loss = (lambda p: np.abs(p - y)) if task == "regression" else (lambda p: (p != y).astype(float))
    rel = float(loss(p_new)[after].mean() / loss(p_old)[after].mean() - 1.0)
    if task == "regression":
        label: np.ndarray = y.astype(float)
        label[after | (rng.random(N) > 0.85)] = np.nan
        prediction: np.ndarray = pred.astype(float)
    else:
        label = np.where(y == 1, "pos", "neg").astype(object)
        label[after | (rng.random(N) > 0.85)] = None
        prediction = np.where(pred == 1, "pos", "neg").astype(object)
    log = PredictionLog(
        timestamp=ts,
        model_version=np.where(after, "v2", "v1").astype(object),
        prediction=prediction,
        label=label,
        latency_ms=25.0 * rng.lognormal(0.0, 0.3, size=N),
        error=np.zeros(N),
        features={f"x{i}": x[:, i] for i in range(10)},
    )
    return log, onset, rel


def _version(d: Any) -> Any:
    return next(f for f in d.findings if f.check == "version_change")


@pytest.mark.parametrize("seed", range(2))
def test_a_smoother_worse_regression_version_is_rolled_back_on_fresh_inputs(seed: int) -> None:
    """Gradient boosting with 80 trees after 200 (MAE ~15% worse): the case the label model
    estimated better."""
    log, onset, rel = _fresh_log("regression", _friedman(200, 0), _friedman(80, 0), seed)
    assert rel > 0.08
    d = diagnose(log, onset=onset)
    v = _version(d)
    assert (d.cause, d.culprit_name, d.recommended_mitigation) == ("model", "v2", "rollback"), v.evidence
    assert v.details["reverse_z"] > 4.0
    assert v.details["reverse_loss_version"] > v.details["reverse_loss_baseline"]
    assert "labelled reference rows" in v.evidence


@pytest.mark.parametrize("seed", range(2))
def test_a_better_regression_version_is_not_blamed_on_fresh_inputs(seed: int) -> None:
    log, onset, rel = _fresh_log("regression", _friedman(80, 0), _friedman(200, 0), seed)
    assert rel < -0.08
    d = diagnose(log, onset=onset)
    v = _version(d)
    assert d.cause != "model", v.evidence
    assert v.details["reverse_z"] < 0.0 and v.score == 0.0


@pytest.mark.parametrize("seed", range(2))
def test_an_equivalent_regression_retrain_is_not_blamed_on_fresh_inputs(seed: int) -> None:
    log, onset, rel = _fresh_log("regression", _friedman(200, 0), _friedman(200, 1), seed)
    assert abs(rel) < 0.02
    d = diagnose(log, onset=onset)
    assert d.cause == "none", _version(d).evidence


def test_a_classifier_trained_on_shuffled_labels_leans_worse_on_its_calibrated_z() -> None:
    """30% of the training labels shuffled: 8-13% more errors on the served rows, ~3,600 rows of
    the version. Its answers flip near the boundary between neighbouring inputs, so the evidence
    is thinner than for numbers: the cluster-robust z read 2.9-3.95 on three logs (found on two),
    but the same statistic between two pools of the baseline's own answers spreads 1.4-1.7 on
    the same logs, so the calibrated z is 1.8-2.8: it leans worse (the map counts, z >= 1.5),
    below a verdict on its own."""
    for seed in range(3):
        log, onset, rel = _fresh_log("classification", _classifier(0.0, 0), _classifier(0.3, 0), seed)
        assert rel > 0.05
        v = _version(diagnose(log, onset=onset))
        assert v.details["reverse_raw_z"] > 2.0, v.evidence
        assert v.details["reverse_placebo_spread"] > 1.0
        assert v.details["reverse_z"] == pytest.approx(v.details["reverse_raw_z"] / v.details["reverse_placebo_spread"])
        assert v.details["reverse_z"] > 1.5


def test_an_identical_classifier_s_reverse_z_is_calibrated_by_its_placebo() -> None:
    """v2 is v1's very model on ten fresh logs: every z is noise. The cluster-robust z of 0/1 answers
    spreads wider than a z should (root mean square 1.30, one log at 3.5); divided by the spread of
    the same statistic between two pools of v1's own answers on each log (never multiplied: a
    spread below 1 leaves the z alone), it spreads 0.79 (largest 1.94)."""
    raw, calibrated = [], []
    for seed in range(1000, 1010):
        log, onset, _ = _fresh_log("classification", _classifier(0.0, 0), _classifier(0.0, 0), seed)
        v = _version(diagnose(log, onset=onset))
        spread = v.details["reverse_placebo_spread"]
        assert np.isfinite(spread) and spread > 0.0
        assert v.details["reverse_z"] == pytest.approx(v.details["reverse_raw_z"] / max(spread, 1.0))
        raw.append(v.details["reverse_raw_z"])
        calibrated.append(v.details["reverse_z"])
    rms_raw, rms_cal = np.sqrt(np.mean(np.square(raw))), np.sqrt(np.mean(np.square(calibrated)))
    assert rms_raw > 1.2
    assert rms_cal < 1.15 and rms_cal < rms_raw


@pytest.mark.parametrize("seed", range(3))
def test_a_better_classifier_and_an_equivalent_retrain_are_not_blamed_on_fresh_inputs(seed: int) -> None:
    better, _, rel = _fresh_log("classification", _classifier(0.3, 0), _classifier(0.0, 0), seed)
    assert rel < -0.05
    equivalent, onset, rel_eq = _fresh_log("classification", _classifier(0.0, 0), _classifier(0.0, 1), seed)
    assert abs(rel_eq) < 0.05  # 200 trees: another seed answers within a few rows
    for log in (better, equivalent):
        d = diagnose(log, onset=onset)
        assert d.cause != "model", _version(d).evidence


def _binary_score_log(rule: str, seed: int) -> tuple[PredictionLog, float]:
    """Probabilities of the positive class; a binary score carries its own confidence, which says
    nothing about a *new* version's calibration, so its versions are judged on the reference's labels."""
    rng = np.random.default_rng(seed)
    ts = START + np.sort(rng.uniform(0.0, SPAN, N))
    onset = START + 0.6 * SPAN
    after = ts >= onset
    x = rng.normal(size=(N, 4))
    logit = 2.0 * x[:, 0] + 1.5 * x[:, 1] - 2.0
    y = (rng.random(N) < 1.0 / (1.0 + np.exp(-logit))).astype(float)
    good = 1.0 / (1.0 + np.exp(-(logit + rng.normal(0.0, 0.3, N))))
    bad = 1.0 / (1.0 + np.exp(-(0.6 * logit + rng.normal(0.0, 1.2, N) - 0.8)))
    old, new = {"worse": (good, bad), "better": (bad, good), "same": (good, good)}[rule]
    label = y.copy()
    label[after | (rng.random(N) > 0.85)] = np.nan
    log = PredictionLog(
        timestamp=ts,
        model_version=np.where(after, "v2", "v1").astype(object),
        prediction=np.where(after, new, old),
        label=label,
        latency_ms=25.0 * rng.lognormal(0.0, 0.3, size=N),
        error=np.zeros(N),
        features={f"x{i}": x[:, i] for i in range(4)},
    )
    return log, onset


@pytest.mark.parametrize("rule", ["worse", "better", "same"])
def test_binary_score_versions_are_judged_on_the_reference_labels(rule: str) -> None:
    """A noisier, shifted score (+20% absolute error) is rolled back; the same scores reversed
    (v2 better) and a redeploy of the same scores are not blamed."""
    log, onset = _binary_score_log(rule, 0)
    d = diagnose(log, onset=onset)
    v = _version(d)
    if rule == "worse":
        assert (d.cause, d.culprit_name) == ("model", "v2"), v.evidence
        assert v.details["reverse_z"] > 4.0
    else:
        assert d.cause == "none", v.evidence
        if rule == "better":
            assert v.details["reverse_z"] < -4.0
