"""Reading a service's series from Prometheus (`/api/v1/query_range`): diagnostics' HTTP edge.

A Prometheus that is down, slow or answering errors is not a crash: what could not be read
becomes a problem sentence on the `SeriesSet` (the diagnosis shows it as a finding) and the
diagnosis goes on with what it has. Once the server itself is unreachable or times out, the
remaining queries are not sent: one dead server must not cost a timeout per series.

A latency series that is a `histogram_quantile` of bucket rates also has those bucket rates read
(one more range query, by `le`): the diagnosis judges the quantile from the bucket shares
(`diagnostics.histogram`), which move with the requests, not with where the bucket edges fall.
And the rate of the histogram's `_sum` (one more query, one series): over the `+Inf` bucket's rate
it is the mean latency, which the histogram records exactly whatever the shape of the latencies
(a second estimate, judged beside the quantile: `diagnostics.service_causes`).
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np

from diagnostics.histogram import QuantileQuery, mean_query, parse_quantile_query, quantile_from_buckets
from diagnostics.series import Series, SeriesSet, SeriesSpec, ServiceSpec

MAX_POINTS = 11_000  # Prometheus refuses longer range answers
DEFAULT_TIMEOUT_S = 10.0
WORKERS = 8


class _Dead:
    def __init__(self) -> None:
        self.reason: str | None = None
        self.lock = threading.Lock()

    def set(self, reason: str) -> None:
        with self.lock:
            if self.reason is None:
                self.reason = reason


def grid(start: float, end: float, step: float) -> np.ndarray:
    """The evaluation times of a range query from ``start`` to ``end`` by ``step``."""
    step = max(float(step), 0.001)
    npts = int(math.floor((end - start) / step + 1e-9)) + 1
    if npts > MAX_POINTS:
        start = end - (MAX_POINTS - 1) * step
        npts = MAX_POINTS
    return start + step * np.arange(max(npts, 0), dtype=np.float64)


def read_series(
    spec: ServiceSpec,
    base_url: str,
    start: float,
    end: float,
    step: float,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    client: httpx.Client | None = None,
) -> SeriesSet:
    """Every series of ``spec`` between ``start`` and ``end`` (epoch seconds) on one grid."""
    times = grid(start, end, step)
    out = SeriesSet(spec.name, times)
    pairs = spec.all_series()
    if times.shape[0] == 0 or not pairs:
        return out
    dead = _Dead()
    own_client = client is None
    http = client or httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=WORKERS))
    quantiles = [parse_quantile_query(s.query) if s.kind == "latency" else None for _, s in pairs]
    sums = [mean_query(q) if q is not None else None for q in quantiles]
    jobs = len(pairs) + sum(q is not None for q in quantiles) + sum(m is not None for m in sums)
    try:
        with ThreadPoolExecutor(max_workers=min(WORKERS, jobs)) as pool:
            series_jobs = [pool.submit(_one, http, base_url, s, times, step, dead) for _, s in pairs]
            bucket_jobs = {
                i: pool.submit(_buckets, http, base_url, q, times, step, dead)
                for i, q in enumerate(quantiles)
                if q is not None
            }
            sum_jobs = {
                i: pool.submit(_summed, http, base_url, m, times, step, dead)
                for i, m in enumerate(sums)
                if m is not None
            }
            answers = [f.result() for f in series_jobs]
            judged = {i: f.result() for i, f in bucket_jobs.items()}
            sum_rates = {i: f.result() for i, f in sum_jobs.items()}
    finally:
        if own_client:
            http.close()
    for i, ((owner, s), (values, problem)) in enumerate(zip(pairs, answers, strict=True)):
        label = f"{owner}/{s.key}" if owner else s.key
        if problem is not None:
            if dead.reason is None:
                out.problems.append(f"series {label}: {problem}")
            continue
        assert values is not None
        series = Series(owner, s.key, s.kind, values)
        q, (better, count), sum_rate = quantiles[i], judged.get(i) or (None, None), sum_rates.get(i)
        if q is not None and better is not None and np.isfinite(better).any():
            series.judged = np.where(np.isfinite(values), better * q.scale, np.nan)
            series.judged_note = "quantile re-read from the histogram's bucket shares"
        if q is not None and count is not None and sum_rate is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                mean = np.where(np.isfinite(values) & (count > 0), sum_rate / count * q.scale, np.nan)
            if np.isfinite(mean).any():
                series.mean = mean
        out.series.append(series)
    if dead.reason is not None:
        read = len(out.series)
        out.problems.insert(
            0,
            f"Prometheus at {base_url} {dead.reason}; {read} of {len(pairs)} series read, "
            "the diagnosis goes on without the rest",
        )
    return out


def _one(
    http: httpx.Client, base_url: str, spec: SeriesSpec, times: np.ndarray, step: float, dead: _Dead
) -> tuple[np.ndarray | None, str | None]:
    if dead.reason is not None:
        return None, "not read"
    params = {
        "query": spec.query,
        "start": f"{times[0]:.3f}",
        "end": f"{times[-1]:.3f}",
        "step": f"{step:g}",
    }
    url = base_url.rstrip("/") + "/api/v1/query_range"
    try:
        resp = http.get(url, params=params)
    except httpx.TimeoutException:
        dead.set("did not answer in time")
        return None, "timed out"
    except httpx.HTTPError as exc:
        dead.set(f"is unreachable ({type(exc).__name__})")
        return None, "unreachable"
    try:
        payload = resp.json()
    except ValueError:
        if resp.status_code >= 500 or resp.status_code in (401, 403, 404):
            dead.set(f"answered HTTP {resp.status_code} without a Prometheus body")
        return None, f"HTTP {resp.status_code} without a JSON body"
    if resp.status_code != 200 or payload.get("status") != "success":
        if resp.status_code >= 500 and payload.get("errorType") not in ("bad_data", "execution"):
            dead.set(f"answered HTTP {resp.status_code}")
        reason = str(payload.get("error") or "")[:200]
        return None, f"query refused (HTTP {resp.status_code} {payload.get('errorType', '')}: {reason})"
    result = (payload.get("data") or {}).get("result") or []
    values = np.full(times.shape[0], np.nan)
    if not result:
        return None, "no data in the window"
    if len(result) > 1:
        return None, f"the query returns {len(result)} series; aggregate it to one (sum, avg, max)"
    pts = result[0].get("values") or []
    if not pts:
        return None, "no data in the window"
    arr = _points(pts)
    idx = np.rint((arr[:, 0] - times[0]) / step).astype(np.int64)
    ok = (idx >= 0) & (idx < times.shape[0])
    values[idx[ok]] = arr[ok, 1]
    return values, None


def _range(
    http: httpx.Client, base_url: str, query: str, times: np.ndarray, step: float
) -> list[dict[str, Any]] | None:
    """The result of a range query on the grid, or None when it cannot be read (a side reading:
    the catalog's own series is then judged without it)."""
    params = {"query": query, "start": f"{times[0]:.3f}", "end": f"{times[-1]:.3f}", "step": f"{step:g}"}
    try:
        resp = http.get(base_url.rstrip("/") + "/api/v1/query_range", params=params)
        payload = resp.json()
    except (httpx.HTTPError, ValueError):
        return None
    if resp.status_code != 200 or payload.get("status") != "success":
        return None
    return list((payload.get("data") or {}).get("result") or [])


def _summed(
    http: httpx.Client, base_url: str, query: str, times: np.ndarray, step: float, dead: _Dead
) -> np.ndarray | None:
    """Every series of the answer summed on the grid (the histogram's `_sum` rate, grouped as its
    buckets are); None when it cannot be read. A point one series lacks is unknown."""
    result = None if dead.reason is not None else _range(http, base_url, query, times, step)
    if not result:
        return None
    total = np.zeros(times.shape[0])
    for item in result:
        pts = item.get("values")
        if not pts:
            return None
        arr = _points(pts)
        idx = np.rint((arr[:, 0] - times[0]) / step).astype(np.int64)
        ok = (idx >= 0) & (idx < times.shape[0])
        seen = np.zeros(times.shape[0], dtype=bool)
        seen[idx[ok]] = True
        total[idx[ok]] += arr[ok, 1]
        total[~seen] = np.nan
    return total


def _buckets(
    http: httpx.Client, base_url: str, q: QuantileQuery, times: np.ndarray, step: float, dead: _Dead
) -> tuple[np.ndarray, np.ndarray] | None:
    """The quantile re-read from the bucket rates of the query's inner part (summed by `le`), and
    the `+Inf` bucket's rate (the request rate the histogram counted); None when they cannot be
    read (the catalog's own series is then judged as it is)."""
    result = None if dead.reason is not None else _range(http, base_url, q.inner, times, step)
    if result is None:
        return None
    by_le: dict[float, np.ndarray] = {}
    for item in result:
        le_text = (item.get("metric") or {}).get("le")
        pts = item.get("values")
        if le_text is None or not pts:  # a native histogram or no `le`: nothing to re-read
            return None
        le = _num(le_text) if le_text != "+Inf" else math.inf
        if math.isnan(le):
            return None
        arr = _points(pts)
        idx = np.rint((arr[:, 0] - times[0]) / step).astype(np.int64)
        ok = (idx >= 0) & (idx < times.shape[0])
        row = by_le.setdefault(le, np.zeros(times.shape[0]))
        seen = np.zeros(times.shape[0], dtype=bool)
        seen[idx[ok]] = True
        row[idx[ok]] += arr[ok, 1]
        row[~seen] = np.nan  # a point one `le` series lacks is unknown for the whole histogram
    if len(by_le) < 2 or math.inf not in by_le:
        return None
    edges = np.asarray(sorted(by_le))
    return quantile_from_buckets(edges, np.column_stack([by_le[e] for e in edges]), q.phi), by_le[math.inf]


def _points(pts: list[list[object]]) -> np.ndarray:
    """A range answer's ``[[time, "value"], ...]`` as an (n, 2) float array (non-finite values NaN).

    Vectorized (numpy parses the value strings): a bucket read is a dozen series of ~1,400 points.
    """
    try:
        times = np.fromiter((p[0] for p in pts), dtype=np.float64, count=len(pts))  # type: ignore[misc]
        values = np.array([p[1] for p in pts], dtype=np.float64)
    except (TypeError, ValueError):  # something that is not a number at all: point by point
        return np.asarray([(float(str(t)), _num(v)) for t, v in pts], dtype=np.float64).reshape(-1, 2)
    values[~np.isfinite(values)] = np.nan
    return np.column_stack([times, values])


def _num(text: object) -> float:
    try:
        v = float(str(text))
    except ValueError:
        return math.nan
    return v if math.isfinite(v) else math.nan
