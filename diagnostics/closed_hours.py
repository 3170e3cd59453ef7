"""Hours a service is closed: silences that begin and end at the hours earlier silences did.

A restaurant's orders stop at night, a B2B product's traffic stops at 19:00 and on weekends. Such
a log's window holds a silence of 13 hours, or of 61 over its first weekend, and the traffic
checks read it as 'no predictions were logged for 780 minutes' and its rate, spread over the
closed hours, as a drop. A closing is recognised by its clock, not its length: it begins within
`TOLERANCE_S` of the time of day the reference's own long silences began (the last order of the
evening) and ends within it of the time of day they ended (the first one of the morning). A
weekend is two nights and a day closed from the usual closing to the usual opening. A silence
that starts in the middle of an open day, or ends at an hour no earlier morning did, is still an
outage. The reference must show one such silence at least (a night before the onset).

Or the log must repeat it: a closed service's log that starts on a weekend (its reference then holds
a single open day and no silence), or an onset inside a night (the reference's last silence is cut
by it), still shows its closings night after night since. A silence whose start and end both fall
within `TOLERANCE_S` on the clock of another silence's, on another day, is a closing too: an outage
does not begin and end at the same hours on two days (issue 12, 15b).
"""

from __future__ import annotations

import numpy as np

DAY_S = 86400.0
MIN_SILENCE_S = 2 * 3600.0  # a silence this long is a closing (or an outage), not a lull
TOLERANCE_S = 5400.0  # the last and first request's jitter, and a daylight-saving hour
MIN_CLOSINGS = 1


def _silences(ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gaps = np.diff(ts)
    at = np.flatnonzero(gaps >= MIN_SILENCE_S)
    return ts[at], ts[at + 1]


def _near(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per value of `a`, whether some value of `b` is within `TOLERANCE_S` of it on the clock."""
    d = np.abs((a[:, None] - b[None, :]) % DAY_S)
    return (np.minimum(d, DAY_S - d) <= TOLERANCE_S).any(axis=1) if b.size else np.zeros(a.size, dtype=bool)


def closings(
    ref_ts: np.ndarray, all_ts: np.ndarray, offset_h: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the silences of the sorted `all_ts` that are closed hours by the reference's
    clock (`offset_h`: the log's UTC offset, when an hour input names it: `_closed_weekend`)."""
    r_start, r_end = _silences(ref_ts)
    start, end = _silences(all_ts)
    if start.size == 0:
        return start, end
    keep = _recurring(start, end)
    if offset_h is not None:
        keep |= _closed_weekend(start, end, all_ts, offset_h)
    if r_start.size >= MIN_CLOSINGS:
        keep |= _near(start % DAY_S, r_start % DAY_S) & _near(end % DAY_S, r_end % DAY_S)
    return start[keep], end[keep]


def _recurring(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Per silence, whether another one at least half a day away began and ended at its hours of the day."""
    if start.size < 2 or start.size > MAX_SILENCES:  # many long silences: a sparse log, not a timetable
        return np.zeros(start.size, dtype=bool)

    def near(x: np.ndarray) -> np.ndarray:
        d = np.abs((x[:, None] - x[None, :]) % DAY_S)
        close: np.ndarray = np.minimum(d, DAY_S - d) <= TOLERANCE_S
        return close

    apart = np.abs(start[:, None] - start[None, :]) >= DAY_S / 2
    out: np.ndarray = np.asarray((near(start) & near(end) & apart).any(axis=1), dtype=bool)
    return out


def _closed_weekend(start: np.ndarray, end: np.ndarray, ts: np.ndarray, offset_h: float) -> np.ndarray:
    """Per silence, whether it is a service's closed weekend: it holds a whole local Saturday and
    Sunday, and no row of the log falls at the hours of the day it covers on either side of them
    (from its start's hour to midnight, from midnight to its end's hour).

    A closed shop's log of three days, Friday to Monday, holds one silence: its weekend. It does
    not repeat, so `_recurring` cannot see it, and a window from Monday's opening read "traffic
    spiked to 61741743237x normal: 0.0 -> 61.7" against it (cycles seed 246). A service open at
    night has rows at those hours on its other days: an outage over its weekend stays one.
    """
    shift = offset_h * 3600.0
    local_start, local_end = start + shift, end + shift
    # the first local Saturday 00:00 at or after the start (1970-01-01 was a Thursday: day 2 was a Saturday)
    day = np.ceil(local_start / DAY_S)
    saturday = day + (2 - day) % 7
    whole: np.ndarray = (saturday + 2) * DAY_S <= local_end
    h_start, h_end = local_start % DAY_S, local_end % DAY_S
    if not bool(whole.any()):
        return whole
    clock = (ts + shift) % DAY_S
    out = np.zeros(start.size, dtype=bool)
    for i in np.flatnonzero(whole):  # at most `MAX_SILENCES`
        outside = (ts < start[i]) | (ts > end[i])
        at_hours = (clock >= h_start[i]) | (clock < h_end[i])
        out[i] = not bool((outside & at_hours).any())
    return out


MAX_SILENCES = 200  # a closed service over a few weeks (nights and weekends)


def closes_over_midnight(ref_ts: np.ndarray, all_ts: np.ndarray, offset_h: float) -> bool:
    """Whether a closing of the sorted `all_ts` (`closings`) holds a local midnight (`offset_h`: the log's
    UTC offset): the service is closed at night, and its log holds only some hours of each day."""
    start, end = closings(ref_ts, all_ts, offset_h)
    if start.size == 0:
        return False
    shift = offset_h * 3600.0
    return bool((np.floor((start + shift) / DAY_S) != np.floor((end + shift) / DAY_S)).any())


def closed_seconds(spans: tuple[np.ndarray, np.ndarray], lo: float, hi: float) -> float:
    """Seconds of [lo, hi] inside the closings."""
    start, end = spans
    if start.size == 0:
        return 0.0
    return float(np.clip(np.minimum(end, hi) - np.maximum(start, lo), 0.0, None).sum())


def open_start(spans: tuple[np.ndarray, np.ndarray], end: float, seconds: float) -> float:
    """The time before `end` from which [it, end] holds `seconds` outside the closings."""
    start_s, end_s = spans
    cursor, needed = end, seconds
    for i in np.argsort(end_s)[::-1]:  # at most `MAX_SILENCES`, latest first
        a, b = float(start_s[i]), min(float(end_s[i]), cursor)
        if b <= a or a >= cursor:
            continue
        if cursor - b >= needed:
            break
        needed -= cursor - b
        cursor = a
    return cursor - needed


def inside_closings(spans: tuple[np.ndarray, np.ndarray], starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per interval [starts[i], ends[i]] (a gap between two rows), whether it lies inside one closing
    (a second's slack on either edge). The closings are sorted and apart (`closings`), so only the
    last one begun by the interval's start can hold it: one binary search per interval."""
    spans_start, spans_end = spans
    if spans_start.size == 0:
        return np.zeros(starts.shape, dtype=bool)
    at = np.searchsorted(spans_start, starts + 1.0, side="right") - 1
    j = np.maximum(at, 0)
    inside: np.ndarray = (at >= 0) & (ends <= spans_end[j] + 1.0)
    return inside


def closed_share(spans: tuple[np.ndarray, np.ndarray], edges: np.ndarray) -> np.ndarray:
    """Per bin of `edges`, the share of it inside the closings."""
    start, end = spans
    lo, hi = edges[:-1], edges[1:]
    if start.size == 0:
        return np.zeros(lo.size)
    inside = np.clip(np.minimum(end[None, :], hi[:, None]) - np.maximum(start[None, :], lo[:, None]), 0.0, None)
    share: np.ndarray = inside.sum(axis=1) / np.maximum(hi - lo, 1e-9)
    return share
