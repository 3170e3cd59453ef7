"""A latency quantile judged from its histogram's bucket shares: the query taken apart, and the
re-read quantile moving with the requests where `histogram_quantile`'s linear guess jumps or
stalls at coarse bucket edges, for latency distributions of several shapes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from diagnostics.histogram import parse_quantile_query, quantile_from_buckets

EDGES = np.array([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, np.inf])  # Prometheus' defaults


def test_the_query_is_taken_apart_or_left_alone() -> None:
    q = parse_quantile_query(
        'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="a"}[1m]))) * 1000'
    )
    assert q is not None and q.phi == 0.95 and q.scale == 1000.0
    assert q.inner == 'sum by (le) (rate(http_request_duration_seconds_bucket{job="a"}[1m]))'
    q = parse_quantile_query("histogram_quantile(0.99, rate(x_bucket[5m])) / 1e-3")
    assert q is not None and q.phi == 0.99 and q.inner == "rate(x_bucket[5m])" and q.scale == pytest.approx(1000.0)
    for other in (
        "sum(rate(http_requests_total[1m]))",
        "histogram_quantile(0.95, rate(x_bucket[5m])) > 0.3",  # a filter: not a plain quantile
        "histogram_quantile(1.5, rate(x_bucket[5m]))",
        "histogram_quantile(0.95, rate(x_bucket[5m])",
        "max(histogram_quantile(0.95, rate(x_bucket[5m])))",
    ):
        assert parse_quantile_query(other) is None, other


def _cumulative(dist: stats.rv_continuous | stats.rv_frozen, rate: float = 40.0) -> np.ndarray:
    shares = np.where(np.isinf(EDGES), 1.0, dist.cdf(np.where(np.isinf(EDGES), 1.0, EDGES)))
    return rate * shares


def _linear(cum: np.ndarray, phi: float = 0.95) -> float:
    """What `histogram_quantile` answers: linear inside the bucket."""
    share = cum / cum[-1]
    j = int(np.argmax(share >= phi))
    lo, f_lo = (EDGES[j - 1], share[j - 1]) if j else (0.0, 0.0)
    return float(lo + (EDGES[j] - lo) * (phi - f_lo) / (share[j] - f_lo))


SHAPES = {
    "lognormal": lambda m: stats.lognorm(0.35, scale=m),
    "gamma": lambda m: stats.gamma(2.0, scale=m / 1.678),
    "weibull": lambda m: stats.weibull_min(1.5, scale=m / 0.783),
    "exponential": lambda m: stats.expon(scale=m / 0.693),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_small_shift_stays_small_and_a_real_slowdown_reads_as_one(shape: str) -> None:
    """Across typical latencies from 10 ms to 500 ms: +6% never reads as more than x1.1 (linear:
    up to x1.2-x1.3 where the p95 crosses an edge), x1.3 always reads as x1.2 or more (linear:
    as little as x1.08 inside a wide bucket)."""
    make = SHAPES[shape]
    medians = np.geomspace(0.01, 0.5, 80)
    rows = np.vstack([_cumulative(make(m)) for m in medians])
    base = quantile_from_buckets(EDGES, rows, 0.95)
    for factor, lo, hi in ((1.06, 1.0, 1.1), (1.3, 1.2, 1.4)):
        moved = quantile_from_buckets(EDGES, np.vstack([_cumulative(make(m * factor)) for m in medians]), 0.95)
        ratio = moved / base
        assert ratio.min() >= lo and ratio.max() <= hi, (factor, ratio.min(), ratio.max())
    linear = np.array([_linear(_cumulative(make(m * 1.06))) / _linear(_cumulative(make(m))) for m in medians])
    assert linear.max() > 1.15  # the coarse-bucket jump this replaces


def test_a_lognormal_quantile_is_read_exactly_and_bad_rows_are_nan() -> None:
    dist = stats.lognorm(0.35, scale=0.07)
    rows = np.vstack([_cumulative(dist), np.zeros(EDGES.shape[0]), np.full(EDGES.shape[0], np.nan)])
    got = quantile_from_buckets(EDGES, rows, 0.95)
    assert got[0] == pytest.approx(dist.ppf(0.95), rel=1e-3)
    assert np.isnan(got[1]) and np.isnan(got[2])
    beyond = np.array([[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1.0, 10.0]])  # the quantile past the last finite edge
    assert quantile_from_buckets(EDGES, beyond, 0.95)[0] == 10.0
