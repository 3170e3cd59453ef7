"""Inputs that follow the request's clock: an hour-of-day column.

An hour-of-day input is a function of the row's own timestamp (in some time zone). Between a
morning reference and an afternoon window its distribution moves by construction — every hour
since the onset is one the reference never had — so the drift and range checks report a
"drift" that is only the clock (0.2–0.28 on healthy logs, a hair under the verdict bar). What
can break is its relation to the clock: a join in the wrong time zone, yesterday's batch, a
lag. That relation is checked instead: the offset (quarter hours, UTC−12 to UTC+14) at which
the reference's values equal the hour of their timestamps, and the share of current rows that
still match it. A column that matches no offset in the reference is an ordinary input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diagnostics.findings import Finding

OFFSETS_H = np.arange(-12 * 4, 14 * 4 + 1) / 4.0
SAMPLE = 4000  # rows per window; a share's standard error is under 1 point
MIN_ROWS = 200
MIN_MATCH = 0.9  # reference rows equal to the hour of their timestamp at one offset
MIN_DROP = 0.2  # share of current rows that stopped matching


@dataclass
class ClockInput:
    offset_h: float
    match_reference: float
    match_current: float
    current_offset_h: float | None
    findings: list[Finding] = field(default_factory=list)


def _sample(values: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = np.flatnonzero(np.isfinite(values))
    ok = ok[:: max(1, ok.size // SAMPLE)]
    return values[ok], ts[ok]


def _hours(ts: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    hours: np.ndarray = np.floor((ts[None, :] / 3600.0 + offsets[:, None]) % 24.0)
    return hours


def best_offset(values: np.ndarray, ts: np.ndarray) -> tuple[float, float] | None:
    """(offset in hours, share of rows matching) of an integer 0-23 column against its timestamps."""
    v, t = _sample(values, ts)
    if v.size < MIN_ROWS or not bool(np.all((v >= 0) & (v <= 23) & (v == np.floor(v)))):
        return None
    if np.unique(v).size < 2:  # a morning hour or two identify the offset; a constant does not
        return None
    head = (_hours(t[:256], OFFSETS_H) == v[None, :256]).mean(axis=1)
    if float(head.max()) < 0.5:  # integer columns that are not hours (pixel values, counts) stop here
        return None
    match = (_hours(t, OFFSETS_H) == v[None, :]).mean(axis=1)
    best = int(np.argmax(match))
    return float(OFFSETS_H[best]), float(match[best])


def clock_match(values: np.ndarray, ts: np.ndarray, head: int) -> np.ndarray | None:
    """Per row 1 where an hour-of-day column equals its timestamp's hour (offset fitted on the first
    `head` rows), 0 where not, NaN where missing; None for a column that does not follow the clock.

    Onset detection scans this instead of the column's mean and spread: those follow the clock
    (a spread measured from the head's median grows hour by hour like a step), while the match
    share stays flat until the column's relation to the clock breaks.
    """
    fit = best_offset(values[:head], ts[:head])
    if fit is None or fit[1] < MIN_MATCH:
        return None
    hours = np.floor((ts / 3600.0 + fit[0]) % 24.0)
    return np.where(np.isfinite(values), (hours == values).astype(np.float64), np.nan)


def clock_input(
    name: str, r: np.ndarray, r_ts: np.ndarray, c: np.ndarray, c_ts: np.ndarray, weight: float
) -> ClockInput | None:
    """The clock relation of `name` if the reference shows one; a finding when it broke since."""
    ref = best_offset(r, r_ts)
    if ref is None or ref[1] < MIN_MATCH:
        return None
    offset, match_ref = ref
    v, t = _sample(c, c_ts)
    if v.size < MIN_ROWS:
        return ClockInput(offset, match_ref, match_ref, offset)
    match_cur = float((_hours(t, np.array([offset]))[0] == v).mean())
    now = best_offset(c, c_ts)
    now_offset = now[0] if now is not None and now[1] >= 0.5 else None
    out = ClockInput(offset, match_ref, match_cur, now_offset)
    drop = match_ref - match_cur
    if drop >= MIN_DROP:
        where = f"; most rows now match UTC{now_offset:+g}" if now_offset is not None else ""
        out.findings.append(
            Finding(
                "data",
                "relation_break",
                name,
                min(1.0, drop / 0.3) * weight,
                f"Feature '{name}' no longer follows the request time: {100 * match_ref:.0f}% of reference rows equal "
                f"the hour of their timestamp at UTC{offset:+g}, {100 * match_cur:.0f}% since the onset{where} "
                "(a time-zone, lag or join change).",
                {
                    "change": "clock",
                    "clock_offset_reference_h": offset,
                    "clock_match_reference": match_ref,
                    "clock_match_current": match_cur,
                    "clock_offset_current_h": now_offset,
                },
            )
        )
    return out
