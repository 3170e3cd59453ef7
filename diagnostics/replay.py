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
from diagnostics.log import Categorical, PredictionLog
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


def repeats(
    features: dict[str, np.ndarray | Categorical], ts: np.ndarray, lo: int, look: float, rows_back: int = 0
) -> tuple[np.ndarray, np.ndarray] | None:
    """Rows from `lo` on (a sample by key above `SAMPLE_KEYS`) and whether each repeats an earlier
    row's values of `features` (its most varied columns) within `look` seconds, or, when
    `rows_back` is given, within the `rows_back` rows before it."""
    n = ts.shape[0]
    keys = _row_keys(features, slice(lo, n))
    if keys is None:
        return None
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
    if rows_back > 0:
        return window, (prev >= 0) & (window - prev <= rows_back)
    t_row = ts[window]
    return window, (prev >= 0) & (t_row - ts[np.maximum(prev, 0)] <= look)


def _bin_shares(t: np.ndarray, hit: np.ndarray, start: float, width: float) -> tuple[np.ndarray, np.ndarray]:
    b = np.maximum((t - start) // width, 0).astype(np.int64)
    rows = np.bincount(b).astype(np.float64)
    hits = np.bincount(b, weights=hit.astype(np.float64), minlength=rows.size)
    return rows, hits


def _burst(t_ref: np.ndarray, ref_rep: np.ndarray, t_cur: np.ndarray, cur_rep: np.ndarray, start: float) -> tuple[
    float, float, int, float
]:
    """The busiest hour of repeats since `start` against the reference's busiest hour.

    A replay job that re-sends one old hour doubles one hour of the window: over a day-long
    window that is 4% of the rows, under the window-wide bar, but within its hour half the rows
    repeat an earlier request, where traffic that naturally repeats (a catalogue, returning
    users) repeats at its usual share in every hour of the reference too.
    Returns (peak share, the reference's own peak share, rows in the peak hour, its z).
    """
    width = BURST_S
    c_rows, c_hits = _bin_shares(t_cur, cur_rep, start, width)
    ok = c_rows >= BURST_ROWS
    if not ok.any():
        return 0.0, 0.0, 0, 0.0
    share = np.where(ok, c_hits / np.maximum(c_rows, 1.0), 0.0)
    i = int(np.argmax(share))
    r_rows, r_hits = _bin_shares(t_ref, ref_rep, float(t_ref[0]), width)
    r_ok = r_rows >= BURST_ROWS
    ref_peak = float((r_hits[r_ok] / r_rows[r_ok]).max()) if r_ok.any() else 1.0
    p_ref = float(ref_rep.mean())
    se = two_proportion_se(p_ref, ref_rep.size, float(share[i]), int(c_rows[i]))
    return float(share[i]), ref_peak, int(c_rows[i]), (float(share[i]) - p_ref) / se


BURST_S = 3600.0  # a replay job re-sends an hour (or a few) of requests at once
BURST_ROWS = 50  # rows an hour needs for its share of repeats to say anything


def replay_findings(ctx: Context) -> list[Finding]:
    log = ctx.log
    ts = log.timestamp
    split = int(np.searchsorted(ts, ctx.onset, side="left"))
    n = ts.shape[0]
    if split < MIN_ROWS or n - split < MIN_ROWS:
        return []
    # every row, before the onset or after it, looks back over the same number of rows (those
    # since the onset): traffic that repeats (a catalogue, a form of a few dropdowns) repeats more
    # the more requests it looks back over, so a look-back of equal time would hold fewer rows at
    # night than by day, and a daytime window looked replayed against a night before it (a survey
    # form's healthy log: 78% of rows against 57%)
    # (at most half the rows before the onset, so the reference's rows have as many behind them)
    back = min(n - split, split // 2)
    ref_lo = split - back
    if back < MIN_ROWS:
        return []
    found = repeats(log.features, ts, ref_lo - back, 0.0, rows_back=back)
    if found is None:
        return []
    window, repeat = found
    t_row = ts[window]
    in_ref = (window >= ref_lo) & (window < split)
    current = window >= split
    ref_rep, cur_rep = repeat[in_ref], repeat[current]
    if ref_rep.size < MIN_ROWS or cur_rep.size < MIN_ROWS:
        return []
    p_ref, p_cur = float(ref_rep.mean()), float(cur_rep.mean())
    se = two_proportion_se(p_ref, ref_rep.size, p_cur, cur_rep.size)
    rise = p_cur - p_ref
    details = {"repeated_share_reference": p_ref, "repeated_share_current": p_cur, "z": rise / se,
               "rows_current": int(cur_rep.size), "rows_reference": int(ref_rep.size)}
    if rise >= MIN_RISE and rise / se >= MIN_Z:
        mag = float(np.clip((rise - 0.05) / 0.2, 0.0, 1.0))
        evidence = (
            f"Requests are being repeated: {p_cur:.0%} of the {cur_rep.size} rows since the onset repeat an earlier "
            f"request's inputs exactly, against {p_ref:.1%} just before (replayed, retried or doubly delivered "
            "traffic)."
        )
    else:
        peak, ref_peak, rows, z = _burst(t_row[in_ref], ref_rep, t_row[current], cur_rep, ctx.onset)
        burst_rise = peak - max(p_ref, ref_peak)
        # one hour among many is the busiest by chance: twice the window-wide bar (a replayed
        # hour doubles its hour, half its rows repeat)
        if burst_rise < 2 * MIN_RISE or z < MIN_Z:
            return []
        mag = float(np.clip((burst_rise - 0.15) / 0.2, 0.0, 1.0))
        details.update({"repeated_share_peak_hour": peak, "repeated_share_reference_peak_hour": ref_peak, "z": z})
        evidence = (
            f"Requests are being replayed: in one hour since the onset {peak:.0%} of {rows} rows repeat an earlier "
            f"request's inputs exactly, against {p_ref:.1%} of the rows before (and at most {ref_peak:.0%} in any "
            "hour of them): a replayed batch of old requests."
        )
    return [Finding("service", "replayed_requests", "traffic", mag, evidence, details)]


def replay_onset(log: PredictionLog) -> float | None:
    """When a replayed hour began, for a log whose onset nothing else dated.

    A replayed hour moves no distribution, error or loss, so onset detection dates nothing and
    the diagnosis looks at the log's last quarter, where the replay may not be. Here every row
    looks back over the whole log; the hour whose share of repeats stands above the usual share
    of the hours before it (their median) by `MIN_RISE` twice over and by `MIN_Z` is a burst, and the onset is the
    first repeated row of the earliest hour of that burst still above the usual by `MIN_RISE`.
    The caller keeps it only when a diagnosis at that time finds the replay.
    """
    ts = log.timestamp
    if ts.shape[0] < 4 * MIN_ROWS:
        return None
    found = repeats(log.features, ts, 0, float(ts[-1] - ts[0]) + 1.0)
    if found is None:
        return None
    window, repeat = found
    t = ts[window]
    rows, hits = _bin_shares(t, repeat, float(ts[0]), BURST_S)
    ok = rows >= BURST_ROWS
    if int(ok.sum()) < BASE_HOURS:
        return None
    share = np.where(ok, hits / np.maximum(rows, 1.0), np.nan)
    # the usual share is the median of the hours before: traffic from a catalogue repeats more
    # as more of it has been seen, so a later hour is compared with its own recent past
    padded = np.concatenate([np.full(BASE_HOURS, np.nan), share])
    past = np.lib.stride_tricks.sliding_window_view(padded[:-1], BASE_HOURS)
    enough = (~np.isnan(past)).sum(axis=1) >= BASE_HOURS // 2
    with np.errstate(all="ignore"):
        usual = np.where(enough, np.nanmedian(np.where(enough[:, None], past, 0.0), axis=1), np.nan)
    rise = np.where(ok & enough, share - usual, -1.0)
    u = np.clip(np.nan_to_num(usual), 0.0, 1.0)
    z = rise / np.sqrt(np.maximum(u * (1.0 - u), 0.01) / np.maximum(rows, 1.0))
    peak = int(np.argmax(rise))
    if rise[peak] < 2 * MIN_RISE or z[peak] < MIN_Z:
        return None
    first = peak
    while first > 0 and ok[first - 1] and share[first - 1] - usual[peak] >= MIN_RISE:
        first -= 1
    in_bin = ((t - float(ts[0])) // BURST_S).astype(np.int64) == first
    hit_times = t[in_bin & repeat]
    return float(hit_times.min()) if hit_times.size else None


BASE_HOURS = 6  # the hours before a burst that say what share of repeats is usual
