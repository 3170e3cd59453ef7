"""A service whose requests take a fast or a slow path (10% four times slower), against a real
Prometheus: every request x1.35 slower is a latency regression the p95 re-read from the bucket
shares reads as little as x1.26 (the two populations meet where the p95 is), and the histogram's
mean (`_sum` / `_count`, read beside it) reads as it is; a healthy day of the same service stays
quiet."""

from __future__ import annotations

import numpy as np
import pytest
from svc_support import History

from benchmarks.service_scenarios import generate as g
from benchmarks.service_scenarios.score import changes_of, spec_of, window
from diagnostics.prometheus import read_series
from diagnostics.series_scores import rolling_level
from diagnostics.service_causes import diagnose_series


@pytest.mark.parametrize("given", [True, False], ids=["onset-given", "onset-detected"])
@pytest.mark.parametrize("kind", ["two_speed-2", "two_speed-3", "healthy-4"])
def test_a_slowdown_of_both_paths_is_read_from_the_histograms_mean(
    prometheus_history: History, kind: str, given: bool
) -> None:
    sc = prometheus_history.scenarios[kind]
    assert sc.components[g.SERVICE].slow_path == g.SLOW_PATH
    start, stop = window(sc, prometheus_history.end, given)
    sset = read_series(spec_of(g.catalog_entry(sc)), prometheus_history.url, start, stop, 15.0)
    p95 = sset.series[0]
    assert p95.key == "latency_p95_ms" and p95.judged is not None and p95.mean is not None
    at = int(np.searchsorted(sset.times, sc.onset))
    ref = slice(max(0, at - 360), at - 40)
    mean_moved = float(np.nanmax(rolling_level(p95.mean, 21)[at + 8 :]) / np.nanmedian(p95.mean[ref]))
    v = diagnose_series(sset, onset=sc.onset if given else None, changes=changes_of(sc))
    want = sc.expected
    assert (v.culprit_kind, v.culprit_name) == (want.culprit_kind, want.culprit_name), [
        f.evidence for f in v.findings[:2]
    ]
    got = None if v.trigger is None else {"timestamp": v.trigger.timestamp, "kind": v.trigger.kind,
                                          "service": v.trigger.service}
    assert got == want.trigger
    if sc.kind == "two_speed":
        assert mean_moved == pytest.approx(1.35, abs=0.06)  # the mean reads the slowdown as it is
        top = v.findings[0]
        # the culprit's finding shows both readings: the one that moved first, and the other
        assert top.details["estimate"] in ("mean", "quantile")
        assert ("its mean x" in top.evidence) or ("(mean)" in top.evidence and "the quantile x" in top.evidence)
    else:
        assert mean_moved < 1.12
