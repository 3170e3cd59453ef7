"""Replayed or retried traffic: requests since the onset that repeat an earlier request exactly.

A replay job re-sending an hour of requests, a client retrying every call, a queue delivering
twice: the rate rises by less than a spike (×1.5 is inside a diurnal day), the inputs' and the
predictions' distributions stay what they were (they are the same requests), so every other
check is quiet, while the service does double work and every downstream count is inflated.
What shows it is the share of rows whose inputs (the most varied feature columns, bit for bit)
already appeared within a fixed look-back, against the same share over the window just before
the onset: traffic that naturally repeats (returning users, a catalogue) repeats at a steady
share when every row looks back equally far.
"""

from __future__ import annotations

import numpy as np

from diagnostics.context import Context
from diagnostics.findings import Finding
from diagnostics.log import Categorical
from diagnostics.stats import two_proportion_se

MIN_ROWS = 200
MIN_RISE = 0.1  # ten points more of the rows repeat an earlier request ...
MIN_Z = 5.0  # ... far beyond the noise of two proportions
_MULT = np.uint64(0x9E3779B97F4A7C15)


KEY_COLUMNS = 6  # the most varied columns identify a request as well as all of them
SAMPLE_KEYS = 1 << 16  # above this many rows, keep the rows of one key bucket in 2^k


def _key_columns(features: dict[str, np.ndarray | Categorical], rows: slice) -> list[str]:
    """The columns with the most distinct values among a window's first 1,000 rows."""
    def distinct(name: str) -> int:
        col = features[name]
        head = col.codes[rows][:1000] if isinstance(col, Categorical) else np.asarray(col)[rows][:1000]
        return int(np.unique(head).size)

    return sorted(sorted(features), key=distinct, reverse=True)[:KEY_COLUMNS]


def _row_keys(features: dict[str, np.ndarray | Categorical], rows: slice) -> np.ndarray | None:
    """One 64-bit key per row of `rows` from the most varied feature columns (a pass per column)."""
    names = _key_columns(features, rows) if features else []
    if not names:
        return None
    key: np.ndarray | None = None
    with np.errstate(over="ignore"):
        for name in names:
            col = features[name]
            if isinstance(col, Categorical):
                bits = col.codes[rows].astype(np.uint64)
            else:
                bits = np.ascontiguousarray(col[rows], dtype=np.float64).view(np.uint64)
            key = bits.copy() if key is None else key * _MULT + bits
        assert key is not None
        key ^= key >> np.uint64(31)
        key *= _MULT
        key ^= key >> np.uint64(29)
    return key


def replay_findings(ctx: Context) -> list[Finding]:
    log = ctx.log
    ts = log.timestamp
    split = int(np.searchsorted(ts, ctx.onset, side="left"))
    n = ts.shape[0]
    if split < MIN_ROWS or n - split < MIN_ROWS:
        return []
    # every row, before the onset or after it, looks back the same length of time: traffic that
    # repeats (a catalogue) repeats more the longer the look-back, so unequal look-backs would
    # make a later window look replayed
    look = max(float(ts[-1]) - ctx.onset, 3600.0)
    ref_from = max(ctx.onset - look, float(ts[0]) + look)
    if ref_from >= ctx.onset:
        return []
    lo = int(np.searchsorted(ts, ref_from - look, side="left"))
    keys = _row_keys(log.features, slice(lo, n))
    if keys is None:
        return []
    window = np.arange(lo, n)
    if keys.size > SAMPLE_KEYS:
        # a sample by key keeps both rows of every repeated pair, or neither: the repeated
        # shares of the sample estimate the window's without bias, at a fraction of the sort
        shift = np.uint64(64 - int(np.ceil(np.log2(keys.size / SAMPLE_KEYS))))
        keep = (keys >> shift) == 0
        keys, window = keys[keep], window[keep]
    order = np.argsort(keys, kind="stable")  # equal keys stay in time order
    sk = keys[order]
    prev = np.full(keys.size, -1, dtype=np.int64)
    same = sk[1:] == sk[:-1]
    prev[order[1:][same]] = window[order[:-1][same]]
    t_row = ts[window]
    repeat = (prev >= 0) & (t_row - ts[np.maximum(prev, 0)] <= look)
    in_ref = (t_row >= ref_from) & (window < split)
    current = window >= split
    ref_rep, cur_rep = repeat[in_ref], repeat[current]
    if ref_rep.size < MIN_ROWS or cur_rep.size < MIN_ROWS:
        return []
    p_ref, p_cur = float(ref_rep.mean()), float(cur_rep.mean())
    se = two_proportion_se(p_ref, ref_rep.size, p_cur, cur_rep.size)
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
