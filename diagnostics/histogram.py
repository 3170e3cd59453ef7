"""A latency quantile judged from its histogram's bucket shares, not from `histogram_quantile`'s guess.

`histogram_quantile` interpolates linearly inside a bucket, as if requests were spread evenly
between its edges. Default buckets are wide (100 ms to 250 ms, 250 ms to 500 ms), so that guess
moves by far more or far less than the requests did: a +6% shift of the typical request that
carries the p95 across the 100 ms edge reads as x1.4, and a x2.2 slowdown inside the wide bucket
as x1.2. A fixed ratio on that series either pages on healthy days or misses real slowdowns.

What the histogram does measure exactly is the share of requests below each edge. Here the
quantile is re-read from those shares: between the two edges that bracket it, the share is
interpolated on the probit scale against the log of the latency (a straight line for a
log-normal body, close to one for any smooth latency distribution between neighbouring edges).
That estimate moves with the requests, however the edges fall, so the usual ratio gate applies
to it again. Below the first edge the interpolation stays linear from zero, and beyond the last
finite edge the answer is that edge, as in Prometheus.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

_HEAD = re.compile(r"^\s*histogram_quantile\s*\(")
_BUCKET_NAME = re.compile(r"\b([A-Za-z_:][A-Za-z0-9_:]*)_bucket\b")
_BY = re.compile(r"\bby\s*\(([^()]*)\)")
_SCALE = re.compile(r"^\s*(?:([*/])\s*([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?))?\s*$")
SHARE_CLIP = 1e-4


@dataclass(frozen=True)
class QuantileQuery:
    """``histogram_quantile(phi, inner) [* or / scale]`` taken apart."""

    phi: float
    inner: str  # the bucket rates by `le`
    scale: float  # what the quantile is multiplied by (1000: seconds shown as ms)


def parse_quantile_query(query: str) -> QuantileQuery | None:
    """The parts of a `histogram_quantile` query, or None for any other query (judged as it is)."""
    head = _HEAD.match(query)
    if head is None:
        return None
    depth, start, comma = 1, head.end(), -1
    i = start
    while i < len(query) and depth:
        ch = query[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 1 and comma < 0:
            comma = i
        i += 1
    if depth or comma < 0:
        return None
    try:
        phi = float(query[start:comma])
    except ValueError:
        return None
    inner = query[comma + 1 : i - 1].strip()
    tail = _SCALE.match(query[i:])
    if not (0.0 < phi < 1.0) or not inner or tail is None:
        return None
    scale = 1.0
    if tail.group(1):
        factor = float(tail.group(2))
        if factor == 0.0:
            return None
        scale = factor if tail.group(1) == "*" else 1.0 / factor
    return QuantileQuery(phi, inner, scale)


def mean_query(q: QuantileQuery) -> str | None:
    """The PromQL of the rate of the histogram's ``_sum`` beside its bucket rates: the same inner
    expression on ``<name>_sum`` instead of ``<name>_bucket``, grouped as before but without
    ``le``. Divided by the ``+Inf`` bucket's rate (the ``_count``) it is the mean latency, which a
    histogram records exactly, whatever the buckets. None when the inner part is not one classic
    histogram's buckets (a native histogram, two metrics, a filter on ``le``, ``without``)."""
    names = set(_BUCKET_NAME.findall(q.inner))
    if len(names) != 1 or re.search(r"\ble\s*=", q.inner) or re.search(r"\bwithout\b", q.inner):
        return None
    inner = _BUCKET_NAME.sub(lambda m: f"{m.group(1)}_sum", q.inner)

    def drop_le(m: re.Match[str]) -> str:
        kept = [label.strip() for label in m.group(1).split(",") if label.strip() and label.strip() != "le"]
        return f"by ({', '.join(kept)})"

    return _BY.sub(drop_le, inner)


def quantile_from_buckets(edges: np.ndarray, cumulative: np.ndarray, phi: float) -> np.ndarray:
    """The ``phi`` quantile at each row of cumulative bucket rates (columns: ``edges``, the last +Inf).

    Rows without traffic or with a missing bucket are NaN. Vectorized over rows.
    """
    n, k = cumulative.shape
    out = np.full(n, np.nan)
    if k < 2 or not math.isinf(float(edges[-1])):
        return out
    c = np.maximum.accumulate(np.nan_to_num(cumulative, nan=-np.inf), axis=1)  # buckets never decrease
    total = c[:, -1]
    ok = np.isfinite(c).all(axis=1) & (total > 0)
    if not ok.any():
        return out
    share = np.where(ok[:, None], c / np.where(total > 0, total, 1.0)[:, None], 0.0)
    at_or_past = share >= phi
    j = np.where(ok, np.argmax(at_or_past, axis=1), 0)
    rows = np.flatnonzero(ok)
    jr = j[rows]
    finite_top = float(edges[-2])
    hi_edge = edges[jr]
    lo_edge = np.where(jr > 0, edges[np.maximum(jr - 1, 0)], 0.0)
    f_hi = share[rows, jr]
    f_lo = np.where(jr > 0, share[rows, np.maximum(jr - 1, 0)], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # linear from zero in the first bucket (no lower edge to take a log of)
        linear = lo_edge + (np.where(np.isinf(hi_edge), finite_top, hi_edge) - lo_edge) * (phi - f_lo) / (f_hi - f_lo)
        z_lo = ndtri(np.clip(f_lo, SHARE_CLIP, 1.0 - SHARE_CLIP))
        z_hi = ndtri(np.clip(f_hi, SHARE_CLIP, 1.0 - SHARE_CLIP))
        t = (float(ndtri(phi)) - z_lo) / (z_hi - z_lo)
        log_lo = np.log(np.where(lo_edge > 0, lo_edge, 1.0))
        log_hi = np.log(np.where(np.isfinite(hi_edge) & (hi_edge > 0), hi_edge, 1.0))
        probit = np.exp(log_lo + (log_hi - log_lo) * np.clip(t, 0.0, 1.0))
    value = np.where(
        np.isinf(hi_edge),
        finite_top,
        np.where((lo_edge > 0) & (z_hi > z_lo), probit, np.where(f_hi > f_lo, linear, hi_edge)),
    )
    out[rows] = value
    return out
