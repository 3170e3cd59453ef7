"""Whether a traffic step at the log's local midnight is a calendar day or an incident.

A weekend (x0.55-1 of a weekday's traffic) or a holiday (x0.6-2.5) changes the level for whole
local days, and the onset scan dates such a log's strongest step at the midnight the day began.
A real drop can begin at midnight too: a maintenance window, a nightly deploy that breaks a client.
Being at midnight is therefore no evidence by itself; a calendar day has evidence a fault lacks,
where the log holds it:

- the log has seen such a day before: the onset's local day runs at the level the same hours of
  an earlier day of its kind ran at (the same weekday a week earlier, else the days on the same
  side of the weekend: a Saturday against an earlier weekend day, a Thursday against earlier
  weekdays);
- or the level comes back at a later local midnight (a holiday ends, a weekend gives way to
  Monday): a later day in the window runs at the level an earlier day of its kind ran at.

A step at midnight on a day unlike every earlier day of its kind that does not come back by the
log's end is kept, as a step at any other minute is. A log without an earlier day of the onset
day's kind (a five-day log's first weekend, a day-long log) holds no evidence either way: the
calendar reading stands, as before (issue 12, 15b and 16b).
"""

from __future__ import annotations

import numpy as np

from diagnostics.closed_hours import closed_seconds

DAY_S = 86400.0
MIN_SPAN_S = 2 * 3600.0  # open time a day's stretch needs for its rate to say anything
MIN_ROWS = 30  # rows the earlier days' stretch needs
MAX_DAYS_BACK = 14  # two weeks: the same weekday twice
Spans = tuple[np.ndarray, np.ndarray]


MIDNIGHT_S = 900.0  # a change dated this close to a local midnight begins there


def at_local_midnight(t: float, offset_h: float, within: float = MIDNIGHT_S) -> bool:
    """Whether `t` is within `within` seconds of a local midnight at UTC offset `offset_h` (hours)."""
    local = (t + offset_h * 3600.0) % DAY_S
    return min(local, DAY_S - local) <= within


def _weekday(t: float, offset_h: float) -> int:
    return int(weekday_of(np.array([t]), offset_h)[0])


def kind_as_day_before(t: np.ndarray, offset_h: float) -> np.ndarray:
    """Whether each time's local day is of the kind (weekday or weekend) of the local day before it:
    every day but Saturday (after a Friday) and Monday (after a Sunday)."""
    weekday = weekday_of(t, offset_h)
    return np.asarray((weekday != 5) & (weekday != 0), dtype=bool)


def weekday_of(t: np.ndarray, offset_h: float) -> np.ndarray:
    """Local weekday (0 = Monday) of each time at UTC offset `offset_h`: 1970-01-01 was a Thursday."""
    return np.asarray(((t + offset_h * 3600.0) // DAY_S + 3) % 7, dtype=np.int64)


def _rate(ts: np.ndarray, lo: float, hi: float, closed: Spans) -> tuple[float, int] | None:
    """Rows a second over the open part of [lo, hi), and the rows counted; None when too little is open."""
    open_s = hi - lo - closed_seconds(closed, lo, hi)
    if open_s < MIN_SPAN_S:
        return None
    n = int(np.searchsorted(ts, hi, side="left") - np.searchsorted(ts, lo, side="left"))
    return n / open_s, n


def _kind_rates(ts: np.ndarray, lo: float, hi: float, before: float, offset_h: float, closed: Spans) -> list[float]:
    """The rates of the same hours [lo, hi) on earlier days of the day's kind, all before `before`:
    the same weekday (7 and 14 days back) when the log holds it, else the days on the same side of
    the weekend. Each is a level the log has seen; a holiday among them too (the day after a x2.5
    holiday against it and one ordinary day: their median was no level either had).
    """
    wd = _weekday(lo + 1.0, offset_h)
    same_day: list[float] = []
    same_kind: list[float] = []
    for k in range(1, MAX_DAYS_BACK + 1):
        a, b = lo - k * DAY_S, hi - k * DAY_S
        if a < float(ts[0]) or b > before:
            continue
        found = _rate(ts, a, b, closed)
        if found is None or found[1] < MIN_ROWS:
            continue
        w = _weekday(a + 1.0, offset_h)
        if w == wd:
            same_day.append(found[0])
        elif (w >= 5) == (wd >= 5):
            same_kind.append(found[0])
    # one earlier day of the same side of the weekend may be a holiday itself (a Sunday after a
    # x2.5 Saturday, seed 249): two of them, or the same weekday, say what the day's level is
    return same_day or (same_kind if len(same_kind) >= 2 else [])


def _usual(rate: float, levels: list[float], drop: float, spike: float) -> bool:
    """Whether `rate` is at one of the `levels` (within the paging ratios)."""
    return any(drop < rate / max(level, 1e-12) < spike for level in levels)


def is_calendar_day(
    ts: np.ndarray, onset: float, end: float, offset_h: float, closed: Spans, drop: float, spike: float
) -> bool:
    """Whether the step at the local midnight nearest `onset` reads as a calendar day (see the module).

    `ts`: the log's sorted timestamps; `end`: the window's last row; `drop`, `spike`: the rate
    ratios (against the earlier days of the same kind) that still count as the usual level.
    """
    local = (onset + offset_h * 3600.0) % DAY_S
    midnight = onset - local if local < DAY_S / 2 else onset + DAY_S - local
    first = _rate(ts, midnight, min(midnight + DAY_S, end), closed)
    if first is None:
        return True  # too little of the day to judge it
    levels = _kind_rates(ts, midnight, min(midnight + DAY_S, end), midnight, offset_h, closed)
    if not levels:
        return True  # no earlier day of its kind: nothing in the log says this is no such day
    if _usual(first[0], levels, drop, spike):
        return True  # the log has seen a day of its kind at this level
    # a day unlike every earlier one of its kind: a holiday comes back at a later midnight
    later = midnight + DAY_S
    while end - later >= MIN_SPAN_S:
        hi = min(later + DAY_S, end)
        now = _rate(ts, later, hi, closed)
        if now is not None and _usual(now[0], _kind_rates(ts, later, hi, midnight, offset_h, closed), drop, spike):
            return True
        later += DAY_S
    return False
