"""Series diagnostics against a real Prometheus: every fault kind, both with the onset given and
detected, and the reader surviving a Prometheus that is down, slow or answering errors."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from svc_support import History

from benchmarks.service_scenarios import generate as g
from benchmarks.service_scenarios.score import changes_of, run_one, spec_of
from diagnostics.prometheus import read_series
from diagnostics.series_scores import rolling_level
from diagnostics.service_causes import diagnose_series

KINDS = [*g.FAULT_KINDS, "healthy", "healthy-2", "healthy-3"]


@pytest.mark.parametrize("given", [True, False], ids=["onset-given", "onset-detected"])
@pytest.mark.parametrize("kind", KINDS)
def test_each_fault_kind_is_localized(prometheus_history: History, kind: str, given: bool) -> None:
    sc = prometheus_history.scenarios[kind]
    r = run_one(sc, prometheus_history.url, prometheus_history.end, given)
    want = sc.expected
    assert r.culprit_ok, f"{sc.id}: got {r.kind}/{r.name}, expected {want.culprit_kind}/{want.culprit_name}"
    assert r.trigger_ok, f"{sc.id}: got trigger {r.trigger}, expected {want.trigger}"
    if want.culprit_kind != "none" and not given:
        # a step is dated to the minute; a slow growth once it has grown out of the noise
        slack = 600.0 if sc.kind in ("memory_leak", "slow_ramp") else 180.0
        assert abs(r.onset - sc.onset) <= slack, f"{sc.id}: detected onset {r.onset - sc.onset:+.0f} s off"


def test_a_traffic_surge_is_named_as_traffic_not_as_its_symptoms(prometheus_history: History) -> None:
    """A traffic surge moves CPU and latency by more robust z than traffic itself; the earliest-change
    ranking still names the cause. How often the BARO-style anchor names the symptom instead (22% right
    on surges) is a benchmark figure, not a test: on one history it depends on where the scrapes fall."""
    sc = prometheus_history.scenarios["traffic_surge"]
    start, end = sc.onset - 6000, min(prometheus_history.end, sc.onset + 5400)
    sset = read_series(spec_of(g.catalog_entry(sc)), prometheus_history.url, start, end, 15.0)
    assert diagnose_series(sset, onset=sc.onset).culprit_kind == "traffic"


def test_a_p95_carried_across_a_bucket_edge_by_a_small_wobble_is_no_alarm(prometheus_history: History) -> None:
    """The healthy day whose typical request got 6% slower right under the 100 ms edge: the catalog's
    `histogram_quantile` p95 reads x1.09 to x1.4 (x1.3 is the latency gate; where exactly depends on
    the hour the history ends in), the p95 re-read from the bucket shares reads the wobble it is,
    and nothing is named."""
    sc = prometheus_history.scenarios["healthy-3"]
    assert (sc.kind, sc.strength, sc.seed) == g.HEALTHY_AT_AN_EDGE
    end = min(prometheus_history.end, sc.onset + 5400)
    sset = read_series(spec_of(g.catalog_entry(sc)), prometheus_history.url, sc.onset - 6000, end, 15.0)
    p95 = sset.series[0]
    assert p95.key == "latency_p95_ms" and p95.judged is not None and "bucket shares" in p95.judged_note
    at = int(np.searchsorted(sset.times, sc.onset))
    ref = slice(at - 360, at - 40)

    def moved(values: np.ndarray) -> float:
        return float(np.nanmax(rolling_level(values, 21)[at:]) / np.nanmedian(values[ref]))

    catalog, judged = moved(p95.values), moved(p95.judged)
    # the catalog's quantile reads the wobble as more than it is: x1.09 to x1.4 by the hour the
    # history ends in (CI runs read x1.195, x1.14, x1.094), where a fixed ratio (nearly) pages
    assert catalog - 1.0 >= 1.5 * (judged - 1.0), (catalog, judged)
    assert judged < 1.12
    for onset in (sc.onset, None):
        v = diagnose_series(sset, onset=onset, changes=changes_of(sc))
        assert v.culprit_kind == "none" and v.trigger is None, [f.evidence for f in v.findings[:2]]


class _Handler(http.server.BaseHTTPRequestHandler):
    mode = "error"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.server.mode == "slow":  # type: ignore[attr-defined]
            time.sleep(3.0)
        status, body = {
            "error": (503, b"upstream down"),
            "slow": (200, b"{}"),
            "bad": (400, b'{"status":"error","errorType":"bad_data","error":"parse error"}'),
        }[
            self.server.mode  # type: ignore[attr-defined]
        ]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the slow mode's client gives up first: its broken pipe is the point


@pytest.fixture
def broken_prometheus() -> Iterator[tuple[_QuietServer, str]]:
    server = _QuietServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _spec() -> object:
    return spec_of(g.catalog_entry(g.generate("healthy", "medium", 0, end=time.time())))


@pytest.mark.parametrize("mode", ["error", "slow", "bad", "down"])
def test_a_broken_prometheus_is_a_problem_not_a_crash(
    broken_prometheus: tuple[_QuietServer, str], mode: str
) -> None:
    server, url = broken_prometheus
    if mode == "down":
        server.shutdown()
        server.server_close()
    server.mode = mode  # type: ignore[attr-defined]
    now = time.time()
    started = time.perf_counter()
    timeout = 1.0 if mode == "slow" else 10.0  # a loaded machine must not turn an answer into a timeout
    sset = read_series(_spec(), url, now - 3600, now, 15.0, timeout=timeout)  # type: ignore[arg-type]
    took = time.perf_counter() - started
    assert sset.series == []
    assert sset.problems
    if mode == "bad":  # the server works, each query is refused: said per series
        assert all("parse error" in p for p in sset.problems) and len(sset.problems) == 11
    else:  # a dead or slow server is said once and not asked again for every series
        assert url in sset.problems[0]
        assert {"error": "HTTP 503", "slow": "in time", "down": "unreachable"}[mode] in sset.problems[0]
        assert took < 8.0
    v = diagnose_series(sset, onset=now - 1200)
    assert v.culprit_kind == "none" and v.findings[0].check == "source_unavailable"
