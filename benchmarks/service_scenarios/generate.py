"""Service scenarios: hours of Prometheus history for a service and two dependencies, one fault each.

Each component (the service `scorer`, its dependencies `feature-store` and `embeddings`) is
simulated as a process exporting what real ones export: `http_requests_total{code}` counters,
an `http_request_duration_seconds` histogram with Prometheus' default buckets (so p95 jumps at
bucket edges), `process_cpu_seconds_total` and `process_resident_memory_bytes`. Requests are
Poisson, latencies log-normal (plus a point mass at a timeout), traffic follows a diurnal wave,
the service's latency is its own plus its dependencies', their errors reach it, a CPU near its
limit queues requests, a process that restarts resets its counters, and 1% of scrapes are lost.

The history ends at the current time (tools look back from "now"); `openmetrics_text` writes it
for `promtool tsdb create-blocks-from openmetrics`, `catalog_entry` the service's catalog entry,
`changes` the change events (including changes of other services close to the onset, which must
never be named).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import ndtr

STEP_S = 15.0
HISTORY_S = 4 * 3600.0
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SIGMA = 0.35
TIMEOUT_S = 1.0
SERVICE = "scorer"
DEPS = ("feature-store", "embeddings")

FAULT_KINDS = (
    "dependency_latency",
    "dependency_errors",
    "timeouts",
    "cpu_saturation",
    "memory_leak",
    "traffic_surge",
    "bad_config",
    "slow_ramp",
    "two_dependencies",
    "bad_model_deploy",
    "deploy_and_dependency",
    "target_down",
    "dependency_down",
    "two_speed",
)
KINDS = (*FAULT_KINDS, "healthy")
# random streams are keyed by this order, which only ever grows: adding a kind changes no other scenario
SEED_ORDER = (*FAULT_KINDS[:11], "healthy", *FAULT_KINDS[11:])
# "two_speed": a fast and a slow path (10% of requests four times slower), every request slower
SLOW_PATH = (0.10, 4.0)
STRENGTHS = ("weak", "medium", "strong")


@dataclass(frozen=True)
class Expected:
    cause: str
    culprit_kind: str
    culprit_name: str
    trigger: dict[str, Any] | None  # {"timestamp", "kind", "service"} or None


@dataclass
class Component:
    """Per-step truth of one process (arrays over the grid)."""

    name: str
    rate: np.ndarray  # requests/s
    latency: np.ndarray  # median seconds
    slow_share: np.ndarray  # share of requests stuck at the timeout
    errors: np.ndarray  # error share
    cpu: np.ndarray  # cores
    memory: np.ndarray  # bytes
    restarts: list[int] = field(default_factory=list)  # grid indexes where the process restarted
    missing: np.ndarray | None = None  # scrapes lost
    down: np.ndarray | None = None  # the process is gone: nothing is scraped
    slow_path: tuple[float, float] = (0.0, 1.0)  # (share, factor): requests that take a slower path


@dataclass
class ServiceScenario:
    id: str
    kind: str
    strength: str
    seed: int
    times: np.ndarray
    onset: float
    components: dict[str, Component]
    expected: Expected
    changes: list[dict[str, Any]]
    job_prefix: str

    def job(self, component: str) -> str:
        return f"{self.job_prefix}-{component}"


def _diurnal(times: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    phase = rng.uniform(0, 2 * math.pi)
    day = 2 * math.pi * times / 86400.0 + phase
    return 1.0 + amplitude * np.sin(day) + 0.25 * amplitude * np.sin(2 * day + 1.0)


def generate(
    kind: str,
    strength: str,
    seed: int,
    *,
    end: float,
    index: int = 0,
    history_s: float = HISTORY_S,
    extra_deps: int = 0,
    two_speed: bool = False,
) -> ServiceScenario:
    """One scenario whose history ends at ``end`` (epoch seconds, usually now). ``two_speed``: the
    service's requests take a fast or a slow path (`SLOW_PATH`), as the `two_speed` kind's do."""
    if kind not in KINDS:
        raise ValueError(f"unknown service scenario kind {kind!r}")
    s_i = STRENGTHS.index(strength)
    rng = np.random.default_rng(10_000 * (SEED_ORDER.index(kind) + 1) + 100 * s_i + seed)
    end = math.floor(end / STEP_S) * STEP_S
    times = end - history_s + STEP_S * np.arange(int(history_s / STEP_S) + 1)
    n = times.shape[0]
    onset = float(times[np.searchsorted(times, end - rng.uniform(50, 70) * 60.0)])
    after = times >= onset
    load = _diurnal(times, rng, rng.uniform(0.15, 0.35))

    def comp(name: str, rate0: float, lat0: float, err0: float, cpu_per_req: float, mem0: float) -> Component:
        rate = rate0 * load
        return Component(
            name,
            rate=rate,
            latency=lat0 * (1.0 + 0.08 * (load - 1.0)) * np.ones(n),
            slow_share=np.zeros(n),
            errors=np.full(n, err0),
            cpu=0.05 + cpu_per_req * rate,
            memory=mem0 * (1.0 + 0.01 * np.sin(times / 1800.0)),
        )

    rate0 = rng.uniform(20, 60)
    svc = comp(SERVICE, rate0, rng.uniform(0.02, 0.04), rng.uniform(0.001, 0.004), rng.uniform(0.004, 0.007), 6e8)
    fs = comp(DEPS[0], rate0, rng.uniform(0.008, 0.02), rng.uniform(0.0005, 0.002), 0.003, 2e9)
    emb = comp(DEPS[1], rate0, rng.uniform(0.01, 0.025), rng.uniform(0.0005, 0.002), 0.005, 3e9)
    cpu_limit = 1.0
    strength_x = (1.0, 1.6, 2.6)[s_i]
    changes: list[dict[str, Any]] = []
    trigger: dict[str, Any] | None = None
    culprit: tuple[str, str, str] = ("none", "none", "")
    total_factor = np.ones(n)  # the service's whole latency (its own and its dependencies')
    if two_speed or kind == "two_speed":
        svc.slow_path = SLOW_PATH

    def change(at: float, kind_: str, service: str, description: str, **extra: Any) -> dict[str, Any]:
        c = {"timestamp": float(at), "kind": kind_, "service": service, "description": description, **extra}
        changes.append(c)
        return c

    # changes of services that are not this one, right around the onset: never the trigger
    change(onset - 30, "model_deploy", "fraud-scorer", "fraud model v42 promoted", from_version="41", to_version="42")
    change(onset - 5, "config_change", "payments-api", "payments retry budget 3 -> 5")
    ramp = np.clip((times - onset) / 60.0, 0.0, 1.0)  # a one-minute edge

    if kind == "dependency_latency":
        fs.latency = fs.latency * (1.0 + (1.5 * strength_x) * ramp)
        if seed % 2 == 0:
            trigger = change(onset - 40, "infra", DEPS[0], "feature-store node pool moved to new instance type")
        culprit = ("service", "dependency", DEPS[0])
    elif kind == "dependency_errors":
        fs.errors = fs.errors + (0.03 * strength_x) * ramp
        if seed % 2 == 0:
            trigger = change(onset - 60, "config_change", DEPS[0], "feature-store connection pool 64 -> 8")
        culprit = ("service", "dependency", DEPS[0])
    elif kind == "timeouts":
        emb.slow_share = (0.06 * strength_x) * ramp
        if seed % 2 == 1:
            trigger = change(onset - 20, "infra", DEPS[1], "embeddings GPU driver upgrade")
        culprit = ("service", "dependency", DEPS[1])
    elif kind == "cpu_saturation":
        svc.cpu = svc.cpu + (0.75 + 0.3 * s_i) * ramp  # demand past the 1-core limit
        trigger = change(onset - 45, "other", SERVICE, "scorer build 2026.11.3 (new feature hashing)")
        culprit = ("service", "resource", "cpu_utilization")
    elif kind == "memory_leak":
        period = (45.0, 30.0, 18.0)[s_i] * 60.0
        grow = np.where(after, ((times - onset) % period) / period, 0.0)
        svc.memory = svc.memory * (1.0 + 1.4 * grow)
        svc.restarts = [int(i) for i in np.flatnonzero(np.diff(grow) < -0.5) + 1]
        trigger = change(
            onset - 10, "model_deploy", SERVICE, "scorer model v7 (bigger vocabulary)", from_version="6", to_version="7"
        )
        culprit = ("service", "resource", "memory_bytes")
    elif kind == "traffic_surge":
        factor = 1.0 + (1.1 * strength_x) * ramp
        for c in (svc, fs, emb):
            c.rate = c.rate * factor
            c.cpu = 0.05 + (c.cpu - 0.05) * factor
        fs.latency = fs.latency * (1.0 + 0.15 * (factor - 1.0))
        if seed % 2 == 0:
            trigger = change(onset - 50, "pipeline_run", SERVICE, "nightly re-scoring batch started against scorer")
        culprit = ("service", "traffic", "requests_per_s")
    elif kind == "bad_config":
        svc.errors = svc.errors + (0.025 * strength_x) * ramp
        trigger = change(onset - 35, "config_change", SERVICE, "scorer feature flag strict_schema=on")
        culprit = ("service", "errors", "error_rate")
    elif kind == "slow_ramp":
        minutes = (50.0, 35.0, 20.0)[s_i]
        slow = np.clip((times - onset) / (minutes * 60.0), 0.0, 1.0)
        svc.latency = svc.latency * (1.0 + 1.2 * strength_x * slow)
        trigger = change(onset - 25, "config_change", SERVICE, "scorer cache TTL 10m -> 10s")
        culprit = ("service", "latency", "latency_p95_ms")
    elif kind == "two_dependencies":
        fs.latency = fs.latency * (1.0 + 1.5 * strength_x * ramp)
        second = np.clip((times - onset - (20.0 - 5 * s_i) * 60.0) / 60.0, 0.0, 1.0)
        emb.errors = emb.errors + 0.05 * strength_x * second
        trigger = change(onset - 30, "infra", DEPS[0], "feature-store replica lost")
        culprit = ("service", "dependency", DEPS[0])
    elif kind == "bad_model_deploy":
        svc.latency = svc.latency * (1.0 + 0.8 * strength_x * ramp)
        trigger = change(
            onset - 15, "model_deploy", SERVICE, "scorer model v9 (deeper trees)", from_version="8", to_version="9"
        )
        culprit = ("service", "latency", "latency_p95_ms")
    elif kind == "deploy_and_dependency":
        # a harmless model deploy of the service in the very minute the feature store slows down
        fs.latency = fs.latency * (1.0 + 1.5 * strength_x * ramp)
        change(
            onset - 20, "model_deploy", SERVICE, "scorer model v5 (same architecture)", from_version="4", to_version="5"
        )
        culprit = ("service", "dependency", DEPS[0])
    elif kind == "two_speed":
        # every request slower, on both paths: the p95 sits where the two populations meet, and
        # the bucket shares cannot say by how much it moved (x1.3 reads x1.17-x1.5)
        total_factor = 1.0 + (0.35, 0.6, 1.0)[s_i] * ramp
        trigger = change(
            onset - 15, "model_deploy", SERVICE, "scorer model v13 (two more towers)", from_version="12",
            to_version="13",
        )
        culprit = ("service", "latency", "latency_p95_ms")
    elif kind in ("target_down", "dependency_down"):
        # a process that is gone for 8 / 20 minutes, or for good: its exporter stops answering,
        # its series vanish (no data, not zero) and it comes back with fresh counters
        minutes = (8.0, 20.0, None)[s_i]
        down = after & (times < onset + minutes * 60.0) if minutes is not None else after.copy()
        back = int(np.argmax(times >= onset + minutes * 60.0)) if minutes is not None else 0
        if kind == "target_down":
            svc.down, svc.rate = down, np.where(down, 0.0, svc.rate)
            svc.restarts = [back] if back else []
            for dep in (fs, emb):  # other callers keep a third of their traffic
                dep.rate = np.where(down, 0.3 * dep.rate, dep.rate)
                dep.cpu = np.where(down, 0.05 + 0.3 * (dep.cpu - 0.05), dep.cpu)
            if seed % 2 == 0:
                trigger = change(onset - 30, "infra", SERVICE, "scorer nodes drained for a kernel upgrade")
            else:
                trigger = change(
                    onset - 15, "model_deploy", SERVICE, "scorer model v11 (3x embedding table)",
                    from_version="10", to_version="11",
                )
            culprit = ("service", "traffic", "requests_per_s")
        else:
            fs.down, fs.rate, fs.cpu = down, np.where(down, 0.0, fs.rate), np.where(down, 0.0, fs.cpu)
            fs.restarts = [back] if back else []
            svc.errors = svc.errors + 0.9 * down  # calls to the feature store fail fast
            if seed % 2 == 1:
                trigger = change(onset - 25, "config_change", DEPS[0], "feature-store memory limit 8Gi -> 800Mi")
            culprit = ("service", "dependency", DEPS[0])
    else:  # healthy: diurnal waves, harmless changes, a small wobble after one of them
        change(onset - 20, "config_change", SERVICE, "scorer log level info -> debug")
        change(
            onset + 600,
            "model_deploy",
            SERVICE,
            "scorer model v3 (retrained, same features)",
            from_version="2",
            to_version="3",
        )
        change(onset - 3600, "infra", DEPS[0], "feature-store kernel patch")
        svc.latency = svc.latency * (1.0 + 0.06 * ramp)

    # the service: its own latency plus its dependencies'; their failures become its errors
    svc.slow_share = np.maximum(svc.slow_share, emb.slow_share + fs.slow_share)
    svc.errors = svc.errors + fs.errors + emb.errors + emb.slow_share + fs.slow_share
    util = svc.cpu / cpu_limit
    queueing = 1.0 + 6.0 * np.clip(util - 0.8, 0.0, None) ** 1.5 * 4
    svc.cpu = np.minimum(svc.cpu, cpu_limit)
    svc.latency = (svc.latency * queueing + fs.latency + emb.latency) * total_factor
    for c in (svc, fs, emb):
        c.missing = rng.random(n) < 0.01
        if c.down is not None:
            c.missing = c.missing | c.down
        c.errors = np.clip(c.errors, 0.0, 1.0)
    if svc.restarts:
        for r in svc.restarts:
            svc.errors[r : r + 2] = np.maximum(svc.errors[r : r + 2], 0.3)
    expected = Expected(
        culprit[0],
        culprit[1],
        culprit[2],
        None if trigger is None else {k: trigger[k] for k in ("timestamp", "kind", "service")},
    )
    sid = f"{kind}-{strength}-s{seed}"
    components = {SERVICE: svc, DEPS[0]: fs, DEPS[1]: emb}
    for k in range(extra_deps):  # more dependencies, healthy, for the scale benchmark
        components[f"dep-{k + 3}"] = comp(f"dep-{k + 3}", rate0, 0.015, 0.001, 0.004, 1e9)
        components[f"dep-{k + 3}"].missing = rng.random(n) < 0.01
    return ServiceScenario(
        sid,
        kind,
        strength,
        seed,
        times,
        onset,
        components,
        expected,
        sorted(changes, key=lambda c: c["timestamp"]),
        f"sc{index}",
    )


# --------------------------------------------------------------------------- exporting


@dataclass
class Exported:
    """Cumulative series of one component as its exporter would show them."""

    requests_ok: np.ndarray
    requests_err: np.ndarray
    buckets: np.ndarray  # (n, len(BUCKETS) + 1), cumulative over le and time
    duration_sum: np.ndarray
    cpu_seconds: np.ndarray
    memory: np.ndarray


def export(c: Component, rng: np.random.Generator) -> Exported:
    """Counters from the truth: Poisson requests per scrape interval, binomial errors and buckets."""
    n = c.rate.shape[0]
    reqs = rng.poisson(np.maximum(c.rate, 0.0) * STEP_S)
    errs = rng.binomial(reqs, np.clip(c.errors, 0.0, 1.0))
    # P(latency <= le) for each bucket: log-normal body plus a point mass at the timeout
    le = np.asarray(BUCKETS)
    share, factor = c.slow_path
    log_lat = np.log(np.maximum(c.latency, 1e-6))[:, None]
    body = ndtr((np.log(le)[None, :] - log_lat) / SIGMA)
    if share > 0:  # a second log-normal population, `factor` times slower
        body = (1.0 - share) * body + share * ndtr((np.log(le)[None, :] - log_lat - math.log(factor)) / SIGMA)
    slow = np.clip(c.slow_share, 0.0, 1.0)[:, None]
    cdf = (1.0 - slow) * body + slow * (le[None, :] >= TIMEOUT_S * 1.05)
    # split requests into buckets with successive binomials (one pass per bucket, not per row)
    counts = np.zeros((n, le.shape[0] + 1), dtype=np.int64)
    left = reqs.copy()
    prev = np.zeros(n)
    for j in range(le.shape[0]):
        p_here = np.clip((cdf[:, j] - prev) / np.maximum(1.0 - prev, 1e-12), 0.0, 1.0)
        got = rng.binomial(left, p_here)
        counts[:, j] = got
        left -= got
        prev = cdf[:, j]
    counts[:, -1] = left
    cum_le = np.cumsum(counts, axis=1)
    body_mean = c.latency * math.exp(SIGMA**2 / 2) * ((1.0 - share) + share * factor)
    mean_lat = body_mean * (1 - slow[:, 0]) + TIMEOUT_S * 1.05 * slow[:, 0]
    per_sum = reqs * mean_lat
    cpu = np.maximum(c.cpu, 0.0) * STEP_S * rng.normal(1.0, 0.03, n)
    # a restart starts every counter from zero again
    segment = np.zeros(n, dtype=np.int64)
    for r in c.restarts:
        segment[r:] += 1

    def cumulative(inc: np.ndarray) -> np.ndarray:
        total = np.cumsum(inc, axis=0).astype(np.float64)
        if not c.restarts:
            return total
        out = total.copy()
        for r in c.restarts:
            base = total[r - 1] if r > 0 else 0
            out[r:] = total[r:] - base
        return out

    memory = c.memory * rng.normal(1.0, 0.005, n)
    return Exported(
        cumulative(reqs - errs),
        cumulative(errs),
        cumulative(cum_le),
        cumulative(per_sum),
        cumulative(np.maximum(cpu, 0.0)),
        memory,
    )


def openmetrics_lines(scenarios: list[ServiceScenario]) -> Iterator[str]:
    """OpenMetrics text of every scenario (families grouped, samples time-ordered per series)."""
    exported: list[tuple[ServiceScenario, str, Exported, np.ndarray]] = []
    for sc in scenarios:
        rng = np.random.default_rng(zlib.crc32(sc.id.encode()))
        for name, comp in sc.components.items():
            keep = ~comp.missing if comp.missing is not None else np.ones(sc.times.shape[0], dtype=bool)
            exported.append((sc, name, export(comp, rng), keep))

    def rows(labels: str, ts: np.ndarray, values: np.ndarray, name: str) -> Iterator[str]:
        prefix = f"{name}{{{labels}}} "
        for t, v in zip(ts.tolist(), values.tolist(), strict=True):
            yield f"{prefix}{v:.10g} {t:.0f}"

    yield "# TYPE http_requests counter"
    for sc, name, ex, keep in exported:
        job = sc.job(name)
        for code, arr in (("200", ex.requests_ok), ("500", ex.requests_err)):
            yield from rows(f'job="{job}",code="{code}"', sc.times[keep], arr[keep], "http_requests_total")
    yield "# TYPE http_request_duration_seconds histogram"
    for sc, name, ex, keep in exported:
        job = sc.job(name)
        ts = sc.times[keep]
        les = [*(f"{b:g}" for b in BUCKETS), "+Inf"]
        # one histogram sample set per timestamp: its buckets, count and sum together
        b = ex.buckets[keep]
        s = ex.duration_sum[keep]
        for i, t in enumerate(ts.tolist()):
            for j, le in enumerate(les):
                yield f'http_request_duration_seconds_bucket{{job="{job}",le="{le}"}} {b[i, j]:.0f} {t:.0f}'
            yield f'http_request_duration_seconds_count{{job="{job}"}} {b[i, -1]:.0f} {t:.0f}'
            yield f'http_request_duration_seconds_sum{{job="{job}"}} {s[i]:.6f} {t:.0f}'
    yield "# TYPE process_cpu_seconds counter"
    for sc, name, ex, keep in exported:
        yield from rows(f'job="{sc.job(name)}"', sc.times[keep], ex.cpu_seconds[keep], "process_cpu_seconds_total")
    yield "# TYPE process_resident_memory_bytes gauge"
    for sc, name, ex, keep in exported:
        yield from rows(f'job="{sc.job(name)}"', sc.times[keep], ex.memory[keep], "process_resident_memory_bytes")
    yield "# EOF"


# --------------------------------------------------------------------------- catalog and changes


def queries(job: str) -> dict[str, str]:
    """The PromQL a team would write for one component."""
    sel = f'job="{job}"'
    return {
        "latency_p95_ms": (
            f"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{{sel}}}[1m]))) * 1000"
        ),
        "error_rate": (
            f'sum(rate(http_requests_total{{{sel},code=~"5.."}}[1m])) / sum(rate(http_requests_total{{{sel}}}[1m]))'
        ),
        "requests_per_s": f"sum(rate(http_requests_total{{{sel}}}[1m]))",
        "cpu_utilization": f"avg(rate(process_cpu_seconds_total{{{sel}}}[1m]))",
        "memory_bytes": f"max(process_resident_memory_bytes{{{sel}}})",
    }


def catalog_entry(sc: ServiceScenario, *, every_series: bool = False) -> dict[str, Any]:
    """The service's catalog entry (docs/contracts.md keys) pointing at this scenario's jobs.

    Dependencies get latency, errors and CPU; ``every_series`` gives them all five series.
    """
    deps = []
    for d in (name for name in sc.components if name != SERVICE):
        q = queries(sc.job(d))
        keep = q if every_series else {k: q[k] for k in ("latency_p95_ms", "error_rate", "cpu_utilization")}
        deps.append({"name": d, "metrics": keep})
    return {"name": SERVICE, "metrics": queries(sc.job(SERVICE)), "dependencies": deps}


def suite(end: float, *, seeds: tuple[int, ...] = (0, 1), healthy_seeds: int = 12) -> list[ServiceScenario]:
    out: list[ServiceScenario] = []
    for kind in FAULT_KINDS:
        for strength in STRENGTHS:
            for seed in seeds:
                out.append(generate(kind, strength, seed, end=end, index=len(out)))
    for seed in range(healthy_seeds):
        out.append(generate("healthy", STRENGTHS[seed % 3], seed, end=end, index=len(out)))
    return out


# a healthy day whose p95 sits just under the 100 ms bucket edge: a +6% wobble of the typical
# request carries it across, and `histogram_quantile`'s linear guess reads x1.3 and more
HEALTHY_AT_AN_EDGE = ("healthy", "weak", 12)


def quick_suite(end: float) -> list[ServiceScenario]:
    """One medium scenario of each kind and three healthy ones (the test suite's subset), then two
    weak `two_speed` slowdowns (x1.35: the quantile alone reads x1.26-x1.32) and a healthy day of
    a two-speed service."""
    out = [generate(k, "medium", 1, end=end, index=i) for i, k in enumerate(FAULT_KINDS)]
    out += [generate("healthy", "medium", s, end=end, index=len(FAULT_KINDS) + s) for s in range(2)]
    kind, strength, seed = HEALTHY_AT_AN_EDGE
    out.append(generate(kind, strength, seed, end=end, index=len(out)))
    out += [generate("two_speed", "weak", s, end=end, index=len(out) + i) for i, s in enumerate((3, 4))]
    out.append(generate("healthy", "weak", 100, end=end, index=len(out), two_speed=True))
    return out
