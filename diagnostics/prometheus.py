"""Reading a service's series from Prometheus (`/api/v1/query_range`): diagnostics' HTTP edge.

A Prometheus that is down, slow or answering errors is not a crash: what could not be read
becomes a problem sentence on the `SeriesSet` (the diagnosis shows it as a finding) and the
diagnosis goes on with what it has. Once the server itself is unreachable or times out, the
remaining queries are not sent: one dead server must not cost a timeout per series.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np

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
    try:
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(pairs))) as pool:
            results = list(pool.map(lambda p: _one(http, base_url, p[1], times, step, dead), pairs))
    finally:
        if own_client:
            http.close()
    for (owner, s), (values, problem) in zip(pairs, results, strict=True):
        label = f"{owner}/{s.key}" if owner else s.key
        if problem is not None:
            if dead.reason is None:
                out.problems.append(f"series {label}: {problem}")
            continue
        assert values is not None
        out.series.append(Series(owner, s.key, s.kind, values))
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
    arr = np.asarray([(float(t), _num(v)) for t, v in pts], dtype=np.float64)
    idx = np.rint((arr[:, 0] - times[0]) / step).astype(np.int64)
    ok = (idx >= 0) & (idx < times.shape[0])
    values[idx[ok]] = arr[ok, 1]
    return values, None


def _num(text: object) -> float:
    try:
        v = float(str(text))
    except ValueError:
        return math.nan
    return v if math.isfinite(v) else math.nan
