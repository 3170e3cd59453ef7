"""Values served from a stale snapshot: a column frozen per entity, or a lagged copy of itself.

A feature store that stopped refreshing, a join against yesterday's table, a cache that never
expires: the column still holds real values of the column (its distribution barely moves, so
the drift checks are quiet) but not this request's. With labels the label relation sees it;
with labels withheld two traces remain in the inputs themselves:

- **frozen per entity**: the column used to change between one merchant's (meter's, user's)
  requests and since the onset repeats that entity's previous value exactly;
- **a lagged copy**: a column that follows the clock for every row alike (a temperature, an
  index) takes, since the onset, the values the log itself held one lag earlier (an hour, a
  day) far more closely than any two moments that far apart did before.

Both are compared with the same measure on the reference, so an attribute that never changes
per entity (a merchant's country) or a clock-driven series that repeats itself (a synthetic
daily wave) is as frozen or as periodic before the onset as after it and stays quiet.
"""

from __future__ import annotations

import math
from collections.abc import Collection

import numpy as np

from diagnostics.context import Context
from diagnostics.findings import Finding
from diagnostics.log import Categorical, align_categorical
from diagnostics.replay import repeats
from diagnostics.stats import floor_quotient, two_proportion_se

MAX_VALUE_COLUMNS = 12  # the most influential numeric inputs are the ones worth checking
MIN_ENTITIES = 20  # an entity column has at least this many values in the current window ...
MIN_PAIRS = 200  # ... and this many pairs of one entity's consecutive requests per window
MIN_RISE = 0.3  # the share of an entity's requests repeating its previous value rose this much ...
MIN_FROZEN = 0.6  # ... to at least this share ...
MIN_Z = 8.0  # ... far beyond the noise of two proportions
MIN_INFLUENCE = 0.05  # a column the model does not read is no cause of its errors

BIN_S = 600.0  # ten-minute means of a clock-driven column
MIN_TIME_SHARE = 0.9  # share of a column's variance between ten-minute bins: the same for every row
LAGS_H = (*range(1, 49), 72, 168)  # the lags a stale join takes: whole hours up to two days, 3 and 7 days
MIN_LAG_BINS = 12  # current bins (two hours) that must compare with the log one lag earlier
DAY_BINS = int(86400 // BIN_S)
MAX_LAG_RATIO = 0.05  # since the onset the column is this much closer to its own past than ever before ...
FLAT_SPREAD = 1.0  # current bin means spread no more than two bins' noise (a bin's is half the floor): flat
COPY_NOISE = 1.5  # ... and as close as the bins' own sampling noise lets a copy be (mean square / expected)


def _numeric_columns(ctx: Context) -> list[str]:
    ref, cur = ctx.reference.features, ctx.current.features
    names = [
        k for k in ref
        if k in cur and not isinstance(ref[k], Categorical) and not isinstance(cur[k], Categorical)
        and ctx.influence.get(k, 0.0) >= MIN_INFLUENCE
    ]
    names.sort(key=lambda k: ctx.influence_raw.get(k, 0.0), reverse=True)
    return names[:MAX_VALUE_COLUMNS]


def _repeat_shares(codes: np.ndarray, ts: np.ndarray, values: dict[str, np.ndarray]) -> tuple[int, dict[str, float]]:
    """Pairs of one entity's consecutive requests, and per column the share of them with equal values."""
    order = np.lexsort((ts, codes))
    c = codes[order]
    same = (c[1:] == c[:-1]) & (c[1:] >= 0)
    pairs = int(same.sum())
    out: dict[str, float] = {}
    if pairs == 0:
        return 0, out
    for name, v in values.items():
        x = v[order]
        eq = (x[1:] == x[:-1]) & np.isfinite(x[1:])
        out[name] = float(eq[same].mean())
    return pairs, out


def _frozen_per_entity(ctx: Context, names: list[str]) -> list[Finding]:
    out: list[Finding] = []
    ref, cur = ctx.reference, ctx.current
    for ent, r_col in ref.features.items():
        c_col = cur.features.get(ent)
        if not isinstance(r_col, Categorical) or not isinstance(c_col, Categorical):
            continue
        # on the windows' row samples: a frozen value is repeated by every later request of its
        # entity, sampled or not
        r_idx, c_idx = np.sort(ctx.ref_sample), np.sort(ctx.cur_sample)
        r_codes, c_codes, _ = align_categorical(r_col.take(r_idx), c_col.take(c_idx))
        if np.unique(c_codes[c_codes >= 0]).size < MIN_ENTITIES:
            continue
        r_vals = {k: np.asarray(ref.features[k], dtype=np.float64)[r_idx] for k in names}
        c_vals = {k: np.asarray(cur.features[k], dtype=np.float64)[c_idx] for k in names}
        n_r, s_r = _repeat_shares(r_codes, ref.timestamp[r_idx], r_vals)
        n_c, s_c = _repeat_shares(c_codes, cur.timestamp[c_idx], c_vals)
        if n_r < MIN_PAIRS or n_c < MIN_PAIRS:
            continue
        for k in names:
            p_r, p_c = s_r[k], s_c[k]
            f = _repeat_finding(
                ctx, k, (p_r, n_r), (p_c, n_c),
                f"Feature '{k}' stopped changing per {ent}: since the onset {p_c:.0%} of one {ent}'s requests "
                f"repeat its previous value of '{k}' exactly, against {p_r:.0%} before ({n_c} pairs of "
                "consecutive requests): the values come from a stale snapshot (a feature store or join that "
                "stopped refreshing).",
                {"change": "frozen_per_entity", "entity": ent},
            )
            if f is not None:
                out.append(f)
    return out


def _repeat_finding(
    ctx: Context, name: str, ref: tuple[float, int], cur: tuple[float, int], evidence: str, details: dict[str, object]
) -> Finding | None:
    """A finding when the share of repeated values rose `MIN_RISE` to `MIN_FROZEN` with z >= `MIN_Z`."""
    (p_r, n_r), (p_c, n_c) = ref, cur
    rise = p_c - p_r
    z = rise / two_proportion_se(p_r, n_r, p_c, n_c)
    if rise < MIN_RISE or p_c < MIN_FROZEN or z < MIN_Z:
        return None
    influence = ctx.influence.get(name, 0.0)
    mag = float(np.clip((rise - 0.2) / 0.4, 0.0, 1.0))
    return Finding(
        "data", "stale_values", name, mag * (0.3 + 0.7 * influence), evidence,
        {**details, "repeat_share_reference": p_r, "repeat_share_current": p_c, "z": z, "rows_current": n_c,
         "influence": influence},
    )


def _repeated_values(ctx: Context, names: list[str]) -> list[Finding]:
    """Continuous columns whose values since the onset repeat an earlier row's value exactly.

    A copy lagged per entity (each meter's usage as it was a day before) or frozen per entity
    repeats values the log already held, whatever the entity column is called (or when there is
    none in the log). Every row looks back equally far (`repeats`), before the onset and after
    it, so a column that repeats by nature (whole numbers, a per-entity attribute) repeats at its
    usual share in both windows.
    """
    log = ctx.log
    ts = log.timestamp
    head = ctx.onset - float(ts[0])
    look = float(np.clip(LOOK_SHARE * head, 3600.0, MAX_LOOK_S))
    ref_from = max(ctx.onset - max(float(ts[-1]) - ctx.onset, 3600.0), float(ts[0]) + look)
    if ref_from >= ctx.onset:
        return []
    lo = int(np.searchsorted(ts, ref_from - look, side="left"))
    split = int(np.searchsorted(ts, ctx.onset, side="left"))
    out: list[Finding] = []
    for k in names:
        col = log.features.get(k)
        if col is None or isinstance(col, Categorical):
            continue
        found = repeats({k: col}, ts, lo, look)
        if found is None:
            continue
        window, rep = found
        # an empty value repeats the last empty one bit for bit: emptied columns are the
        # missing-value checks' case, so only present values count
        present = np.isfinite(np.asarray(col, dtype=np.float64)[window])
        in_ref = (ts[window] >= ref_from) & (window < split) & present
        cur = (window >= split) & present
        n_r, n_c = int(in_ref.sum()), int(cur.sum())
        if n_r < MIN_PAIRS or n_c < MIN_PAIRS:
            continue
        p_r, p_c = float(rep[in_ref].mean()), float(rep[cur].mean())
        f = _repeat_finding(
            ctx, k, (p_r, n_r), (p_c, n_c),
            f"Feature '{k}' since the onset repeats values the log already held: {p_c:.0%} of its values repeat "
            f"an earlier row's exactly (within {look / 3600:.0f} h), against {p_r:.0%} before: a stale snapshot "
            "or a lagged copy served instead of fresh values.",
            {"change": "repeated_values", "look_back_s": look},
        )
        if f is not None:
            out.append(f)
    return out


LOOK_SHARE = 0.6  # the look-back is this share of the log before the onset ...
MAX_LOOK_S = 49 * 3600.0  # ... up to two days and an hour (a copy one day old)


def _time_bins(ts: np.ndarray, start: float) -> np.ndarray:
    return floor_quotient(ts - start, BIN_S).astype(np.int64)


class _EveryRow:
    """The ten-minute bins of every row of the log, computed on first use and kept while the inputs are read."""

    def __init__(self, ts: np.ndarray, start: float) -> None:
        self._ts, self._start = ts, start
        self._bins: np.ndarray | None = None

    def __call__(self) -> np.ndarray:
        if self._bins is None:
            self._bins = _time_bins(self._ts, self._start)
        return self._bins


def _bin_means(
    ts: np.ndarray, v: np.ndarray, start: float, n_bins: int, every_row: _EveryRow
) -> tuple[np.ndarray, np.ndarray, float]:
    """Ten-minute means (NaN where empty), rows per bin, and the within-bin variance of a row.

    An input without a missing row is binned on every row's bin (`every_row`, the same for each
    such input), and its rows are used as they are, not copied through masks that keep them all."""
    ok = np.isfinite(v)
    if bool(ok.all()):
        b, x = every_row(), v
    else:
        b, x = _time_bins(ts[ok], start), v[ok]
    keep = (b >= 0) & (b < n_bins)
    if not bool(keep.all()):
        b, x = b[keep], x[keep]
    n = np.bincount(b, minlength=n_bins).astype(np.float64)
    s = np.bincount(b, weights=x, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.where(n > 0, s / n, np.nan)
    within = float(((x - m[b]) ** 2).sum() / max(x.size - int((n > 0).sum()), 1))
    return m, n, within


def _lagged_copy(ctx: Context, names: list[str]) -> list[Finding]:
    log = ctx.log
    ts = log.timestamp
    start = float(ts[0])
    n_bins = int((float(ts[-1]) - start) // BIN_S) + 1
    onset_bin = int(math.ceil((ctx.onset - start) / BIN_S))  # the first bin wholly after the onset
    ref_bins = int((ctx.onset - start) // BIN_S)  # the bins wholly before it
    if onset_bin < 2 * MIN_LAG_BINS or n_bins - onset_bin < MIN_LAG_BINS:
        return []
    phase0 = int(start // BIN_S) % DAY_BINS  # bin i's slot of the (UTC) day is (i + phase0) mod DAY_BINS
    out: list[Finding] = []
    every_row = _EveryRow(ts, start)
    for k in names:
        col = log.features.get(k)
        if col is None or isinstance(col, Categorical):
            continue
        v = np.asarray(col, dtype=np.float64)
        m, n, within = _bin_means(ts, v, start, n_bins, every_row)
        ref_m = m[:ref_bins]
        filled = np.isfinite(ref_m)
        if int(filled.sum()) < 4 * MIN_LAG_BINS:
            continue
        total = float(np.nanvar(v[: int(np.searchsorted(ts, ctx.onset))]))
        if not total > 0 or 1.0 - within / total < MIN_TIME_SHARE:
            continue  # not the same for every row at a time
        best: tuple[float, int, float, float] | None = None
        for lag_h in LAGS_H:
            lag = int(round(lag_h * 3600.0 / BIN_S))
            if lag >= ref_bins - MIN_LAG_BINS:
                break
            # the current bins whose lagged partner lies before the onset: a copy lagged by L takes,
            # for its first L, exactly the values the log held then
            cur = np.arange(onset_bin, min(ref_bins + lag, n_bins))
            phases = np.zeros(DAY_BINS, dtype=bool)
            phases[(cur + phase0) % DAY_BINS] = True
            same_phase = phases[(np.arange(ref_bins) + phase0) % DAY_BINS]
            d_cur = m[cur] - m[cur - lag]
            d_cur = d_cur[np.isfinite(d_cur)]
            # against the same hours of the day before the onset: near a daily wave's crest two
            # moments a few hours apart differ little in any day
            d_ref = ref_m[lag:] - ref_m[:-lag]
            d_ref = d_ref[np.isfinite(d_ref) & same_phase[lag:]]
            if d_cur.size < MIN_LAG_BINS or d_ref.size < MIN_LAG_BINS:
                continue
            # the floor: two bin means differ by their own sampling noise at least
            floor = max(2.0 * within / max(float(np.median(n[n > 0])), 1.0), 1e-9 * total)
            here = m[cur][np.isfinite(m[cur])]
            if float(np.var(here)) <= FLAT_SPREAD * floor:
                # a flat stretch is as close to every earlier flat stretch: a building's occupancy
                # through a night (noise about one level) 'repeated its values from 4 hours
                # earlier', a night of it hours before; nothing moved that a copy could follow
                continue
            # against the typical earlier pair (the median), not the mean: an input that is the same
            # on every weekday (a building's occupancy, a workday flag) differs between days only
            # across a weekend, and a reference holding one made a weekday window look like a copy
            ratio = (float(np.mean(d_cur**2)) + floor) / (float(np.median(d_ref**2)) + floor)
            if float(np.mean(d_cur**2)) > COPY_NOISE * floor:
                continue  # not a copy: closer than usual by chance (weather much like that day's)
            if best is None or ratio < best[0]:
                best = (ratio, lag_h, float(np.sqrt(np.mean(d_cur**2))), float(np.sqrt(np.median(d_ref**2))))
        if best is None or best[0] > MAX_LAG_RATIO:
            continue
        ratio, lag_h, rms_cur, rms_ref = best
        influence = ctx.influence.get(k, 0.0)
        mag = float(np.clip((0.08 - ratio) / 0.05, 0.0, 1.0))
        words = f"{lag_h // 24} day(s)" if lag_h % 24 == 0 else f"{lag_h} hour(s)"
        out.append(
            Finding(
                "data",
                "stale_values",
                k,
                mag * (0.3 + 0.7 * influence),
                f"Feature '{k}' since the onset repeats its own values from {words} earlier: its ten-minute means "
                f"differ from the log's {words} before by {rms_cur:.3g} (rms), against {rms_ref:.3g} between two "
                "moments that far apart before the onset (the median pair): a join serving a stale (lagged) copy.",
                {"change": "lagged_copy", "lag_hours": lag_h, "ratio": ratio, "rms_current": rms_cur,
                 "rms_reference": rms_ref, "influence": influence},
            )
        )
    return out


def stale_value_findings(ctx: Context, clock_inputs: Collection[str] = ()) -> list[Finding]:
    """Columns the model reads whose values since the onset come from a stale snapshot (module doc).

    `clock_inputs` (an hour of the day) repeat themselves a day later by definition.
    """
    names = [k for k in _numeric_columns(ctx) if k not in clock_inputs]
    if not names or ctx.reference.timestamp.size == 0:
        return []
    found = _lagged_copy(ctx, names) + _repeated_values(ctx, names)
    r_ts = ctx.reference.timestamp
    if float(r_ts[0]) >= float(ctx.log.timestamp[0]) and float(r_ts[-1]) <= ctx.onset:
        # an entity's previous request is only known on the log's own rows
        found += _frozen_per_entity(ctx, names)
    best: dict[str, Finding] = {}
    for f in found:
        if f.subject not in best or f.score > best[f.subject].score:
            best[f.subject] = f
    return sorted(best.values(), key=lambda f: f.score, reverse=True)
