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

import math
from dataclasses import dataclass

import numpy as np

from diagnostics.clock_features import hour_of_day_columns
from diagnostics.context import Context
from diagnostics.findings import Finding
from diagnostics.log import Categorical, PredictionLog
from diagnostics.stats import floor_quotient, two_proportion_se

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


def _row_keys(
    features: dict[str, np.ndarray | Categorical], rows: slice, names: list[str] | None = None
) -> np.ndarray | None:
    """One 64-bit key per row of `rows` from the most varied feature columns, or from `names`
    (a pass per column)."""
    if names is None:
        names = _key_columns(features, rows) if features else []
    if not names:
        return None
    # one key array mixed in place (a million rows: each step's own copy was 8 MB of fresh memory)
    key: np.ndarray | None = None
    for name in names:
        col = features[name]
        if isinstance(col, Categorical):
            bits = col.codes[rows].astype(np.uint64)
        else:
            bits = np.ascontiguousarray(col[rows], dtype=np.float64).view(np.uint64)
        if key is None:
            key = bits.copy()
        else:
            _mix(key, bits, out=key)
    assert key is not None
    return _finish(key)


def _mix(key: np.ndarray, bits: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """`key * _MULT + bits` (wrapping), into `out` when given."""
    with np.errstate(over="ignore"):
        mixed: np.ndarray = np.multiply(key, _MULT, out=out)
        mixed += bits
    return mixed


def _finish(key: np.ndarray) -> np.ndarray:
    """The final scramble of `key`, written over it (every caller's `key` is its own fresh array)."""
    with np.errstate(over="ignore"):
        shifted = key >> np.uint64(31)
        key ^= shifted
        key *= _MULT
        np.right_shift(key, np.uint64(29), out=shifted)
        key ^= shifted
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
    b = np.maximum(floor_quotient(t - start, width), 0).astype(np.int64)
    rows = np.bincount(b).astype(np.float64)
    hits = np.bincount(b, weights=hit.astype(np.float64), minlength=rows.size)
    return rows, hits


def _burst(t_ref: np.ndarray, ref_rep: np.ndarray, t_cur: np.ndarray, cur_rep: np.ndarray, start: float) -> tuple[
    float, float, int, float, float
]:
    """The busiest hour of repeats since `start` against the reference's busiest hour.

    A replay job that re-sends one old hour doubles one hour of the window: over a day-long
    window that is 4% of the rows, under the window-wide bar, but within its hour half the rows
    repeat an earlier request, where traffic that naturally repeats (a catalogue, returning
    users) repeats at its usual share in every hour of the reference too.
    Returns (peak share, the reference's own peak share, rows in the peak hour, its z, its start).
    """
    width = BURST_S
    c_rows, c_hits = _bin_shares(t_cur, cur_rep, start, width)
    ok = c_rows >= BURST_ROWS
    if not ok.any():
        return 0.0, 0.0, 0, 0.0, start
    share = np.where(ok, c_hits / np.maximum(c_rows, 1.0), 0.0)
    i = int(np.argmax(share))
    r_rows, r_hits = _bin_shares(t_ref, ref_rep, float(t_ref[0]), width)
    r_ok = r_rows >= BURST_ROWS
    ref_peak = float((r_hits[r_ok] / r_rows[r_ok]).max()) if r_ok.any() else 1.0
    p_ref = float(ref_rep.mean())
    se = two_proportion_se(p_ref, ref_rep.size, float(share[i]), int(c_rows[i]))
    return float(share[i]), ref_peak, int(c_rows[i]), (float(share[i]) - p_ref) / se, start + i * width


BURST_S = 3600.0  # a replay job re-sends an hour (or a few) of requests at once
BURST_ROWS = 50  # rows an hour needs for its share of repeats to say anything


@dataclass
class _Repeats:
    """Each row of the reference and current windows, and whether it repeats an earlier request."""

    window: np.ndarray
    repeat: np.ndarray
    in_ref: np.ndarray
    current: np.ndarray

    @property
    def shares(self) -> tuple[float, float]:
        return float(self.repeat[self.in_ref].mean()), float(self.repeat[self.current].mean())


def _measure(features: dict[str, np.ndarray | Categorical], ts: np.ndarray, split: int, back: int) -> _Repeats | None:
    found = repeats(features, ts, split - 2 * back, 0.0, rows_back=back)
    if found is None:
        return None
    window, repeat = found
    in_ref = (window >= split - back) & (window < split)
    current = window >= split
    if int(in_ref.sum()) < MIN_ROWS or int(current.sum()) < MIN_ROWS:
        return None
    return _Repeats(window, repeat, in_ref, current)


def _judge(r: _Repeats, ts: np.ndarray, onset: float) -> tuple[str, dict[str, float], float] | None:
    """('window' or 'burst', details, magnitude) when the current window repeats beyond the reference."""
    ref_rep, cur_rep = r.repeat[r.in_ref], r.repeat[r.current]
    p_ref, p_cur = r.shares
    se = two_proportion_se(p_ref, ref_rep.size, p_cur, cur_rep.size)
    rise = p_cur - p_ref
    details = {"repeated_share_reference": p_ref, "repeated_share_current": p_cur, "z": rise / se,
               "rows_current": int(cur_rep.size), "rows_reference": int(ref_rep.size)}
    if rise >= MIN_RISE and rise / se >= MIN_Z:
        return "window", details, float(np.clip((rise - 0.05) / 0.2, 0.0, 1.0))
    t_row = ts[r.window]
    peak, ref_peak, rows, z, peak_at = _burst(t_row[r.in_ref], ref_rep, t_row[r.current], cur_rep, onset)
    burst_rise = peak - max(p_ref, ref_peak)
    # one hour among many is the busiest by chance: twice the window-wide bar (a replayed
    # hour doubles its hour, half its rows repeat)
    if burst_rise < 2 * MIN_RISE or z < MIN_Z:
        return None
    details.update({"repeated_share_peak_hour": peak, "repeated_share_reference_peak_hour": ref_peak, "z": z,
                    "rows_peak_hour": rows, "peak_hour_start": peak_at})
    return "burst", details, float(np.clip((burst_rise - 0.15) / 0.2, 0.0, 1.0))


def _pairs(values: np.ndarray) -> float:
    """Pairs of rows with equal values."""
    counts = np.unique(values, return_counts=True)[1].astype(np.float64)
    return float((counts * (counts - 1.0)).sum())


def _concentration(
    features: dict[str, np.ndarray | Categorical], names: list[str], keys: np.ndarray, rows: np.ndarray
) -> float:
    """The chance two of `rows` agree on every key column when the columns agree by chance alone:
    per column, the pairs of rows equal in it but not in the whole key (copies left out: they
    would explain themselves) over all pairs, multiplied over the columns."""
    n = float(rows.size)
    whole = _pairs(keys)
    out = 1.0
    for name in names:
        col = features[name]
        v = col.codes[rows] if isinstance(col, Categorical) else np.asarray(col)[rows]
        # at least one pair: a column whose values never collide has no concentration to compare
        out *= max(_pairs(v) - whole, 1.0) / (n * (n - 1.0))
    return out


def _expected_share(
    features: dict[str, np.ndarray | Categorical], ts: np.ndarray, r: _Repeats, lo: int, back: int,
    rows_of: np.ndarray | None = None,
) -> float:
    """The share of the current window's rows expected to repeat one of the `back` rows before them,
    from the reference's share and how much more (or less) its inputs' values crowd together.

    Coarse inputs (a temperature in tenths, drizzle that is mostly 0, a demand level at night)
    repeat more when the window's values crowd together: a night's flat temperature and its dry
    hours make whole requests collide by chance, and the share of repeats follows the number of
    distinct values per input and the rows looked back over, not the rows just before. A replay
    copies every column of a row at once. The reference's chance that two rows collide (from its
    share: 1 - (1 - q)^back) is scaled by `_concentration`, current window against reference, and
    turned back into a share. `rows_of`: one group of current rows (a replayed hour's) instead.
    """
    names = _key_columns(features, slice(lo, ts.shape[0]))
    keys = _row_keys(features, slice(lo, ts.shape[0]))
    p_ref = r.shares[0]
    if keys is None or p_ref >= 1.0:
        return p_ref
    ref_rows = r.window[r.in_ref]
    base = _concentration(features, names, keys[ref_rows - lo], ref_rows)
    q_ref = 1.0 - (1.0 - p_ref) ** (1.0 / back)
    # per stretch of `back` rows of the window (what its rows look back over): a window of several
    # days holds each day's own temperatures, more spread than any one day's
    cur_rows = r.window[r.current] if rows_of is None else rows_of
    block = (cur_rows - (lo + 2 * back)) // back if rows_of is None else np.zeros(cur_rows.size, dtype=np.int64)
    total = weight = 0.0
    for b in np.unique(block):
        rows = cur_rows[block == b]
        if rows.size < MIN_BLOCK_ROWS:
            continue
        ratio = _concentration(features, names, keys[rows - lo], rows) / base
        total += rows.size * (1.0 - (1.0 - min(q_ref * ratio, 1.0)) ** back)
        weight += rows.size
    crowded = float(total / weight) if weight else p_ref
    span = (int(cur_rows.min()), int(cur_rows.max())) if cur_rows.size else (ts.shape[0], ts.shape[0])
    near = _near_expected(features, names, lo, back, r, span)
    return crowded if near is None else max(crowded, near)


def _near_expected(
    features: dict[str, np.ndarray | Categorical], names: list[str], lo: int, back: int, r: _Repeats,
    span: tuple[int, int],
) -> float | None:
    """The share of the rows of `span` (first and last row) expected to repeat one of the `back` rows
    before them, from how often they come within one step of one: the inputs' joint crowding near in
    time, which no copy makes.

    Inputs that follow the clock (a temperature, a demand level, drizzle) move together, and as
    the rate rises the rows looked back over span less time, when the inputs moved less: a
    Sunday's morning repeated 42% of its requests against 22% before it, where each input's own
    crowding, multiplied over the inputs (`_concentration`), expected 29%. Two rows equal on every
    input but one grid step apart on the most varied numeric one (a tenth of a degree) are no
    copy, and where inputs lie on a grid their share moves with the share of exact collisions
    (twice as many pairs a step apart as equal ones, where the values are dense at the step). The
    reference's share of repeats is scaled, on the Poisson scale (-ln(1 - share)), by how much
    more of the window's rows than of the reference's have such a neighbour. None where the
    column is on no grid (a sensor's thousandths, a catalogue) or the reference holds fewer than
    `MIN_NEAR_ROWS` rows with a neighbour: there the product stands alone.
    """
    found = near_repeats(features, names, lo, back)
    if found is None:
        return None
    window, near = found
    split = lo + 2 * back
    in_ref = (window >= split - back) & (window < split)
    in_span = (window >= span[0]) & (window <= span[1])
    hits_ref = int(near[in_ref].sum())
    if hits_ref < MIN_NEAR_ROWS or int(in_span.sum()) < MIN_BLOCK_ROWS:
        return None
    n_ref = hits_ref / int(in_ref.sum())
    n_cur = min(float(near[in_span].mean()), 1.0 - 1e-9)
    p_ref = r.shares[0]
    if n_ref >= 1.0 or p_ref >= 1.0:
        return None
    return float(1.0 - (1.0 - p_ref) ** (math.log1p(-n_cur) / math.log1p(-n_ref)))


MIN_NEAR_ROWS = 30


def near_repeats(
    features: dict[str, np.ndarray | Categorical], names: list[str], lo: int, back: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Rows from `lo` on (a sample above `SAMPLE_KEYS`) and whether each lies one grid step away, on
    the first numeric column of `names`, from one of the `back` rows before it, equal on the others.
    None where that column's values lie on no grid (`_grid_steps`)."""
    numeric = [m for m in names if not isinstance(features[m], Categorical)]
    if not numeric:
        return None
    col = np.asarray(features[numeric[0]], dtype=np.float64)
    n = col.shape[0]
    steps = _grid_steps(col[lo:])
    if steps is None:
        return None
    rest = [m for m in names if m != numeric[0]]
    others = _row_keys(features, slice(lo, n), rest) if rest else np.zeros(n - lo, dtype=np.uint64)
    assert others is not None
    window = np.arange(lo, n)
    if others.size > SAMPLE_KEYS:
        # by the key of the other columns: both rows of a pair a step apart are kept, or neither
        shift = np.uint64(64 - int(np.ceil(np.log2(others.size / SAMPLE_KEYS))))
        keep = (others >> shift) == 0
        others, steps, window = others[keep], steps[keep], window[keep]
    keys = _finish(_mix(others, steps.view(np.uint64)))
    near = np.zeros(window.size, dtype=bool)
    for d in (-1, 1):
        prev = _previous(keys, _finish(_mix(others, (steps + d).view(np.uint64))))
        near |= (prev >= 0) & (window - window[np.maximum(prev, 0)] <= back)
    return window, near


def _grid_steps(values: np.ndarray) -> np.ndarray | None:
    """Each value's index on the grid the column's values lie on (a temperature in tenths), or None
    when they lie on none: a step under a thousandth of their spread (a sensor's raw reading)
    makes no neighbours to count."""
    finite = values[np.isfinite(values)]
    distinct = np.unique(finite)
    if distinct.size < 3:
        return None
    step = float(np.diff(distinct).min())
    if step < float(distinct[-1] - distinct[0]) * 1e-3:
        return None
    index = np.rint((values - distinct[0]) / step)
    on_grid = np.abs(index[np.isfinite(values)] * step + distinct[0] - finite) <= 0.01 * step
    if not on_grid.all():
        return None
    return np.where(np.isfinite(index), index, -(2.0**60)).astype(np.int64)


def _previous(keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """For each row, the position of the latest earlier row whose key equals its query (-1 if none):
    one sort of both, the last key seen carried forward."""
    m = keys.size
    both = np.concatenate((keys, queries))
    pos = np.concatenate((np.arange(m), np.arange(m)))
    is_query = np.concatenate((np.zeros(m, dtype=bool), np.ones(m, dtype=bool)))
    order = np.lexsort((~is_query, pos, both))  # by key, then row; a row's query before its own key
    at = np.where(is_query[order], -1, np.arange(2 * m))
    last = np.maximum.accumulate(at)
    found = is_query[order] & (last >= 0)
    found &= both[order][np.maximum(last, 0)] == both[order]
    prev = np.full(m, -1, dtype=np.int64)
    prev[pos[order][found]] = pos[order][np.maximum(last, 0)][found]
    return prev


MIN_BLOCK_ROWS = 50


FROZEN_SHARE = 0.95  # since the onset one value holds this share of a column's rows ...
FROZEN_RISE = 0.25  # ... this much more than the most common value held just before


def frozen_columns(features: dict[str, np.ndarray | Categorical], split: int, back: int) -> set[str]:
    """The key columns (`_key_columns` of the rows from `split - 2 * back` on, what the repeats were
    counted on) that hold one value in nearly every row from `split` on, where the `back` rows
    before held no value nearly as often: inputs stuck since the onset."""
    out: set[str] = set()
    for name in _key_columns(features, slice(split - 2 * back, None)):
        col = features[name]
        v = col.codes if isinstance(col, Categorical) else np.asarray(col)
        cur, ref = v[split:], v[split - back:split]
        top_c = float(np.unique(cur, return_counts=True)[1].max()) / cur.size
        top_r = float(np.unique(ref, return_counts=True)[1].max()) / ref.size
        if top_c >= FROZEN_SHARE and top_c - top_r >= FROZEN_RISE:
            out.add(name)
    return out


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
    if back < MIN_ROWS:
        return []
    measured = _measure(log.features, ts, split, back)
    judged = _judge(measured, ts, ctx.onset) if measured is not None else None
    if measured is None or judged is None:
        return []
    kind, details, mag = judged
    # an hour-of-day input in the key: a row repeats only rows of its own hour, so the share of
    # repeats follows the rate per hour and which rows of a small pool (a bundled set's 442) the
    # hour favours. A replay repeats whole requests with or without the hour; the pool's rows,
    # without it, repeat as often before the onset as after it (diabetes: 97% and 98%)
    clock = hour_of_day_columns(log.features, ts)
    # an input stuck since the onset (a sensor frozen at its last reading) makes every request
    # collide on it while the other inputs keep varying: whole requests repeat as often as the
    # others alone repeat. A replay copies every input of a row, so without the frozen columns
    # its rows still repeat (the stuck-value check names the frozen input)
    frozen = frozen_columns(log.features, split, back)
    left_out = set(clock) | (frozen if len(frozen) < len(log.features) - len(clock) else set())
    if left_out:
        rest = {k: v for k, v in log.features.items() if k not in left_out}
        again = _measure(rest, ts, split, back) if rest else None
        if again is None or _judge(again, ts, ctx.onset) is None:
            return []
    p_ref, p_cur = measured.shares
    if kind == "window":
        expected = _expected_share(log.features, ts, measured, split - 2 * back, back)
        n_ref, n_cur = int(measured.in_ref.sum()), int(measured.current.sum())
        z = (p_cur - expected) / two_proportion_se(expected, n_ref, p_cur, n_cur)
        details.update({"repeated_share_expected": expected, "z_beyond_expected": z})
        if p_cur - expected < MIN_RISE or z < MIN_Z:
            return []
        evidence = (
            f"Requests are being repeated: {p_cur:.0%} of the {n_cur} rows since the onset repeat an earlier "
            f"request's inputs exactly, against {p_ref:.1%} just before and {expected:.1%} expected from how much "
            "the inputs' own values crowd together (replayed, retried or doubly delivered traffic)."
        )
    else:
        peak, ref_peak = details["repeated_share_peak_hour"], details["repeated_share_reference_peak_hour"]
        rows = int(details.pop("rows_peak_hour"))
        at = details.pop("peak_hour_start")
        t_row = ts[measured.window]
        hour_rows = measured.window[measured.current & (t_row >= at) & (t_row < at + BURST_S)]
        expected = _expected_share(log.features, ts, measured, split - 2 * back, back, hour_rows)
        details["repeated_share_expected_peak_hour"] = expected
        # the hour's own inputs crowd together (a night's flat temperature): no replay
        if peak - max(expected, ref_peak) < 2 * MIN_RISE:
            return []
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
