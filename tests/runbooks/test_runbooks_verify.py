"""The recovery judge: rank test against scipy, effect-size floor, inconclusive on thin data;
Prometheus range queries against a local server that speaks the query_range API."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from rb_support import FakePrometheus
from scipy.stats import mannwhitneyu

from runbooks.schema import Expectation
from runbooks.verify import MetricUnavailable, judge, log_metric_buckets, prometheus_range

HIGHER = Expectation(better="higher", measurements=10, min_effect=0.05, alpha=0.05)
LOWER = Expectation(better="lower", measurements=10, min_effect=0.2, alpha=0.05)


def test_recovered_metric_passes_and_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    base, after = rng.normal(0.92, 0.01, 60), rng.normal(0.915, 0.01, 15)
    v = judge(base, after, HIGHER)
    assert v.result == "pass" and v.message.startswith("recovered")
    expected = mannwhitneyu(after, base, alternative="less").pvalue  # "after is worse" = lower accuracy
    assert v.p_value == pytest.approx(expected, rel=1e-6)


def test_still_degraded_metric_fails_with_numbers() -> None:
    rng = np.random.default_rng(2)
    v = judge(rng.normal(0.92, 0.01, 60), rng.normal(0.6, 0.02, 15), HIGHER)
    assert v.result == "fail" and v.effect is not None and v.effect > 0.3
    assert "not recovered" in v.message and "n=15/60" in v.message
    lat = judge(rng.gamma(8, 5, 60), rng.gamma(8, 50, 12), LOWER)
    assert lat.result == "fail"


def test_a_significant_but_tiny_change_is_below_the_floor_and_passes() -> None:
    rng = np.random.default_rng(3)
    base, after = rng.normal(100.0, 1.0, 200), rng.normal(103.0, 1.0, 200)  # 3 % slower, very significant
    v = judge(base, after, LOWER)
    assert v.p_value is not None and v.p_value < 1e-10
    assert v.result == "pass" and v.effect == pytest.approx(0.03, abs=0.01)


def test_too_few_measurements_is_inconclusive_never_a_pass() -> None:
    v = judge(np.full(60, 0.9), [0.9, 0.91, 0.9], HIGHER)
    assert v.result == "inconclusive" and "3 measurement(s) after" in v.message
    assert judge([], [0.5] * 20, HIGHER).result == "inconclusive"
    assert judge([0.9] * 20, [np.nan] * 20, HIGHER).result == "inconclusive"


def test_log_buckets_compute_accuracy_per_minute() -> None:
    from diagnostics import PredictionLog

    ts = np.arange(0, 600, 1.0)
    label = np.zeros(600, dtype=int)
    pred = np.where(ts < 300, 0, 1)  # right for 5 minutes, then wrong
    log = PredictionLog(timestamp=ts, model_version=np.array(["1"] * 600), prediction=pred.astype(str),
                        label=label.astype(str))
    assert log_metric_buckets(log, "accuracy", 0, 600, 60).tolist() == [1.0] * 5 + [0.0] * 5
    with pytest.raises(MetricUnavailable, match="no 'error' column"):
        log_metric_buckets(log, "error_rate", 0, 600, 60)


def test_prometheus_range_query_against_a_local_server() -> None:
    prom = FakePrometheus(lambda t: 0.5 if t >= 1000 else 0.1)
    try:
        start, end = datetime.fromtimestamp(900, UTC), datetime.fromtimestamp(1100, UTC)
        values = prometheus_range(prom.url, "up", start, end, 10)
        assert values.tolist() == [0.1] * 10 + [0.5] * 11
        assert prom.queries[0]["query"] == "up" and prom.queries[0]["step"] == "10"
        long = prometheus_range(prom.url, "up", datetime.fromtimestamp(0, UTC), end, 0.1)  # 11,000 points
        assert float(prom.queries[-1]["start"]) == pytest.approx(1100 - 1000) and 10_000 <= len(long) <= 10_001
        with pytest.raises(MetricUnavailable, match="unreachable"):
            prometheus_range("http://127.0.0.1:9", "up", start, end, 10)
    finally:
        prom.close()
