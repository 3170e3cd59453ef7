"""A real Prometheus with hours of backfilled service history (one medium scenario of each fault
kind and three healthy days), generated relative to now and started once per session."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `benchmarks` is a top-level folder of the repository, not an installed package
    sys.path.insert(0, str(ROOT))

from svc_support import History  # noqa: E402

from benchmarks.service_scenarios import generate as g  # noqa: E402
from benchmarks.service_scenarios.prom import PrometheusUnavailable, backfill, binaries, serve  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def prometheus_history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    try:
        binaries()
    except PrometheusUnavailable as exc:
        if IN_CI:  # under CI a missing server is a failure, never a skip
            pytest.fail(f"{exc} (CI=true: integration servers are required)")
        pytest.skip(str(exc))
    end = time.time()
    scenarios = g.quick_suite(end)
    data = backfill(g.openmetrics_lines(scenarios), tmp_path_factory.mktemp("prometheus"))
    by_kind: dict[str, g.ServiceScenario] = {}
    for sc in scenarios:
        same = sum(k.split("-")[0] == sc.kind for k in by_kind if k.startswith(sc.kind))
        by_kind[sc.kind if not same else f"{sc.kind}-{same + 1}"] = sc
    with serve(data) as url:
        yield History(url, end, by_kind)
