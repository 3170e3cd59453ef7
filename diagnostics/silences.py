"""Silences the traffic around them makes improbable: an outage's mark at any traffic level.

A bar on a silence's length alone (20 times the reference's 99.9th-percentile gap) is set by the
quietest hour of the day. On a service of 3 requests a minute whose nights run at a third of
that, the 99.9th-percentile gap is 4 minutes, and a 72-minute outage at noon (some 200 requests
that never came) stayed under the 80-minute bar: "no cause found" (issue 12, the cycles checker's
outages on seeds 204, 270, 271).

A silence is weighed instead by the rows the traffic around it would have sent in it: the rate
over the hour before it began and the hour after it ended, times its length. Poisson traffic of
N rows leaves its largest such expectation near ln N (about 11 for 60,000 rows); traffic that
comes in bursts leaves more, and the log's own other silences say how much. An outage is a
silence that expected at least `MIN_EXPECTED` rows and `FACTOR` times the most any silence of the
yardstick (the reference, or the rest of the log) expected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diagnostics.closed_hours import inside_closings

WINDOW_S = 3600.0  # the traffic around a silence: an hour on either side
GAP_MIN_S = 600.0  # a silence shorter than ten minutes pages nobody
MIN_COVER_S = 600.0  # a silence at the log's very edge has no traffic around it to weigh it by
MIN_EXPECTED = 25.0  # rows a silence must have expected: exp(-25) under any Poisson rate
LONG_S = 7200.0  # (closed_hours.MIN_SILENCE_S): a silence this long is a closing or a traffic step
FACTOR = 3.0  # and this many times what the yardstick's most improbable silence expected


@dataclass(frozen=True)
class Silence:
    start: float  # the last row before it
    seconds: float
    expected: float  # rows the traffic around it would have sent in it
    yardstick: float  # the most any silence of the yardstick expected


def expected_rows(ts: np.ndarray) -> np.ndarray:
    """Per gap between consecutive rows of the sorted `ts`, the rows the hour around it would have
    sent in it (0 where less than `MIN_COVER_S` of traffic lies around it)."""
    if ts.size < 2:
        return np.zeros(0)
    start, end = ts[:-1], ts[1:]
    # each temporary written over once it is read (a million gaps: 8 MB an array), the same
    # operations in the same order as the plain expression
    lo = start - WINDOW_S
    np.maximum(lo, ts[0], out=lo)
    hi = end + WINDOW_S
    np.minimum(hi, ts[-1], out=hi)
    # rows in [lo, start] and in [end, hi]: the gap's own two edge rows included (the gap's index
    # i + 1 less the rows before lo, plus the rows up to hi less i + 1)
    around = np.searchsorted(ts, hi, side="right")
    around -= np.searchsorted(ts, lo, side="left")
    np.subtract(start, lo, out=lo)
    np.subtract(hi, end, out=hi)
    covered = np.add(lo, hi, out=lo)
    quiet = ~(covered >= MIN_COVER_S)  # (a NaN is quiet, as in `np.where(covered >= ...)`)
    rate = np.maximum(covered, 1.0, out=hi)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(around, rate, out=rate)
    del around
    rate[quiet] = 0.0
    np.subtract(end, start, out=covered)
    return np.multiply(rate, covered, out=rate)


class GapRows:
    """`expected_rows` of one log's sorted timestamps, computed on first use and kept for its diagnosis.

    The onset scan and the traffic check both weigh the log's silences (the traffic check on the
    reference's rows followed by the window's: the log's own again, unless the reference is
    another file): two binary searches of every row into a million cost ~0.07 s a time.
    """

    def __init__(self, ts: np.ndarray) -> None:
        self._ts = ts
        self._expected: np.ndarray | None = None

    def expected_rows(self, ts: np.ndarray) -> np.ndarray:
        """`expected_rows(ts)`: the kept array when `ts` are the log's timestamps (read, never written)."""
        if ts is not self._ts and not (ts.shape == self._ts.shape and np.array_equal(ts, self._ts)):
            return expected_rows(ts)
        if self._expected is None:
            self._expected = expected_rows(self._ts)
        return self._expected


def silence_step(
    ts: np.ndarray, lo_frac: float, hi_frac: float, log_rows: GapRows | None = None
) -> tuple[float, float]:
    """(strength, start) of the log's outage that ended, if it has one: the z of a Poisson silence of
    that expectation (sqrt(2 x rows expected)); 0 when none. Silences of two hours or more are
    closed hours, or a step the traffic rate's scan dates."""
    if ts.size < 2:
        return 0.0, float("nan")
    silence = improbable_silence(ts, float(ts[0]), (np.zeros(0), np.zeros(0)), GAP_MIN_S, LONG_S, log_rows)
    if silence is None:
        return 0.0, float("nan")
    share = (silence.start - ts[0]) / max(float(ts[-1] - ts[0]), 1.0)
    if not lo_frac <= share <= hi_frac:
        return 0.0, float("nan")
    return float(np.sqrt(2.0 * silence.expected)), silence.start


def improbable_silence(
    ts: np.ndarray,
    since: float,
    closed: tuple[np.ndarray, np.ndarray],
    min_seconds: float,
    max_seconds: float = np.inf,
    log_rows: GapRows | None = None,
) -> Silence | None:
    """The most improbable silence of the sorted `ts` that ends after `since`, if it is an
    outage against the silences before `since` (or, when `since` is the log's start, against the
    log's other silences). Silences inside `closed` spans (closed hours), or longer than
    `max_seconds`, weigh nothing. `log_rows` keeps the log's `expected_rows` for the diagnosis."""
    expected = expected_rows(ts) if log_rows is None else log_rows.expected_rows(ts)
    if expected.size == 0:
        return None
    gaps = np.diff(ts)
    expected = expected.copy()  # (the log's own array is kept for the diagnosis: read, never written)
    expected[gaps > max_seconds] = 0.0
    expected[inside_closings(closed, ts[:-1], ts[1:])] = 0.0
    # the silence `since` falls in counts (an alert dated inside the outage)
    first = max(int(np.searchsorted(ts[:-1], since, side="right")) - 1, 0)
    k = first + int(np.argmax(expected[first:]))
    if gaps[k] < min_seconds:
        return None
    if first > 0:
        yardstick = float(expected[:first].max())
    else:
        # the most any other silence expected (a NaN anywhere is the answer, as np.delete's max)
        parts = [part.max() for part in (expected[:k], expected[k + 1 :]) if part.size]
        yardstick = float(np.max(parts)) if parts else 0.0
    if expected[k] < max(MIN_EXPECTED, FACTOR * yardstick):
        return None
    return Silence(float(ts[k]), float(gaps[k]), float(expected[k]), yardstick)
