"""Replayed or retried traffic: requests since the onset that repeat an earlier request exactly.

A replay job re-sending an hour of requests, a client retrying every call, a queue delivering
twice: the rate rises by less than a spike (×1.5 is inside a diurnal day), the inputs' and the
predictions' distributions stay what they were (they are the same requests), so every other
check is quiet, while the service does double work and every downstream count is inflated.
What shows it is the share of rows whose inputs (every feature column, bit for bit) already
appeared earlier in the log, against the same share over the window just before the onset:
traffic that naturally repeats (returning users, a catalogue) repeats at a steady share.
"""

from __future__ import annotations

import math

import numpy as np

from diagnostics.context import Context
from diagnostics.findings import Finding
from diagnostics.log import Categorical

MIN_ROWS = 200
MIN_RISE = 0.1  # ten points more of the rows repeat an earlier request ...
MIN_Z = 5.0  # ... far beyond the noise of two proportions
_MULT = np.uint64(0x9E3779B97F4A7C15)


def _row_keys(features: dict[str, np.ndarray | Categorical], n: int) -> np.ndarray | None:
    """One 64-bit key per row from every feature column (one vectorized pass per column)."""
    if not features:
        return None
    key = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name in sorted(features):
            col = features[name]
            if isinstance(col, Categorical):
                bits = col.codes.astype(np.int64).view(np.uint64)
            else:
                x = np.asarray(col, dtype=np.float64)
                bits = np.where(np.isnan(x), np.nan, x + 0.0).view(np.uint64)  # one NaN, +0.0 for -0.0
            key = (key ^ bits) * _MULT
            key ^= key >> np.uint64(29)
    return key


def replay_findings(ctx: Context) -> list[Finding]:
    log = ctx.log
    ts = log.timestamp
    split = int(np.searchsorted(ts, ctx.onset, side="left"))
    n = ts.shape[0]
    if split < MIN_ROWS or n - split < MIN_ROWS:
        return []
    keys = _row_keys(log.features, n)
    if keys is None:
        return []
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    repeat = first[inverse.ravel()] < np.arange(n)
    span = max(float(ts[-1]) - ctx.onset, 60.0)
    lo = int(np.searchsorted(ts, ctx.onset - max(span, 3600.0), side="left"))
    ref_rep, cur_rep = repeat[lo:split], repeat[split:]
    p_ref, p_cur = float(ref_rep.mean()), float(cur_rep.mean())
    pooled = (ref_rep.sum() + cur_rep.sum()) / (ref_rep.size + cur_rep.size)
    se = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / ref_rep.size + 1 / cur_rep.size))
    rise = p_cur - p_ref
    if rise < MIN_RISE or rise / se < MIN_Z:
        return []
    mag = float(np.clip((rise - 0.05) / 0.2, 0.0, 1.0))
    return [
        Finding(
            "service",
            "replayed_requests",
            "traffic",
            mag,
            f"Requests are being repeated: {p_cur:.0%} of the {cur_rep.size} rows since the onset repeat an earlier "
            f"request's inputs exactly, against {p_ref:.1%} just before (replayed, retried or doubly delivered "
            "traffic).",
            {"repeated_share_reference": p_ref, "repeated_share_current": p_cur, "z": rise / se,
             "rows_current": int(cur_rep.size), "rows_reference": int(ref_rep.size)},
        )
    ]
