"""Series diagnostics on arrays (no Prometheus): propagation, resources, traffic, robustness, trigger."""

from __future__ import annotations

import numpy as np
import pytest

from diagnostics.findings import Diagnosis, Finding, Trigger
from diagnostics.log import ChangeRecord
from diagnostics.series import Series, SeriesSet, kind_for_key
from diagnostics.series_scores import rolling_level
from diagnostics.service_causes import diagnose_series
from diagnostics.service_diagnosis import combine, from_series

STEP = 15.0
N = int(4 * 3600 / STEP)
T0 = 1_800_000_000.0
TIMES = T0 + STEP * np.arange(N)
ONSET_I = N - 240  # an hour before the end
ONSET = float(TIMES[ONSET_I])


def noisy(level: float, rel: float, seed: int, diurnal: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    wave = 1.0 + diurnal * np.sin(2 * np.pi * (TIMES - T0) / 86400.0 + seed)
    return level * wave * (1.0 + rng.normal(0.0, rel, N))


def step_at(values: np.ndarray, i: int, factor: float) -> np.ndarray:
    out = values.copy()
    out[i:] *= factor
    return out


def service(**extra: np.ndarray) -> SeriesSet:
    """A service `svc` with latency, errors, traffic, CPU; dependency `store` with latency/errors."""
    base = {
        ("", "latency_p95_ms"): noisy(120.0, 0.05, 1),
        ("", "error_rate"): np.abs(noisy(0.003, 0.3, 2)),
        ("", "requests_per_s"): noisy(40.0, 0.05, 3, diurnal=0.3),
        ("", "cpu_utilization"): noisy(0.3, 0.04, 4, diurnal=0.2),
        ("store", "latency_p95_ms"): noisy(20.0, 0.05, 5),
        ("store", "error_rate"): np.abs(noisy(0.001, 0.3, 6)),
    }
    for key, values in extra.items():
        owner, _, name = key.partition("__") if "__" in key else ("", "", key)
        base[(owner, name)] = values
    series = [Series(owner, key, kind_for_key(key), v) for (owner, key), v in base.items()]
    return SeriesSet("svc", TIMES.copy(), series)


def test_a_dependency_that_moved_first_is_the_culprit() -> None:
    dep = step_at(noisy(20.0, 0.05, 5), ONSET_I, 4.0)
    svc = step_at(noisy(120.0, 0.05, 1), ONSET_I + 8, 1.6)  # two minutes later
    changes = [
        ChangeRecord(ONSET - 60, "infra", "store", "store moved to new nodes"),
        ChangeRecord(ONSET - 10, "model_deploy", "other-service", "not ours"),
        ChangeRecord(ONSET - 20, "config_change", "svc", "svc log level"),
    ]
    for onset in (ONSET, None):
        v = diagnose_series(service(store__latency_p95_ms=dep, latency_p95_ms=svc), onset=onset, changes=changes)
        assert (v.culprit_kind, v.culprit_name) == ("dependency", "store")
        assert v.trigger is not None and v.trigger.service == "store" and v.trigger.kind == "infra"
    assert abs(v.onset - ONSET) <= 60.0


def test_own_errors_with_nothing_upstream_and_its_config_change() -> None:
    errors = np.abs(noisy(0.003, 0.3, 2))
    errors[ONSET_I:] += 0.06
    changes = [
        ChangeRecord(ONSET - 120, "config_change", "svc", "strict schema on"),
        ChangeRecord(ONSET - 30, "infra", "payments", "someone else's change, closer"),
    ]
    v = diagnose_series(service(error_rate=errors), onset=None, changes=changes)
    assert (v.culprit_kind, v.culprit_name) == ("errors", "error_rate")
    assert v.trigger is not None and (v.trigger.service, v.trigger.kind) == ("svc", "config_change")


def test_cpu_pinned_at_its_limit_is_the_resource() -> None:
    cpu = noisy(0.3, 0.04, 4, diurnal=0.2)
    cpu[ONSET_I:] = np.minimum(1.0, cpu[ONSET_I:] + 0.9)
    lat = step_at(noisy(120.0, 0.05, 1), ONSET_I + 4, 3.0)
    v = diagnose_series(service(cpu_utilization=cpu, latency_p95_ms=lat), onset=ONSET)
    assert (v.culprit_kind, v.culprit_name) == ("resource", "cpu_utilization")
    top = v.findings[0]
    assert top.subject == "cpu_utilization" and top.details["flat_top"]


def test_a_busy_cpu_pinned_at_its_ceiling_is_at_its_limit() -> None:
    """0.85 -> 1.0 is a small rise (x1.18) but a utilization at 1.0 has nowhere left to go."""
    cpu = np.clip(noisy(0.85, 0.02, 4), 0.0, 1.0)
    cpu[ONSET_I:] = np.clip(1.0 - np.abs(np.random.default_rng(5).normal(0, 0.003, N - ONSET_I)), 0, 1)
    lat = step_at(noisy(120.0, 0.05, 1), ONSET_I + 8, 2.0)
    v = diagnose_series(service(cpu_utilization=cpu, latency_p95_ms=lat), onset=None)
    assert (v.culprit_kind, v.culprit_name) == ("resource", "cpu_utilization")


def test_memory_sawtooth_is_the_resource_with_its_restarts() -> None:
    mem = noisy(6e8, 0.005, 7)
    period = 80  # 20 minutes
    grow = np.where(np.arange(N) >= ONSET_I, ((np.arange(N) - ONSET_I) % period) / period, 0.0)
    mem = mem * (1.0 + 1.5 * grow)
    v = diagnose_series(service(memory_bytes=mem), onset=None)
    assert (v.culprit_kind, v.culprit_name) == ("resource", "memory_bytes")
    assert v.findings[0].details["restarts"] >= 2


def test_a_traffic_surge_outranks_the_cpu_and_latency_it_causes() -> None:
    surge = 2.8
    rps = step_at(noisy(40.0, 0.05, 3, diurnal=0.3), ONSET_I, surge)
    cpu = step_at(noisy(0.3, 0.04, 4, diurnal=0.2), ONSET_I, 2.2)
    lat = step_at(noisy(120.0, 0.05, 1), ONSET_I + 2, 1.5)
    v = diagnose_series(service(requests_per_s=rps, cpu_utilization=cpu, latency_p95_ms=lat), onset=ONSET)
    assert (v.culprit_kind, v.culprit_name) == ("traffic", "requests_per_s")


def test_two_dependencies_failing_one_after_the_other_blame_the_first() -> None:
    first = step_at(noisy(20.0, 0.05, 5), ONSET_I, 3.0)
    second = np.abs(noisy(0.001, 0.3, 8))
    second[ONSET_I + 60 :] += 0.1
    lat = step_at(noisy(120.0, 0.05, 1), ONSET_I, 1.5)
    v = diagnose_series(service(store__latency_p95_ms=first, cache__error_rate=second, latency_p95_ms=lat), onset=None)
    assert (v.culprit_kind, v.culprit_name) == ("dependency", "store")


@pytest.mark.parametrize("seed", range(6))
def test_healthy_days_with_waves_dips_and_gaps_stay_none(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    rps = noisy(40.0, 0.05, 30 + seed, diurnal=0.35)
    # rate() dips from missed scrapes, p95 jumps at a bucket edge, lost points
    dips = rng.random(N) < 0.01
    rps[dips] *= 0.5
    lat = noisy(120.0, 0.05, 40 + seed)
    jumps = rng.random(N) < 0.03
    lat[jumps] = 250.0
    cpu = noisy(0.3, 0.04, 50 + seed, diurnal=0.3)
    for arr in (rps, lat, cpu):
        arr[rng.random(N) < 0.02] = np.nan
    changes = [ChangeRecord(ONSET - 30, "config_change", "svc", "log level"), ChangeRecord(ONSET, "infra", "store", "")]
    for onset in (ONSET, None):
        v = diagnose_series(
            service(requests_per_s=rps, latency_p95_ms=lat, cpu_utilization=cpu), onset=onset, changes=changes
        )
        assert v.culprit_kind == "none", [f.evidence for f in v.findings[:3]]
        assert v.trigger is None


def test_a_traffic_drop_is_traffic_and_a_silent_series_is_not_held_still() -> None:
    rps = noisy(40.0, 0.05, 3)
    rps[ONSET_I:] *= 0.3
    v = diagnose_series(service(requests_per_s=rps), onset=ONSET)
    assert (v.culprit_kind, v.culprit_name) == ("traffic", "requests_per_s")
    assert "dropped" in v.findings[0].evidence
    gap = noisy(1.0, 0.01, 9)
    gap[100:200] = np.nan
    level = rolling_level(gap, 21)
    assert np.isnan(level[150]) and np.isfinite(level[95])


def test_no_series_is_none_with_the_problem_as_a_finding() -> None:
    empty = SeriesSet("svc", TIMES.copy(), [], ["Prometheus at http://x unreachable"])
    v = diagnose_series(empty, onset=ONSET)
    assert v.culprit_kind == "none"
    assert [f.check for f in v.findings] == ["source_unavailable"]


def _log_verdict(cause: str, kind: str, name: str, trigger_service: str | None = None) -> Diagnosis:
    trig = None if trigger_service is None else Trigger(ONSET - 60, "model_deploy", trigger_service, "v2 out")
    return Diagnosis(
        cause,
        kind,
        name,
        0.8,
        ONSET,
        "rollback",
        [Finding(cause, "version_change", name, 0.8, "x")],  # type: ignore[arg-type]
        trigger=trig,
    )


def test_both_sources_upstream_series_beat_the_logs_version_and_own_symptoms_do_not() -> None:
    deploy = ChangeRecord(ONSET - 60, "model_deploy", "fraud-model", "v2 out", "v1", "v2")
    other = ChangeRecord(ONSET - 10, "model_deploy", "someone-else", "v9 out", "v8", "v2")
    dep = step_at(noisy(20.0, 0.05, 5), ONSET_I, 4.0)
    upstream = diagnose_series(service(store__latency_p95_ms=dep), onset=ONSET, changes=[deploy])
    d = combine(
        upstream,
        _log_verdict("model", "model_version", "v2"),
        service="svc",
        own_names=("fraud-model",),
        changes=[deploy, other],
        notes=[],
        runtime_ms=1.0,
    )
    assert (d.cause, d.culprit_kind, d.culprit_name, d.trigger) == ("service", "dependency", "store", None)
    assert [f.check for f in d.findings][-1] == "version_change"  # the log's finding is kept, ranked after
    own = diagnose_series(
        service(latency_p95_ms=step_at(noisy(120.0, 0.05, 1), ONSET_I, 2.0)),
        onset=ONSET,
        changes=[deploy, other],
        own_names=("fraud-model",),
    )
    d = combine(
        own,
        _log_verdict("model", "model_version", "v2", trigger_service="someone-else"),
        service="svc",
        own_names=("fraud-model",),
        changes=[deploy, other],
        notes=[],
        runtime_ms=1.0,
    )
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("model", "model_version", "v2")
    assert d.trigger is not None and d.trigger.service == "fraud-model"  # never another service's change
    alone = combine(own, None, service="svc", own_names=("fraud-model",), changes=[deploy], notes=[], runtime_ms=1.0)
    assert alone.culprit_kind == "latency" and alone.trigger is not None
    assert alone.recommended_mitigation == "rollback"  # the service's own model deploy started it


@pytest.mark.parametrize("phase", [0.0, 1.5, 3.0, 4.5])
def test_a_strong_diurnal_wave_is_not_a_fault(phase: float) -> None:
    """Peak traffic 4x the trough (amplitude 0.6); CPU follows it. At the steepest hour of the wave
    traffic moves 16% an hour: the size gates must not take that for a surge or a saturating CPU."""
    wave = 1.0 + 0.6 * np.sin(2 * np.pi * (TIMES - T0) / 86400.0 + phase)
    rng = np.random.default_rng(int(phase * 10))
    rps = 40.0 * wave * (1 + rng.normal(0, 0.05, N))
    cpu = (0.05 + 0.006 * rps) * (1 + rng.normal(0, 0.03, N))
    lat = 120.0 * (1 + 0.1 * (wave - 1)) * (1 + rng.normal(0, 0.05, N))
    for onset in (ONSET, float(TIMES[N - 480]), None):  # 1 or 2 hours of data after a given onset
        v = diagnose_series(service(requests_per_s=rps, cpu_utilization=cpu, latency_p95_ms=lat), onset=onset)
        assert v.culprit_kind == "none", [f.evidence for f in v.findings[:2]]


def test_a_request_rate_that_stops_reporting_is_downtime_not_ignored() -> None:
    """A target that stops reporting leaves no data (not zero) behind `sum(rate(...))`: read as no
    requests, dated when it vanished, with the service's own deploy as the trigger."""
    gone = slice(ONSET_I, None)
    own = {key: service().series[i].values.copy() for i, key in enumerate(("latency_p95_ms", "error_rate",
                                                                          "requests_per_s", "cpu_utilization"))}
    for values in own.values():
        values[gone] = np.nan
    changes = [
        ChangeRecord(ONSET - 45, "model_deploy", "svc", "model v8", to_version="8"),
        ChangeRecord(ONSET - 10, "config_change", "payments", "someone else's"),
    ]
    for onset in (ONSET, None):
        v = diagnose_series(service(**own), onset=onset, changes=changes)
        assert (v.culprit_kind, v.culprit_name) == ("traffic", "requests_per_s"), [f.evidence for f in v.findings[:3]]
        assert v.culprit_change is not None and abs(v.culprit_change - ONSET) <= 60.0
        assert v.trigger is not None and (v.trigger.kind, v.trigger.service) == ("model_deploy", "svc")
        assert "stopped reporting" in v.findings[0].evidence
    d = from_series(v, "svc")
    assert d.recommended_mitigation == "rollback"


def test_a_dependency_that_stops_reporting_is_the_culprit_before_the_errors_it_causes() -> None:
    store = {"store__latency_p95_ms": noisy(20.0, 0.05, 5), "store__error_rate": np.abs(noisy(0.001, 0.3, 6))}
    for values in store.values():
        values[ONSET_I : ONSET_I + 80] = np.nan  # down for 20 minutes, then back
    errors = np.abs(noisy(0.003, 0.3, 2))
    errors[ONSET_I + 2 : ONSET_I + 80] += 0.5
    for onset in (ONSET, None):
        v = diagnose_series(service(error_rate=errors, **store), onset=onset)
        assert (v.culprit_kind, v.culprit_name) == ("dependency", "store"), [f.evidence for f in v.findings[:3]]
        assert v.findings[0].subject == "store" and "stopped reporting" in v.findings[0].evidence
        assert set(v.culprit_series) == {"store/latency_p95_ms", "store/error_rate"}


def test_a_gap_in_every_series_is_prometheus_not_downtime() -> None:
    sset = service()
    for s in sset.series:
        s.values[ONSET_I : ONSET_I + 40] = np.nan  # ten minutes without any data at all
    for onset in (ONSET, None):
        assert diagnose_series(sset, onset=onset).culprit_kind == "none"


def test_a_few_lost_scrapes_are_not_a_vanished_series() -> None:
    rps = noisy(40.0, 0.05, 3)
    store = noisy(20.0, 0.05, 5)
    for start in range(ONSET_I, N - 20, 40):  # two minutes missing every ten
        rps[start : start + 8] = np.nan
        store[start : start + 8] = np.nan
    v = diagnose_series(service(requests_per_s=rps, store__latency_p95_ms=store), onset=ONSET)
    assert v.culprit_kind == "none", [f.evidence for f in v.findings[:3]]


def test_a_history_that_ends_before_now_is_not_downtime() -> None:
    """Asked minutes after the last scrape (a history that ends early, Prometheus behind): every
    rate stops together, gauges hold their last value for the lookback. Nothing kept reporting
    fresh values through the silence, so nobody is down."""
    sset = service(memory_bytes=noisy(6e8, 0.005, 11), store__memory_bytes=noisy(2e9, 0.005, 12))
    end = N - 40  # ten minutes before the window's end
    for s in sset.series:
        held = s.values[end - 1]
        s.values[end:] = np.nan
        if s.key == "memory_bytes":
            s.values[end : end + 20] = held  # a gauge answered for 5 more minutes, unchanged
        elif s.key in ("requests_per_s", "cpu_utilization"):
            s.values[end - 2 : end] *= (0.6, 0.35)  # rate() of the last samples: partial windows
    for onset in (ONSET, None):
        v = diagnose_series(sset, onset=onset)
        assert v.culprit_kind == "none", [f.evidence for f in v.findings[:3]]


def test_a_lone_service_that_went_silent_and_came_back_was_down() -> None:
    """With no other target to compare, a silence that ended inside the window was the service's;
    one still running at the window's end could be the monitoring's own and is not read."""

    def lone(rps: np.ndarray) -> SeriesSet:
        return SeriesSet("svc", TIMES.copy(), [Series("", "requests_per_s", "traffic", rps),
                                              Series("", "latency_p95_ms", "latency", noisy(120.0, 0.05, 1))])

    back = noisy(40.0, 0.05, 3)
    back[ONSET_I : ONSET_I + 60] = np.nan  # 15 minutes without data, then reporting again
    v = diagnose_series(lone(back), onset=ONSET)
    assert (v.culprit_kind, v.culprit_name) == ("traffic", "requests_per_s")
    still = noisy(40.0, 0.05, 3)
    still[N - 40 :] = np.nan
    assert diagnose_series(lone(still), onset=None).culprit_kind == "none"


def test_cpu_that_rose_with_the_traffic_is_busier_not_broken() -> None:
    """A diurnal peak: requests x1.4 (under the traffic gate), CPU with them x1.4 (over the resource
    gate). The CPU per request did not move: no culprit, the CPU said to have followed the load."""
    ramp = np.clip((np.arange(N) - ONSET_I) / 120.0, 0.0, 1.0)
    rps = noisy(40.0, 0.01, 3) * (1.0 + 0.4 * ramp)
    cpu = 0.3 * (rps / 40.0) * (1.0 + np.random.default_rng(4).normal(0.0, 0.01, N))
    for onset in (ONSET, None):
        v = diagnose_series(service(requests_per_s=rps, cpu_utilization=cpu), onset=onset)
        assert v.culprit_kind == "none", [f.evidence for f in v.findings[:3]]
    cpu_finding = next(f for f in v.findings if f.subject == "cpu_utilization")
    assert "busier, not broken" in cpu_finding.evidence
    hot = cpu * (1.0 + 0.6 * ramp)  # the same traffic, 60% more CPU per request: a resource cause
    v = diagnose_series(service(requests_per_s=rps, cpu_utilization=hot), onset=ONSET)
    assert (v.culprit_kind, v.culprit_name) == ("resource", "cpu_utilization")


def test_one_request_series_of_a_dependency_going_quiet_is_not_the_dependency_down() -> None:
    """A 5xx counter is gone after a restart until the next error, so a dependency's error share
    can go silent for an hour while the dependency serves: with its CPU still reporting and no other
    request series silent, that is no downtime. Two of its request series silent together are."""
    err = np.abs(noisy(0.001, 0.3, 6))
    err[ONSET_I:] = np.nan
    cpu = noisy(0.2, 0.04, 7)
    sset = service(store__error_rate=err, store__cpu_utilization=cpu)
    sset.series = [s for s in sset.series if s.label != "store/latency_p95_ms"]
    for onset in (ONSET, None):
        v = diagnose_series(sset, onset=onset)
        assert v.culprit_kind == "none", [f.evidence for f in v.findings[:2]]
    lat = noisy(20.0, 0.05, 5)
    lat[ONSET_I + 2 :] = np.nan
    svc_err = np.abs(noisy(0.003, 0.3, 2))
    svc_err[ONSET_I + 4 :] = 0.5  # its calls fail
    sset = service(store__error_rate=err, store__latency_p95_ms=lat, store__cpu_utilization=cpu, error_rate=svc_err)
    for onset in (ONSET, None):
        v = diagnose_series(sset, onset=onset)
        assert (v.culprit_kind, v.culprit_name) == ("dependency", "store"), [f.evidence for f in v.findings[:2]]
        assert "process series still report" in v.findings[0].evidence


def test_a_latency_histograms_mean_sees_the_slowdown_its_quantile_under_reads() -> None:
    """A fast and a slow population, every request x1.35 slower: the p95 re-read from the bucket
    shares reads x1.2 (under the x1.3 gate), the histogram's mean (`_sum` / `_count`, exact) x1.35.
    Judged beside the quantile, the mean names the latency; the quantile alone names nothing; a
    +6% wobble read by both stays quiet."""
    sset = service()
    p95 = sset.series[0]
    assert p95.key == "latency_p95_ms"
    p95.values = step_at(noisy(120.0, 0.03, 1), ONSET_I, 1.2)
    p95.mean = step_at(noisy(45.0, 0.02, 7), ONSET_I, 1.35)
    for onset in (ONSET, None):
        v = diagnose_series(sset, onset=onset)
        assert (v.culprit_kind, v.culprit_name) == ("latency", "latency_p95_ms"), [f.evidence for f in v.findings[:2]]
        top = v.findings[0]
        assert top.evidence.startswith("latency_p95_ms (mean) rose") and "the quantile x1.2" in top.evidence
        assert top.details["estimate"] == "mean" and top.details["ratio"] == pytest.approx(1.35, abs=0.04)
    quantile_only = service()
    quantile_only.series[0].values = p95.values
    assert diagnose_series(quantile_only, onset=ONSET).culprit_kind == "none"
    wobble = service()
    wobble.series[0].values = step_at(noisy(120.0, 0.03, 1), ONSET_I, 1.06)
    wobble.series[0].mean = step_at(noisy(45.0, 0.02, 7), ONSET_I, 1.06)
    for onset in (ONSET, None):
        assert diagnose_series(wobble, onset=onset).culprit_kind == "none"


def bursty(level: float, seed: int) -> np.ndarray:
    """A p99 that jumps x2.5 for about two minutes a few times an hour (GC pauses, batch jobs),
    all day long: the bursts are the series' usual behaviour."""
    rng = np.random.default_rng(seed)
    x = level * (1.0 + rng.normal(0.0, 0.02, N))
    starts = np.flatnonzero(rng.random(N) < 0.012)
    for s in starts:  # a few dozen bursts: a loop over bursts, in a test
        x[s : s + int(rng.integers(6, 12))] *= 2.5
    return x


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_recurring_bursts_of_a_p99_are_its_usual_behaviour_not_a_fault(seed: int) -> None:
    p99 = bursty(140.0, seed)
    # a burst right after the given onset, as a GC pause would put one there
    p99[ONSET_I + 4 : ONSET_I + 14] = 140.0 * 2.5
    for onset in (ONSET, None):
        v = diagnose_series(service(latency_p95_ms=p99), onset=onset)
        assert v.culprit_kind == "none", (onset, v.culprit_kind, [f.evidence for f in v.findings[:2]])


@pytest.mark.parametrize("seed", [11, 12])
def test_a_sustained_slowdown_of_a_bursty_p99_is_still_latency(seed: int) -> None:
    p99 = bursty(140.0, seed)
    p99[ONSET_I:] *= 1.8  # every request slower from the onset on, bursts and all
    for onset in (ONSET, None):
        v = diagnose_series(service(latency_p95_ms=p99), onset=onset)
        assert (v.culprit_kind, v.culprit_name) == ("latency", "latency_p95_ms"), onset
    assert abs(v.onset - ONSET) <= 300.0
