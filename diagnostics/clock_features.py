"""Inputs that follow the request's clock: an hour-of-day or a day-of-week column.

An hour-of-day input is a function of the row's own timestamp (in some time zone). Between a
morning reference and an afternoon window its distribution moves by construction — every hour
since the onset is one the reference never had — so the drift and range checks report a
"drift" that is only the clock (0.2–0.28 on healthy logs, a hair under the verdict bar). What
can break is its relation to the clock: a join in the wrong time zone, yesterday's batch, a
lag. That relation is checked instead: the offset (quarter hours, UTC−12 to UTC+14) at which
the reference's values equal the hour of their timestamps, and the share of current rows that
still match it. A column that matches no offset in the reference is an ordinary input.

A daylight-saving change is no such break: an hour column written in a local zone moves by one
hour against UTC on the zone's change date (a Sunday night in March or April, September to
November, on either hemisphere), and one offset fitted to the whole log read the week after the
change as a time-zone fault. When one offset does not hold, the real zones' rules (`zoneinfo`)
are asked which one-hour changes fall inside the log, and a column that follows the hours of
such a zone, before and after its change, is that zone's clock. A shift of another size, or at a
moment no zone changes, is still a break.

A day-of-week input (0-6 or 1-7, the week starting on any day) is the same kind of column one
level up: over a log of a few days its mean steps at every local midnight, which the onset scan
read as the strongest step of a healthy log (and a reference of Monday and Tuesday against a
Wednesday window saw it "stuck" on one value). Its relation to the timestamps is checked the
same way. One day of rows cannot tell such a column from a constant, so the fit needs two days
that each hold a tenth of the matching rows.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import numpy as np

from diagnostics.findings import Finding
from diagnostics.log import Categorical

OFFSETS_H = np.arange(-12 * 4, 14 * 4 + 1) / 4.0
SAMPLE = 4000  # rows per window; a share's standard error is under 1 point
MIN_ROWS = 200
MIN_MATCH = 0.9  # reference rows equal to the hour of their timestamp at one offset
MIN_DROP = 0.2  # share of current rows that stopped matching
# day of week = (local day number + shift) % 7 + base: Monday=0 at shift 3 (1970-01-01 was a Thursday)
DOW_SHIFT = np.repeat(np.arange(7), 2)
DOW_BASE = np.tile(np.arange(2), 7)
MIN_DAY_SHARE = 0.1  # each of two days holds this share of the matching rows


@dataclass
class ClockInput:
    unit: str  # "hour" | "weekday"
    offset_h: float
    match_reference: float
    match_current: float
    current_offset_h: float | None
    findings: list[Finding] = field(default_factory=list)


def _finite_rows(values: np.ndarray) -> np.ndarray | None:
    """Positions of the finite values; None when every value is (no list of a million positions)."""
    finite = np.isfinite(values)
    return None if bool(finite.all()) else np.flatnonzero(finite)


def _sample(values: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every k-th finite row (about `SAMPLE` of them), in time order."""
    return _sample_at(values, ts, _finite_rows(values))


def _sample_at(values: np.ndarray, ts: np.ndarray, ok: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """`_sample` with the column's `_finite_rows` known: a column asked several questions is read for
    its gaps once."""
    if ok is None:  # no gaps: the same rows as a stride
        step = max(1, values.shape[0] // SAMPLE)
        return values[::step], ts[::step]
    ok = ok[:: max(1, ok.size // SAMPLE)]
    return values[ok], ts[ok]


def _sample_joined(
    a: np.ndarray, a_ts: np.ndarray, b: np.ndarray, b_ts: np.ndarray, ok_a: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """`_sample` of `a` followed by `b` (the reference and the window), the same rows, without joining
    them; `ok_a` is `_finite_rows(a)`.

    Joining a million values and their timestamps to sample 4,000 of them cost ~3 ms an input
    (every numeric input is asked whether it is a weekday), more than the rest of its clock test.
    """
    ok_b = _finite_rows(b)
    if ok_a is None and ok_b is None:
        step = max(1, (a.shape[0] + b.shape[0]) // SAMPLE)
        first = -a.shape[0] % step  # the first row of `b` the joined stride lands on
        return np.concatenate([a[::step], b[first::step]]), np.concatenate([a_ts[::step], b_ts[first::step]])
    ok_a = np.arange(a.shape[0]) if ok_a is None else ok_a
    ok_b = np.arange(b.shape[0]) if ok_b is None else ok_b
    step = max(1, (ok_a.size + ok_b.size) // SAMPLE)
    ia, ib = ok_a[::step], ok_b[-ok_a.size % step :: step]
    return np.concatenate([a[ia], b[ib]]), np.concatenate([a_ts[ia], b_ts[ib]])


def _hours(ts: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    hours: np.ndarray = np.floor((ts[None, :] / 3600.0 + offsets[:, None]) % 24.0)
    return hours


def best_offset(values: np.ndarray, ts: np.ndarray) -> tuple[float, float] | None:
    """(offset in hours, share of rows matching) of an integer 0-23 column against its timestamps."""
    return _offset_fit(*_sample(values, ts))


def _offset_fit(v: np.ndarray, t: np.ndarray) -> tuple[float, float] | None:
    """`best_offset` on its sample of rows."""
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


DAY_S = 86400.0


@dataclass(frozen=True)
class Clock:
    """UTC offset `before` until the moment `at`, `after` from it on (one offset: equal, `at` infinite)."""

    before: float
    after: float
    at: float = float("inf")

    def hours(self, ts: np.ndarray) -> np.ndarray:
        offsets = np.where(ts < self.at, self.before, self.after)
        out: np.ndarray = np.floor((ts / 3600.0 + offsets) % 24.0)
        return out

    def words(self) -> str:
        if self.before == self.after:
            return f"UTC{self.before:+g}"
        return f"UTC{self.before:+g}, UTC{self.after:+g} after a daylight-saving change"


def _utc_offset_h(zone: ZoneInfo, t: float) -> float:
    delta = datetime.fromtimestamp(t, tz=UTC).astimezone(zone).utcoffset()
    return delta.total_seconds() / 3600.0 if delta is not None else 0.0


@functools.lru_cache(maxsize=8)
def zone_changes(day0: int, day1: int) -> tuple[Clock, ...]:
    """Every one-hour change of a real zone's UTC offset between two days (UTC day numbers).

    From the zone rules shipped with the system (or the `tzdata` package): a zone whose offset at
    the two ends differs by one hour, its moment found by bisection to the second. Distinct
    (before, after, moment) only: the European zones change together.
    """
    t0, t1 = day0 * DAY_S, (day1 + 1) * DAY_S
    out: set[Clock] = set()
    for name in available_timezones():
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            continue
        o0, o1 = _utc_offset_h(zone, t0), _utc_offset_h(zone, t1)
        if abs(abs(o1 - o0) - 1.0) > 1e-9:
            continue
        lo, hi = t0, t1
        while hi - lo > 1.0:
            mid = (lo + hi) / 2.0
            lo, hi = (mid, hi) if _utc_offset_h(zone, mid) == o0 else (lo, mid)
        out.add(Clock(o0, o1, hi))
    return tuple(sorted(out, key=lambda c: (c.at, c.before, c.after)))


def daylight_saving_clock(values: np.ndarray, ts: np.ndarray, offset: float) -> tuple[Clock, float] | None:
    """The real zone change from or to `offset` inside the rows' span whose hours the column follows
    best, with the share of rows matching; None when no zone changes there."""
    v, t = _sample(values, ts)
    if v.size < MIN_ROWS:
        return None
    lo, hi = float(t.min()), float(t.max())
    best: tuple[Clock, float] | None = None
    for clock in zone_changes(int(lo // DAY_S), int(hi // DAY_S)):
        if offset not in (clock.before, clock.after) or not lo < clock.at <= hi:
            continue
        share = float((clock.hours(t) == v).mean())
        if best is None or share > best[1]:
            best = (clock, share)
    return best


def _weekdays(ts: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """[offset, variant, row]: the row's day of week at each offset under each numbering."""
    days = np.floor((ts[None, :] / 3600.0 + offsets[:, None]) / 24.0).astype(np.int64)
    out: np.ndarray = (days[:, None, :] + DOW_SHIFT[None, :, None]) % 7 + DOW_BASE[None, :, None]
    return out


def best_weekday(values: np.ndarray, ts: np.ndarray, min_match: float = MIN_MATCH) -> tuple[float, int, float] | None:
    """(offset in hours, numbering variant, share matching) of an integer 0-7 column against its
    timestamps' day of week, or None when it does not follow them on two days or more."""
    return _weekday_fit(*_sample(values, ts), min_match)


def _weekday_fit(v: np.ndarray, t: np.ndarray, min_match: float) -> tuple[float, int, float] | None:
    """`best_weekday` on its sample of rows."""
    if v.size < MIN_ROWS or not bool(np.all((v >= 0) & (v <= 7) & (v == np.floor(v)))):
        return None
    if np.unique(v).size < 2:
        return None
    offsets = OFFSETS_H[::4]  # whole hours: only rows near midnight tell quarter hours apart
    head = (_weekdays(t[:256], offsets) == v[None, None, :256]).mean(axis=2)
    if float(head.max()) < 0.5 * min_match:
        return None
    hits = _weekdays(t, offsets) == v[None, None, :]
    match = hits.mean(axis=2)
    o, k = np.unravel_index(int(np.argmax(match)), match.shape)
    share = float(match[o, k])
    if share < min_match:
        return None
    # two days (two values) each carrying a real part of the matching rows, not one day's constant
    counts = np.bincount(v[hits[o, k]].astype(np.int64), minlength=8)
    if int((counts >= MIN_DAY_SHARE * counts.sum()).sum()) < 2:
        return None
    return float(offsets[o]), int(k), share


def weekday_match_share(values: np.ndarray, ts: np.ndarray, offset: float, variant: int) -> np.ndarray:
    """Per row 1 where the column equals its timestamp's day of week (fitted numbering), 0 where not."""
    days = np.floor((ts / 3600.0 + offset) / 24.0).astype(np.int64)
    expect = (days + DOW_SHIFT[variant]) % 7 + DOW_BASE[variant]
    out: np.ndarray = (expect == values).astype(np.float64)
    return out


def clock_match(values: np.ndarray, ts: np.ndarray, head: int) -> np.ndarray | None:
    """Per row 1 where an hour-of-day column equals its timestamp's hour (offset fitted on the first
    `head` rows), 0 where not, NaN where missing; None for a column that does not follow the clock.

    Onset detection scans this instead of the column's mean and spread: those follow the clock
    (a spread measured from the head's median grows hour by hour like a step), while the match
    share stays flat until the column's relation to the clock breaks.
    """
    fit = best_offset(values[:head], ts[:head])
    if fit is not None and fit[1] >= MIN_MATCH:
        clock = _log_clock(values, ts, fit[0])
        return np.where(np.isfinite(values), (clock.hours(ts) == values).astype(np.float64), np.nan)
    # a day-of-week column: the head is often a single day, so the numbering is fitted on the
    # whole log, where a fault in its later part (a minority of rows) cannot move the fit
    week = best_weekday(values[:head], ts[:head])
    if week is None:
        week = best_weekday(values, ts, min_match=0.6)
        # the whole log's fit must hold on the head, which no later fault touches: a 0/1 flag on a
        # two-day log, inverted since its second day, "matched" Monday=0/Tuesday=1 in 62% of the
        # rows (the fault's own rows), and was then scanned as a weekday's match, not its mean
        if week is None:
            return None
        if float(np.nanmean(weekday_match_share(values[:head], ts[:head], week[0], week[1]))) < MIN_MATCH:
            return None
    return np.where(np.isfinite(values), weekday_match_share(values, ts, week[0], week[1]), np.nan)


def _log_clock(values: np.ndarray, ts: np.ndarray, offset: float) -> Clock:
    """`offset` all along, or the zone change from or to it that the whole column follows instead."""
    fixed = Clock(offset, offset)
    v, t = _sample(values, ts)
    if v.size < MIN_ROWS:
        return fixed
    share = float((fixed.hours(t) == v).mean())
    if share >= 0.99:
        return fixed
    zone = daylight_saving_clock(values, ts, offset)
    return zone[0] if zone is not None and zone[1] >= MIN_MATCH and zone[1] > share else fixed


def clock_input(
    name: str, r: np.ndarray, r_ts: np.ndarray, c: np.ndarray, c_ts: np.ndarray, weight: float
) -> ClockInput | None:
    """The clock relation of `name` if the reference shows one; a finding when it broke since."""
    ok_r = _finite_rows(r)  # the reference's gaps, read once for every question below
    rv, rt = _sample_at(r, r_ts, ok_r)
    ref = _offset_fit(rv, rt)
    if ref is not None:
        # a daylight-saving change inside the reference, or else inside the whole log (the window)
        clock = _log_clock(r, r_ts, ref[0])
        if clock.before == clock.after:
            clock = _log_clock(np.concatenate([r, c]), np.concatenate([r_ts, c_ts]), ref[0])
        match_ref = float((clock.hours(rt) == rv).mean()) if rv.size else 0.0
        if match_ref >= MIN_MATCH:
            return _hour_input(name, clock, match_ref, c, c_ts, weight)
    week = _weekday_fit(rv, rt, MIN_MATCH)  # `best_weekday(r, r_ts)`
    if week is None:
        # a reference of one day cannot show a weekday column; reference and current together
        # can when most of their rows follow one numbering (a broken current part is a minority)
        week = _weekday_fit(*_sample_joined(r, r_ts, c, c_ts, ok_r), min_match=0.6)
        if week is None:
            return None
        week = (week[0], week[1], float(weekday_match_share(rv, rt, week[0], week[1]).mean()) if rv.size else 0.0)
        if week[2] < MIN_MATCH:
            return None
    return _weekday_input(name, week, c, c_ts, weight)


def _hour_input(
    name: str, clock: Clock, match_ref: float, c: np.ndarray, c_ts: np.ndarray, weight: float
) -> ClockInput:
    offset = clock.before
    v, t = _sample(c, c_ts)
    if v.size < MIN_ROWS:
        return ClockInput("hour", offset, match_ref, match_ref, offset)
    match_cur = float((clock.hours(t) == v).mean())
    now = best_offset(c, c_ts)
    now_offset = now[0] if now is not None and now[1] >= 0.5 else None
    out = ClockInput("hour", offset, match_ref, match_cur, now_offset)
    where = f"; most rows now match UTC{now_offset:+g}" if now_offset is not None else ""
    _break(out, name, weight, f"the hour of their timestamp at {clock.words()}", where)
    return out


def _weekday_input(
    name: str, ref: tuple[float, int, float], c: np.ndarray, c_ts: np.ndarray, weight: float
) -> ClockInput:
    offset, variant, match_ref = ref
    v, t = _sample(c, c_ts)
    if v.size < MIN_ROWS:
        return ClockInput("weekday", offset, match_ref, match_ref, offset)
    match_cur = float(weekday_match_share(v, t, offset, variant).mean())
    out = ClockInput("weekday", offset, match_ref, match_cur, None)
    first = "Monday" if DOW_SHIFT[variant] == 3 else "Sunday" if DOW_SHIFT[variant] == 4 else "another day"
    what = f"the day of week of their timestamp at UTC{offset:+g} (week from {first} = {DOW_BASE[variant]})"
    _break(out, name, weight, what, "")
    return out


def _break(out: ClockInput, name: str, weight: float, what: str, where: str) -> None:
    drop = out.match_reference - out.match_current
    if drop < MIN_DROP:
        return
    out.findings.append(
        Finding(
            "data",
            "relation_break",
            name,
            min(1.0, drop / 0.3) * weight,
            f"Feature '{name}' no longer follows the request time: {100 * out.match_reference:.0f}% of reference "
            f"rows equal {what}, {100 * out.match_current:.0f}% since the onset{where} "
            "(a time-zone, lag or join change).",
            {
                "change": "clock",
                "clock_unit": out.unit,
                "clock_offset_reference_h": out.offset_h,
                "clock_match_reference": out.match_reference,
                "clock_match_current": out.match_current,
                "clock_offset_current_h": out.current_offset_h,
            },
        )
    )


def _hour_inputs(features: dict[str, np.ndarray | Categorical], ts: np.ndarray) -> Iterator[tuple[str, float]]:
    """(name, UTC offset) of each input equal to the hour of its timestamps at one offset."""
    for name in sorted(features):
        offset = hour_offset(features[name], ts)
        if offset is not None:
            yield name, offset


def hour_offset(col: np.ndarray | Categorical, ts: np.ndarray) -> float | None:
    """The UTC offset at which an input equals the hour of its timestamps (`MIN_MATCH` of the rows), else None."""
    if isinstance(col, Categorical) or col.shape[0] != ts.shape[0]:
        return None
    found = best_offset(col, ts)
    return found[0] if found is not None and found[1] >= MIN_MATCH else None


def hour_of_day_columns(features: dict[str, np.ndarray | Categorical], ts: np.ndarray) -> list[str]:
    """The inputs equal to the hour of their timestamps at one UTC offset (`MIN_MATCH` of the rows)."""
    return [name for name, _ in _hour_inputs(features, ts)]


def log_utc_offset(features: dict[str, np.ndarray | Categorical], ts: np.ndarray) -> float | None:
    """The UTC offset of the log's own clock: that of an input equal to the hour of its timestamps.

    The service's calendar is in its log: an hour-of-day input says where its local midnight is,
    so a change that begins there (a weekend, a holiday, a day-name input turning over) can be told
    from one that begins at an arbitrary minute. None when no input follows the hour of the day.
    """
    return next((offset for _, offset in _hour_inputs(features, ts)), None)


MAX_CALENDAR_VALUES = 7  # a day name, a workday or holiday flag; a daily figure (a price) is not one
MAX_DAY_MIXED = 0.005  # rows whose value differs from the previous row's of the same local day


def follows_local_days(
    values: np.ndarray, ts: np.ndarray, offset_h: float, onset: float, k: int
) -> bool:
    """Whether a column holds one value per local day and per weekday: a function of the calendar.

    A day-name input ('Mon' ... 'Sun') or a workday flag turns over at the service's local midnight
    (`offset_h`, from `log_utc_offset`): a short log's window on another day holds a value its
    reference never saw, or is 'stuck at Sat' on a Saturday, and a flag 'repeats its values from 30
    hours earlier' across a weekend (healthy cycle logs: 6 of them). Such a column is the calendar
    moving on, like an hour-of-day input. It is one when, on a time-ordered sample, every local day
    holds a single value (of at most `MAX_CALENDAR_VALUES`, integer codes `0..k-1`, -1 missing),
    the log spans two days or more with two values or more, every weekday keeps one value, and a
    column that gave each day of the reference its own value (a day name) still does: a day name
    frozen on 'Sat' over Sunday and Monday, or a flag turned over at an arbitrary minute (inside
    a local day), is no calendar and stays with the ordinary checks.
    """
    v, t = _sample(values.astype(np.float64), ts)
    keep = v >= 0
    v, t = v[keep].astype(np.int64), t[keep]
    if v.size < MIN_ROWS or k > 4096:
        return False
    order = np.argsort(t, kind="stable")
    v, t = v[order], t[order]
    day = np.floor((t / 3600.0 + offset_h) / 24.0).astype(np.int64)
    same_day = day[1:] == day[:-1]
    if not same_day.any() or float((v[1:] != v[:-1])[same_day].mean()) > MAX_DAY_MIXED:
        return False
    values_seen = np.unique(v)
    if np.unique(day).size < 2 or values_seen.size < 2 or values_seen.size > MAX_CALENDAR_VALUES:
        return False
    weekday = day % 7
    pairs = np.unique(weekday * k + v)
    if np.unique(pairs // k).size != pairs.size:  # a weekday with two values
        return False
    # a day name: every value of the reference on one weekday only, every weekday its own value
    before = t < onset
    ref_pairs = np.unique(weekday[before] * k + v[before])
    if ref_pairs.size >= 2 and np.unique(ref_pairs % k).size == ref_pairs.size:
        return bool(np.unique(pairs % k).size == pairs.size)
    return True


WEEKDAY_NAMES = (
    ("mon", "monday"), ("tue", "tues", "tuesday"), ("wed", "wednesday"), ("thu", "thur", "thurs", "thursday"),
    ("fri", "friday"), ("sat", "saturday"), ("sun", "sunday"),
)
MIN_NAMED_AGREE = 0.995  # rows whose day name is their local weekday's, at one offset
MIDNIGHT_SLACK_H = 1.0  # a row this close to the local midnight may carry either day (a daylight-saving hour)


def weekday_of_names(cats: np.ndarray) -> np.ndarray:
    """Per category its weekday (0 = Monday) when it is a day's name ('Mon', 'monday'), else -1."""
    lookup = {name: day for day, names in enumerate(WEEKDAY_NAMES) for name in names}
    return np.array([lookup.get(str(c).strip().lower().rstrip("."), -1) for c in cats], dtype=np.int64)


def names_local_days(cats: np.ndarray, codes: np.ndarray, ts: np.ndarray, offset_h: float | None, onset: float) -> bool:
    """Whether a categorical column names the local day: each row's local weekday
    (`names_the_local_weekday`), or one value per local day of the log's own clock
    (`follows_local_days`, a short log's day name). `codes` index `cats`, -1 missing."""
    if names_the_local_weekday(cats, codes, ts, offset_h):
        return True
    return offset_h is not None and follows_local_days(codes, ts, offset_h, onset, len(cats))


def names_the_local_weekday(cats: np.ndarray, codes: np.ndarray, ts: np.ndarray, offset_h: float | None) -> bool:
    """Whether a column of day names ('Mon' ... 'Sun') names each row's own local weekday.

    The calendar says what such a column must hold: the weekday of the row's timestamp in the
    service's zone. A log without an hour-of-day input gives no zone (`log_utc_offset`), and a
    day-long log's window on the next day held a value its reference never saw ('Category mix of
    day_name shifted: JS 0.88', healthy ride logs). So the zone is searched: the quarter-hour
    offsets of UTC-12 to UTC+14 at which the rows' names are their local weekdays, a row within an
    hour of the local midnight counting with either day (a daylight-saving change moves midnight by
    an hour). A column that agrees at one offset is the calendar moving on; a day name frozen
    since the onset, shifted by a day, or mixed within a day disagrees at every offset and stays
    with the ordinary checks. A log that states its zone (`offset_h`, an hour input) is held to it:
    a name turning over at 14:00 of its own clock is another zone's calendar joined in, a fault.
    Columns holding anything but day names are not judged here.
    """
    return _named_offset(cats, codes, ts, OFFSETS_H if offset_h is None else np.array([offset_h])) is not None


def day_names_offset(cats: np.ndarray, codes: np.ndarray, ts: np.ndarray) -> float | None:
    """The UTC offset at which a column of day names names each row's local weekday; None if none.

    A log without an hour-of-day input still states its local midnight when it carries the day's
    name (`names_the_local_weekday`): where the name turns over is where the service's day does.
    """
    return _named_offset(cats, codes, ts, OFFSETS_H)


def _named_offset(cats: np.ndarray, codes: np.ndarray, ts: np.ndarray, offsets: np.ndarray) -> float | None:
    if cats.size > 2 * len(WEEKDAY_NAMES):
        return None  # more values than a week has names, even spelled two ways
    days = weekday_of_names(cats)
    if days.size == 0 or bool((days < 0).any()):
        return None
    v, t = _sample(codes.astype(np.float64), ts)
    keep = v >= 0
    named, t = days[v[keep].astype(np.int64)], t[keep]
    if named.size < MIN_ROWS or np.unique(named).size < 2:
        return None
    slack = MIDNIGHT_SLACK_H * 3600.0
    agree = np.zeros((offsets.size, named.size), dtype=bool)
    exact = np.zeros(offsets.size)
    for shift in (-slack, 0.0, slack):
        local = (t[None, :] + shift) / 3600.0 + offsets[:, None]
        # day number since 1970-01-01 (a Thursday: weekday 3)
        hit = ((np.floor(local / 24.0).astype(np.int64) + 3) % 7) == named[None, :]
        agree |= hit
        if shift == 0.0:
            exact = hit.mean(axis=1)
    # offsets an hour either side agree within the slack too: the one agreeing without it is the zone's
    # (a closed night holds no row: every offset inside it agrees alike, and its middle is as good as any)
    ok = agree.mean(axis=1) >= MIN_NAMED_AGREE
    if not bool(ok.any()):
        return None
    best = np.flatnonzero(ok & (exact >= exact[ok].max()))
    return float(offsets[best[best.size // 2]])
