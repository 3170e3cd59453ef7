"""Service checks: latency percentiles, error rate, traffic rate and gaps in the log.

Thresholds are effect sizes, not p-values: a million rows make every wobble significant,
and a diurnal traffic wave must not page anyone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from diagnostics.calendar_days import at_local_midnight, is_calendar_day, kind_as_day_before, weekday_of
from diagnostics.closed_hours import closed_seconds, closed_share, closings, inside_closings, open_start
from diagnostics.context import Context
from diagnostics.findings import Finding
from diagnostics.log import align_categorical
from diagnostics.phase import CYCLES_SPAN, RATE_BINS, WAVE_SPAN, rate_beyond_cycle, step_at_moment, without_daily_wave
from diagnostics.replay import replay_findings
from diagnostics.segment_traffic import segment_traffic_findings
from diagnostics.silences import GAP_MIN_S, improbable_silence
from diagnostics.stats import floor_quotient, two_proportion_se
from diagnostics.versions import new_version_codes

MIN_ROWS = 30
MIN_ERRORS = 10  # failed requests needed in the current window to call an error spike


def service_findings(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    out.extend(_latency(ctx))
    out.extend(_errors(ctx))
    out.extend(_traffic(ctx))
    out.extend(replay_findings(ctx))
    out.extend(segment_traffic_findings(ctx))
    return out


@dataclass(frozen=True)
class _Latency:
    """How one sample of latencies compares with another (ms; ``mag`` 0 when it does not page)."""

    mag: float
    ref_q: np.ndarray  # p50, p95, p99
    cur_q: np.ndarray
    gm_ratio: float
    tail_z: float


def _latency_shift(
    r: np.ndarray, r_ts: np.ndarray, c: np.ndarray, c_ts: np.ndarray, extra_var: float = 0.0
) -> _Latency:
    """Typical latency (geometric mean) and tail (p95) of ``c`` against ``r``.

    The geometric mean is stable enough to see a 10% slowdown on a few hundred rows; p95 catches a
    slow tail that leaves the typical request alone. The tail must also be certain: the share of
    requests beyond the reference's p95 is compared with a standard error clustered by time bins,
    because slow requests come in bursts (a GC pause, a batch job, a noisy neighbour for a few
    minutes) and a p95 over a window holding one burst more than usual is not a regression.
    ``extra_var``: variance the log-mean difference carries beyond the two samples' own (a slope
    the samples were levelled by, `_no_step_across_silence`).
    """
    q = [50.0, 95.0, 99.0]
    rq = np.percentile(r, q)
    cq = np.percentile(c, q)
    lr, lc = np.log(r), np.log(c)
    diff = float(lc.mean() - lr.mean())
    se = math.sqrt(lr.var() / lr.size + lc.var() / lc.size + extra_var)
    gm_ratio = math.exp(diff)
    p95_ratio = float(cq[1] / max(rq[1], 1e-9))
    mag_typical = float(np.clip((gm_ratio - 1.08) / 0.25, 0.0, 1.0)) if diff / max(se, 1e-12) >= 5.0 else 0.0
    tail_z = _exceedance_z(r > rq[1], r_ts, c > rq[1], c_ts)
    mag_tail = float(np.clip((p95_ratio - 1.2) / 0.5, 0.0, 1.0)) if tail_z >= TAIL_Z else 0.0
    mag = max(mag_typical, mag_tail)
    if cq[1] - rq[1] < 5.0:  # a few milliseconds never page anyone
        mag = 0.0
    return _Latency(mag, rq, cq, gm_ratio, tail_z)


def _latency_is_the_wave(ctx: Context, r: np.ndarray, r_ts: np.ndarray, c: np.ndarray, c_ts: np.ndarray) -> bool:
    """Whether a latency rise is the log's own daily wave: gone once the wave is taken out.

    Latency follows load, and load follows the clock: a window at the evening peak of a 20-hour
    log is 20-50% slower than the morning before it (healthy logs read as 'latency rose, typical
    request x1.47'). As for traffic (`_beyond_wave`), the wave cannot make an edge: the log's
    line and daily wave are fitted on log latency jointly with a step at the onset, and a rise
    that does not page once each row loses the wave at its own time is no regression. Only on
    the log's own rows (a reference file from another period has no wave to share) and for logs
    of half a day or more (`phase.without_daily_wave`; its line and bend for shorter logs took a
    mild slowdown of x1.25 on a 6-hour log for the afternoon's rise); a slowdown since the onset
    is the step, and stays.
    """
    if r_ts.size == 0 or float(r_ts[-1]) > ctx.onset or float(r_ts[0]) < float(ctx.log.timestamp[0]):
        return False
    if float(c_ts[-1]) - float(r_ts[0]) < WAVE_SPAN:
        return _no_step_at_onset(r, r_ts, c, c_ts, ctx.onset)
    flat = without_daily_wave(np.log(r), r_ts, np.log(c), c_ts, ctx.onset, log_scale=False, min_span=WAVE_SPAN)
    if flat is None:
        return False
    return _latency_shift(np.exp(flat[0]), r_ts, np.exp(flat[1]), c_ts).mag <= 0


def _no_step_at_onset(r: np.ndarray, r_ts: np.ndarray, c: np.ndarray, c_ts: np.ndarray, onset: float) -> bool:
    """Whether a short log's latency rise is its load wave: no step between the rows either side of the onset.

    Below half a day the wave is a rise or a fall over the log's hours (a 6-10-hour log whose
    window holds the evening peak read 'latency rose, typical request x1.2-1.5' on healthy logs),
    and a line and a bend fitted with a step took a mild x1.25 slowdown for the afternoon's rise.
    A slowdown starts at the onset: the requests just before it against those just after (the
    last and first `ADJACENT_S` of the log, `ADJACENT_ROWS` at least on each side) show it whole,
    while the load's wave moves latency by a few percent over so short a time. The rise is the
    wave when those adjacent requests' latency does not page (`_latency_shift`).
    """
    m_r = max(ADJACENT_ROWS, r_ts.shape[0] - int(np.searchsorted(r_ts, onset - ADJACENT_S)))
    m_c = max(ADJACENT_ROWS, int(np.searchsorted(c_ts, onset + ADJACENT_S)))
    if r.shape[0] == 0 or c.shape[0] == 0:
        return False
    # a silence between the two samples sets them apart by its length: the wave moved on meanwhile
    # (read however few requests followed it: a window an outage opened may hold only its tail)
    gaps = np.diff(np.concatenate((r_ts[-1:], c_ts[:m_c])))
    k = int(np.argmax(gaps))
    if gaps[k] >= GAP_MIN_S:
        return _no_step_across_silence(np.concatenate((r, c)), np.concatenate((r_ts, c_ts)), r.shape[0] - 1 + k)
    if r.shape[0] < m_r or c.shape[0] < m_c:
        return False
    return _latency_shift(r[-m_r:], r_ts[-m_r:], c[:m_c], c_ts[:m_c]).mag <= 0


ADJACENT_S = 1800.0  # half an hour either side of the onset: the load's wave moves latency ~5% at most
ADJACENT_ROWS = 200


def _no_step_across_silence(v: np.ndarray, ts: np.ndarray, k: int) -> bool:
    """Whether latency after a silence (between rows ``k`` and ``k + 1`` of the sorted ``ts``) goes on
    along the path it followed before it: no step once the log's own slope is taken out.

    An outage that opens the window leaves no requests for its length: the first requests after it
    are 20-90 minutes away from the last before it, and the load's wave moves latency on meanwhile
    (a 90-minute outage at a Tokyo noon read 'latency rose since the onset: p50 30 -> 41 ms', x1.16
    between the adjacent samples, beside the outage itself at the same full score, and won the
    tie). The rows within `SILENCE_SIDE_S` either side are levelled by one slope of log latency in
    time, read within each side (both arcs of the wave, so a bend between them is averaged rather
    than extrapolated), and compared as the adjacent requests are (`_latency_shift`), the slope's
    own uncertainty carried into the typical request's z: a step as large as a 25% slowdown stands
    several standard errors out; the wave's slope over two hours of rows does not. The slope is
    read where the rows are: an outage near a short log's end leaves a few dozen requests after it
    (a 60-minute outage from 12:48 of a 6-hour Chicago log, 65 requests, read 'latency rose since
    the onset: p50 29 -> 42 ms' at the outage's score and won the tie), and those are compared as
    they are, the slope's uncertainty over the silence carried: the typical request needs a larger
    step there, while a slow tail still shows on a few dozen requests (x1.3 after the silence stays
    latency). Fewer than `ADJACENT_ROWS` before it or `MIN_ROWS` after it: no claim (the rise stays).
    """
    before = slice(int(np.searchsorted(ts, ts[k] - SILENCE_SIDE_S)), k + 1)
    after = slice(k + 1, int(np.searchsorted(ts, ts[k + 1] + SILENCE_SIDE_S, side="right")))
    if before.stop - before.start < ADJACENT_ROWS or after.stop - after.start < MIN_ROWS:
        return False
    hours = (ts - ts[k]) / 3600.0
    sides = [(hours[s] - hours[s].mean(), np.log(v[s])) for s in (before, after)]
    sxx = sum(float(t @ t) for t, _ in sides)
    if sxx <= 0.0:
        return False
    slope = sum(float(t @ (y - y.mean())) for t, y in sides) / sxx
    resid = np.concatenate([y - y.mean() - slope * t for t, y in sides])
    noise = float(resid @ resid) / max(resid.size - 3, 1)
    apart = float(hours[after].mean() - hours[before].mean())
    flat = v * np.exp(-slope * hours)
    shift = _latency_shift(flat[before], ts[before], flat[after], ts[after], extra_var=apart**2 * noise / sxx)
    return shift.mag <= 0


SILENCE_SIDE_S = 2 * 3600.0  # rows either side of a silence the latency's path is read on

TAIL_Z = 4.0
CLUSTER_S = 300.0  # slow requests cluster within minutes: five-minute bins


def _exceedance_z(r_hit: np.ndarray, r_ts: np.ndarray, c_hit: np.ndarray, c_ts: np.ndarray) -> float:
    """z of the rise in a share of requests, each window's standard error clustered by time bins."""

    def share_var(hit: np.ndarray, ts: np.ndarray) -> tuple[float, float]:
        n = hit.shape[0]
        share = float(hit.mean())
        span = float(ts[-1] - ts[0]) if n else 0.0
        width = min(CLUSTER_S, max(span / 10.0, 1e-9))
        b = floor_quotient(ts - ts[0], width).astype(np.int64)
        rows = np.bincount(b).astype(np.float64)
        hits = np.bincount(b, weights=hit.astype(np.float64))
        used = rows > 0
        k = int(used.sum())
        resid = hits[used] - share * rows[used]
        var = float((resid**2).sum()) / (n * n) * (k / (k - 1)) if k > 1 else share * (1 - share) / max(n, 1)
        # never below the variance of independent requests
        return share, max(var, share * (1.0 - share) / max(n, 1))

    sr, vr = share_var(r_hit, r_ts)
    sc, vc = share_var(c_hit, c_ts)
    return (sc - sr) / math.sqrt(max(vr + vc, 1e-18))


def _latency(ctx: Context) -> list[Finding]:
    r, c = ctx.reference.latency_ms, ctx.current.latency_ms
    if r is None or c is None:
        return []
    r_ok = np.isfinite(r) & (r > 0)
    c_ok = np.isfinite(c) & (c > 0)
    if r_ok.sum() < MIN_ROWS or c_ok.sum() < MIN_ROWS:
        return []
    r_ts, c_ts = ctx.reference.timestamp[r_ok], ctx.current.timestamp[c_ok]
    shift = _latency_shift(r[r_ok], r_ts, c[c_ok], c_ts)
    if shift.mag <= 0 or _latency_is_the_wave(ctx, r[r_ok], r_ts, c[c_ok], c_ts):
        return []
    rq, cq = shift.ref_q, shift.cur_q
    details: dict[str, object] = {
        "reference": dict(zip(("p50", "p95", "p99"), rq.tolist(), strict=True)),
        "current": dict(zip(("p50", "p95", "p99"), cq.tolist(), strict=True)),
        "geometric_mean_ratio": shift.gm_ratio,
        "tail_z": shift.tail_z,
    }
    evidence = (
        f"Latency rose since the onset: p50 {rq[0]:.0f} -> {cq[0]:.0f} ms, p95 {rq[1]:.0f} -> {cq[1]:.0f} ms, "
        f"p99 {rq[2]:.0f} -> {cq[2]:.0f} ms (typical request x{shift.gm_ratio:.2f})."
    )
    mag = shift.mag
    carrier = _carried_by_version(
        ctx,
        c_ok,
        lambda keep: _latency_shift(r[r_ok], r_ts, c[c_ok][keep], c_ts[keep]).mag,
        lambda v, o: _latency_shift(c[c_ok][o], c_ts[o], c[c_ok][v], c_ts[v]).mag,
    )
    served = c[c_ok]
    mag, evidence = _credit_version(
        carrier,
        mag,
        evidence,
        details,
        lambda v: f"p95 {np.percentile(served[v], 95):.0f} ms against {np.percentile(served[~v], 95):.0f} ms",
        "latency",
    )
    return [Finding("service", "latency", "latency_ms", mag, evidence, details)]


def _credit_version(
    carrier: tuple[str, np.ndarray, float] | None,
    mag: float,
    evidence: str,
    details: dict[str, object],
    compare: Callable[[np.ndarray], str],
    symptom: str,
) -> tuple[float, str]:
    """A symptom carried by a new version (`_carried_by_version`) names it, takes the magnitude on
    its own rows, and says how its rows compare with the other versions' (`compare`, given the mask
    of its rows)."""
    if carrier is None:
        return mag, evidence
    name, v_rows, own_mag = carrier
    details["carried_by_version"] = name
    return max(mag, own_mag), evidence + (
        f" Carried by version {name}'s rows ({int(v_rows.sum())} since the onset: {compare(v_rows)} on the other "
        f"versions' rows in the same window); without them {symptom} is at its usual level."
    )


def _carried_by_version(
    ctx: Context,
    kept: np.ndarray,
    magnitude_without: Callable[[np.ndarray], float],
    magnitude_against_others: Callable[[np.ndarray, np.ndarray], float],
) -> tuple[str, np.ndarray, float] | None:
    """A version new since the onset whose rows carry a service symptom: without its rows the
    window is at its usual level, and its rows are worse than the other versions' rows in the same
    window (same hours, same traffic). Then rolling it back is the mitigation, as for a deploy that
    started a service's trouble. ``kept``: the current rows the symptom is measured on; the
    callables take masks over those rows and give the symptom's magnitude (0: it does not page).
    Returned with the version: the magnitude on its own rows, since a canary's trouble is as large
    as it is there, not diluted by the other versions' rows."""
    rv, cv, names = align_categorical(ctx.reference.model_version, ctx.current.model_version)  # type: ignore[arg-type]
    cv = cv[kept]
    for v in new_version_codes(rv, cv, len(names)):
        mine = cv == v
        if mine.sum() < MIN_ROWS or (~mine).sum() < MIN_ROWS:
            continue
        if magnitude_without(~mine) > 0:
            continue
        own = magnitude_against_others(mine, ~mine)
        if own > 0:
            return str(names[v]), mine, own
    return None


def _errors(ctx: Context) -> list[Finding]:
    r, c = ctx.reference.error, ctx.current.error
    if r is None or c is None:
        return []
    r_ok, c_ok = np.isfinite(r), np.isfinite(c)
    r, c = r[r_ok], c[c_ok]
    if r.size < MIN_ROWS or c.size < MIN_ROWS:
        return []
    er, ec = float(r.mean()), float(c.mean())
    mag = _error_magnitude(r, c)
    details: dict[str, object] = {"reference": er, "current": ec}
    evidence = f"Error rate rose from {100 * er:.2f}% to {100 * ec:.2f}% of requests since the onset."
    since = ctx.current.timestamp[c_ok] - ctx.onset

    def burst_finding() -> Finding | None:
        burst = _error_burst(r, c, since)
        if burst is None or burst[0] <= mag:
            return None
        b_mag, hours, eb = burst
        details.update(burst_hours=hours, burst=eb)
        return Finding("service", "error_rate", "error", b_mag,
                       f"Error rate rose from {100 * er:.2f}% to {100 * eb:.2f}% of requests in the first "
                       f"{hours:g} hour(s) after the onset ({100 * ec:.2f}% over the whole window since: "
                       "the failures stopped).", details)

    if mag <= 0:
        found = burst_finding()
        return [found] if found is not None else []
    carrier = _carried_by_version(
        ctx, c_ok, lambda keep: _error_magnitude(r, c[keep]), lambda v, o: _error_magnitude(c[o], c[v])
    )
    if carrier is None and mag < 1.0:
        # an hour of failures over a day's window just clears the bar of a rise (1.1% against
        # 0.26%, magnitude 0.28): its first hours say more, as they do for one under the bar
        found = burst_finding()
        if found is not None:
            return [found]
    mag, evidence = _credit_version(
        carrier,
        mag,
        evidence,
        details,
        lambda v: f"{100 * float(c[v].mean()):.2f}% failed against {100 * float(c[~v].mean()):.2f}%",
        "the error rate",
    )
    return [Finding("service", "error_rate", "error", mag, evidence, details)]


BURST_HOURS = (1.0, 2.0, 4.0)  # windows from the onset in which a burst that ended is looked for


def _error_burst(r: np.ndarray, c: np.ndarray, since_onset: np.ndarray) -> tuple[float, float, float] | None:
    """(magnitude, hours, error share) of failures confined to the first hours after the onset.

    An upstream outage that ended an hour after the alert leaves a day-long window since the
    onset at 1% failed requests against 0.3% (35% for that hour): under the bar of a rise, and
    no finding at all. The windows from the onset are judged by the same bar (a handful of
    failures stays noise; three windows, no scan over the log).
    """
    for hours in BURST_HOURS:
        keep = since_onset < hours * 3600.0
        if keep.all():
            return None
        if int(keep.sum()) < MIN_ROWS:
            continue
        mag = _error_magnitude(r, c[keep])
        if mag > 0 and _error_magnitude(r, c[keep & ~_worst_slots(c, since_onset, keep)], min_errors=0) > 0:
            return mag, hours, float(c[keep].mean())
    return None


BLIP_SECONDS = 300.0


def _worst_slots(c: np.ndarray, since_onset: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Rows of the two five-minute slots with the most failures among `keep`.

    A burst must outlast a blip: a dependency failing 8% of calls for two minutes and recovering
    on its own (healthy noise in any busy service) put 12 failures in the first hour after a
    healthy log's onset, 1.3% against 0.34%, and read as the incident's errors. Without its worst
    ten minutes (two slots: a blip may straddle a slot's edge) an outage that lasted stays over
    the bar, judged without the handful-of-failures floor the whole window already met; a blip
    does not.
    """
    slot = (np.maximum(since_onset, 0.0) // BLIP_SECONDS).astype(np.int64)
    fails = np.bincount(slot[keep], weights=c[keep].astype(float))
    worst = np.argsort(fails)[-2:]
    return keep & np.isin(slot, worst)


def _error_magnitude(r: np.ndarray, c: np.ndarray, min_errors: int = MIN_ERRORS) -> float:
    """Magnitude of a rise of the error share from ``r`` to ``c``; 0 unless it pages: large,
    certain, and more than a handful (`min_errors`) of failures."""
    er, ec = float(r.mean()), float(c.mean())
    se = two_proportion_se(er, r.size, ec, c.size)
    delta = ec - er
    # a handful of failures in a short window is noise, whatever the z score says
    if delta < 0.008 or delta / se < 3.5 or float(c.sum()) < min_errors:
        return 0.0
    return float(np.clip((delta - 0.003) / 0.02, 0.0, 1.0))


Spans = tuple[np.ndarray, np.ndarray]
NO_CLOSINGS: Spans = (np.empty(0), np.empty(0))


def _rate(ts: np.ndarray, start: float, end: float, sample_fraction: float = 1.0, closed: Spans = NO_CLOSINGS) -> float:
    """Rows a minute over the open part of [start, end] (closed hours: `closed_hours`)."""
    span = max(end - start - closed_seconds(closed, start, end), 1.0)
    return float(ts.shape[0] / span * 60.0 / sample_fraction)


SEASONS = {"day_before": 86400.0, "week_before": 7 * 86400.0}


def _seasonal_rates(
    ref_ts: np.ndarray, start: float, end: float, sample_fraction: float, closed: Spans = NO_CLOSINGS
) -> dict[str, float]:
    """Rates over the same hours one day and one week before the current window.

    Only where the log covers that whole earlier window (it starts before it, and the window
    ends before the onset), so a six-hour log has none and keeps the adjacent comparison alone.
    """
    out: dict[str, float] = {}
    if ref_ts.size == 0:
        return out

    def rate(period: float) -> float | None:
        lo, hi = start - period, end - period
        if lo < float(ref_ts[0]) or hi > start:
            return None
        n = int(np.searchsorted(ref_ts, hi, side="right") - np.searchsorted(ref_ts, lo, side="left"))
        if n < MIN_ROWS:
            return None
        return n / max(hi - lo - closed_seconds(closed, lo, hi), 1.0) * 60.0 / sample_fraction

    for key, period in SEASONS.items():
        found = rate(period)
        if found is not None:
            out[key] = found
    # the typical earlier day: a holiday's surge the day before (or a week before) is no level to
    # fall from. The same hours of every earlier whole day the log holds, their lower median (of
    # two days the lower): a drop must hold against it too. A real drop holds against every
    # ordinary day; a weekend among six earlier days is no median
    days = [r for k in range(1, MAX_EARLIER_DAYS + 1) if (r := rate(k * DAY_S)) is not None]
    if len(days) >= 2:
        out["typical_day"] = float(np.sort(days)[(len(days) - 1) // 2])
    return out


MAX_EARLIER_DAYS = 13
DAY_S = 86400.0


def _adjacent_as_a_day_earlier(
    ref_ts: np.ndarray, lo: float, onset: float, cur_ts: np.ndarray, end: float, fractions: tuple[float, float],
    offset: float | None,
) -> float | None:
    """The adjacent ratio (the window against the hours just before it) divided by the same ratio
    of the same two stretches a day earlier, both on days of one kind (a difference of differences).

    The hours just before a window are other hours of the day: a window from a Sunday's morning
    compared with the night before it reads the morning's rise (x0.8 where half the requests were
    lost: the same hours a day earlier and the log's own wave read x0.45). A day earlier the same
    two stretches show how far the wave alone moves the rate between them; what is left is the
    window's own change. Only where the log names its zone (weekdays are local) and only over
    the hours whose local day is of the kind of the day before it (a Saturday against a Friday,
    a Monday against a Sunday would carry the weekend into the ratio); a window longer than a
    day has no earlier copy of itself before the onset, and is judged as before. None where
    either stretch keeps less than `KIND_MATCHED_S` or `MIN_ROWS` rows a day earlier.
    """
    if offset is None or end - DAY_S > onset:
        return None
    lo = max(lo, float(ref_ts[0]) + DAY_S)
    counts = []
    for a, b, ts, frac in ((lo, onset, ref_ts, fractions[0]), (onset, end, cur_ts, fractions[1])):
        grid = np.arange(a, b, 60.0)
        if grid.size == 0 or float(kind_as_day_before(grid, offset).mean()) * (b - a) < KIND_MATCHED_S:
            return None
        now = ts[(ts >= a) & (ts < b)]
        before = ref_ts[(ref_ts >= a - DAY_S) & (ref_ts < b - DAY_S)]
        n_now = int(kind_as_day_before(now, offset).sum())
        n_before = int(kind_as_day_before(before + DAY_S, offset).sum())
        if n_before < MIN_ROWS:
            return None
        counts.append((n_now / frac) / (n_before / fractions[0]))
    return counts[1] / max(counts[0], 1e-9)


KIND_MATCHED_S = 2 * 3600.0  # hours of each stretch a day earlier the correction needs


def _seasonal_words(seasonal: dict[str, float], cur_rate: float) -> str:
    words = {"day_before": "a day earlier", "week_before": "a week earlier", "typical_day": "on a typical earlier day"}
    parts = [
        f"{cur_rate / max(rate, 1e-9):.0%} of the same hours {words[k]} ({rate:.1f})" for k, rate in seasonal.items()
    ]
    return f"; {', '.join(parts)}" if parts else ""


def _beyond_wave(
    ctx: Context, closed: Spans = NO_CLOSINGS, offset: float | None = None
) -> tuple[float | None, float | None]:
    """The current window's rate as a share of what the log's trend and daily cycle predict for it,
    and its last day's (None for a window within one day).

    A window of several days holds a holiday (x0.6, x2.5 for one local day): with Monday a
    holiday, a week's window from a Friday's evening read 'traffic dropped to 69%; 55% of what the
    log's own daily cycle predicts' while Tuesday to Thursday ran at their usual level. A drop
    lasts: it must hold on the window's last day too (`rate_beyond_cycle`'s `last_day`), as it
    must hold against every other baseline.
    """
    ref_ts, cur_ts = ctx.reference.timestamp, ctx.current.timestamp
    t0, t1 = float(ref_ts[0]), float(cur_ts[-1])
    rows = ref_ts.shape[0] + cur_ts.shape[0]
    n_bins = int(min(RATE_BINS, rows // 20))
    if n_bins < 24 or t1 <= t0:
        return None, None
    edges = np.linspace(t0, t1, n_bins + 1)
    counts = np.histogram(ref_ts, edges)[0] / ctx.reference.sample_fraction
    counts = counts + np.histogram(cur_ts, edges)[0] / ctx.current.sample_fraction
    # bins mostly inside closed hours say nothing of the rate (a first weekend is no drop)
    keep, apart = closed_share(closed, edges) < 0.5, _kinds_unseen(edges, ctx.onset, offset)
    return (rate_beyond_cycle(counts, edges, ctx.onset, keep=keep, apart=apart),
            rate_beyond_cycle(counts, edges, ctx.onset, keep=keep, apart=apart, last_day=True, offset_h=offset))


def _kinds_unseen(edges: np.ndarray, onset: float, offset: float | None) -> np.ndarray | None:
    """Bins after the onset on a kind of day (weekday, weekend; at the log's own zone) no bin before it held.

    A weekend runs at x0.55-1 of a weekday the whole day, and a log of weekdays has no earlier weekend
    to say so: from a Friday's evening to Monday's afternoon the step at a Saturday's night read
    'traffic dropped to 64%; 48% of what the log's own daily cycle predicts' while Monday ran at
    Friday's level. The step is read on the window's days of the kinds the log held before the
    onset; the others take a level of their own. Without the zone there are no local days.
    """
    if offset is None:
        return None
    centres = (edges[:-1] + edges[1:]) / 2.0
    weekend = weekday_of(centres, offset) >= 5
    before = centres < onset
    width = float(edges[1] - edges[0])
    # (a kind held for a few hours of a night before the onset is no level of its own)
    held = [k for k in (False, True) if float((before & (weekend == k)).sum()) * width >= KIND_HELD_S]
    return np.asarray(~before & ~np.isin(weekend, held), dtype=bool)


KIND_HELD_S = DAY_S / 4  # hours of a kind of day before the onset that show its level beside the wave


def _adjacent_words(details: dict[str, float]) -> str:
    found = details.get("ratio_adjacent_as_a_day_earlier")
    if found is None:
        return ""
    return f"; {found:.0%} against the hours just before it, as those hours compared a day earlier"


def _wave_words(beyond: float | None, last_day: float | None = None) -> str:
    if beyond is None:
        return ""
    day = f" ({last_day:.0%} on the window's last day)" if last_day is not None else ""
    return f"; {beyond:.0%} of what the log's own daily cycle predicts for these hours{day}"


DROP_RATIO = 0.78  # a diurnal wave moves the rate by at most ~15% between neighbouring hours
SPIKE_RATIO = 2.0
CALENDAR_DROP = 0.3  # a weekend or a holiday moves a day's traffic by x0.3-x3 ...
CALENDAR_SPIKE = 3.0  # ... from within minutes of a local midnight (`calendar_days.MIDNIGHT_S`)


def _calendar_turnover(ctx: Context, offset: float | None, closed: Spans) -> bool:
    """Whether the onset is a local midnight of the log's own clock that begins a calendar day.

    A weekend (x0.55-1 of a weekday's traffic) or a holiday (x0.6-2.5) changes the level for whole
    local days: on a log shorter than a week no earlier Saturday says what a Saturday's rate is, and
    the onset scan dates the strongest step of such a log at the midnight the weekend began (a
    5-day log's first weekend read "traffic dropped to 68% of normal"). Only a change of a
    calendar's size (`CALENDAR_DROP`, `CALENDAR_SPIKE`) dated within `calendar_days.MIDNIGHT_S` of midnight is
    let go. Midnight is read from the log: an input equal to the hour of the day of its timestamps
    at one UTC offset (`clock_features.log_utc_offset`: `offset`) names the service's zone. A log without one
    has no local midnight to go by, and keeps every step. A maintenance window or a nightly deploy
    starts at midnight too: where the log holds earlier days of the onset day's kind, the day must
    run at their level or the level come back at a later midnight (`calendar_days.is_calendar_day`).
    """
    if offset is None:
        return False
    if not at_local_midnight(ctx.onset, offset):
        return False
    ts = ctx.log.timestamp
    end = float(ctx.current.timestamp[-1])
    return is_calendar_day(ts, ctx.onset, end, offset, closed, DROP_RATIO, SPIKE_RATIO)


def _drop_without_moment(ctx: Context, claimed: float, closed: Spans) -> bool:
    """Whether a drop read on a log that has not seen each hour of the day twice shows no moment.

    On such a log what 'the log's own daily cycle predicts' for the window's hours is an
    extrapolation of a line and a bend (or two daily harmonics) fitted mostly on the window
    itself: on healthy logs of 8-20 hours it reads from x0.47 to x2.3 (1st-99th percentile, tuning
    specs at onsets across the log), and a window on a steep wave's descent reads x0.63 of it
    while the hours just before it read x0.33. Lost requests are lost from one minute to the
    next: the rate an hour either side of the onset, beside its own slope (`phase.step_at_moment`),
    steps to about the drop's size. A claimed drop whose moment shows no drop (a step of
    `DROP_RATIO` or more) and a step `MOMENT_Z` standard errors above the claimed ratio is the
    wave's descent. An alert fires after the drop began, and a scan dates it within minutes: the
    moment is looked for from `MOMENT_LAGS` before the onset to 10 minutes after it, and every
    readable one must show no drop. No claim where the one at the onset cannot be read (less than
    half an hour of log a side, closed hours) or where the reference and the window are sampled
    differently (the step would read the sampling).
    """
    ts = ctx.log.timestamp
    if ts.size == 0 or float(ts[-1] - ts[0]) >= MOMENT_MAX_SPAN:
        return False
    if ctx.reference.sample_fraction != ctx.current.sample_fraction:
        return False

    def keep(edges: np.ndarray) -> np.ndarray:
        return np.asarray(closed_share(closed, edges) < 0.5, dtype=bool)

    steps = [step_at_moment(ts, ctx.onset - lag, MOMENT_HALF_S, keep) for lag in MOMENT_LAGS]
    if steps[MOMENT_LAGS.index(0.0)] is None:
        return False
    bar, floor = math.log(DROP_RATIO), math.log(max(claimed, 1e-9))
    return all(s >= bar and s - MOMENT_Z * se > floor for s, se in (x for x in steps if x is not None))


MOMENT_MAX_SPAN = CYCLES_SPAN  # longer logs have seen each hour twice: the wave's prediction is observed
MOMENT_HALF_S = 3600.0  # the rate an hour either side of the moment: a wave's slope is a line there
MOMENT_LAGS = (-600.0, 0.0, 600.0, 1200.0, 1800.0)  # seconds before the onset a drop's moment may lie
MOMENT_Z = 2.0  # standard errors the step at the moment must stand above the claimed drop


def _traffic(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    cur_ts = ctx.current.timestamp
    ref_ts = ctx.reference.timestamp
    if cur_ts.size == 0 or ref_ts.size < MIN_ROWS:
        return out
    cur_start, cur_end = ctx.onset, float(cur_ts[-1])
    cur_span = max(cur_end - cur_start, 60.0)
    same_log = ctx.reference.timestamp.size and ref_ts[-1] <= ctx.onset
    # a service closed at night (or on weekends): silences at the hours the reference's began and ended
    offset = ctx.log_utc_offset()
    closed = closings(ref_ts, np.concatenate((ref_ts, cur_ts)), offset) if same_log else NO_CLOSINGS
    if same_log:
        # the recent part of the reference: as long as the current window, at least an hour; when
        # less than an hour of it is open (a window from Monday's opening after a closed weekend),
        # as long in open time, looking back past the closing
        look = max(cur_span, 3600.0)
        lo = max(float(ref_ts[0]), ctx.onset - look)
        if look - closed_seconds(closed, lo, ctx.onset) < 3600.0:
            lo = max(float(ref_ts[0]), open_start(closed, ctx.onset, look))
        recent = ref_ts[np.searchsorted(ref_ts, lo) :]
        ref_rate = _rate(recent, lo, ctx.onset, ctx.reference.sample_fraction, closed)
        gaps_ref = np.diff(ref_ts)
        typical_gap = float(np.percentile(gaps_ref, 99.9)) if gaps_ref.size else 0.0
    else:
        ref_rate = _rate(ref_ts, float(ref_ts[0]), float(ref_ts[-1]), ctx.reference.sample_fraction)
        typical_gap = 0.0
    cur_rate = _rate(cur_ts, cur_start, cur_end, ctx.current.sample_fraction, closed)
    ratio = cur_rate / max(ref_rate, 1e-9)
    details: dict[str, float] = {"rows_per_minute_reference": ref_rate, "rows_per_minute_current": cur_rate,
                                 "ratio": ratio}
    seasonal = _seasonal_rates(ref_ts, cur_start, cur_end, ctx.reference.sample_fraction, closed) if same_log else {}
    for key, rate in seasonal.items():
        details[f"rows_per_minute_{key}"] = rate
    # the hours just before the window are other hours of the day: where the log holds both
    # stretches a day earlier (on days of one kind), the adjacent ratio is read beyond that day's own
    adjacent = ratio
    if same_log:
        as_before = _adjacent_as_a_day_earlier(ref_ts, lo, ctx.onset, cur_ts, cur_end,
                                               (ctx.reference.sample_fraction, ctx.current.sample_fraction), offset)
        if as_before is not None:
            details["ratio_adjacent_as_a_day_earlier"] = adjacent = as_before
    # a weekend or a night is not an outage: the drop (spike) must hold against the same hours
    # a day and a week earlier too, wherever the log reaches back that far
    ratios = [adjacent] + [cur_rate / max(rate, 1e-9) for rate in seasonal.values()]
    # and against the log's own daily wave: a window of a few hours at the evening's fall is no outage
    beyond, last_day = _beyond_wave(ctx, closed, offset) if same_log else (None, None)
    # the baselines a drop must hold against. Over days a drop is read on the window's last day
    # alone: a holiday is one local day at a level of its own, and the whole window's one step
    # beside a line over the whole log carries it either way (a x2.5 holiday in the window read
    # 39% of the requests kept as 72% of the cycle, a x0.6 one the day before the onset 57% kept
    # as 72%: no page either time). A spike keeps both readings.
    held = list(ratios)
    if beyond is not None:
        details["ratio_beyond_daily_cycle"] = beyond
        ratios.append(beyond)
        if last_day is None:
            held.append(beyond)
    if last_day is not None:
        details["ratio_beyond_daily_cycle_last_day"] = last_day
        ratios.append(last_day)
        held.append(last_day)
    drop_ratio, spike_ratio = max(held), min(ratios)
    if same_log and drop_ratio <= DROP_RATIO and _drop_without_moment(ctx, drop_ratio, closed):
        drop_ratio = 1.0  # the wave's descent through the window: no moment where the rate fell
    pages = drop_ratio <= DROP_RATIO or spike_ratio >= SPIKE_RATIO
    calendar_size = drop_ratio >= CALENDAR_DROP and spike_ratio <= CALENDAR_SPIKE
    if pages and calendar_size and _calendar_turnover(ctx, offset, closed):
        drop_ratio, spike_ratio = 1.0, 1.0  # a weekend or a holiday begins: the calendar, not an incident
    # gaps: the longest silence since the onset
    edges = np.concatenate(([ctx.onset], cur_ts))
    gaps = np.diff(edges)
    gaps = np.where(inside_closings(closed, edges[:-1], edges[1:]), 0.0, gaps)  # closed hours are no gap
    longest = float(gaps.max()) if gaps.size else 0.0
    at = float(edges[int(np.argmax(gaps))]) if gaps.size else ctx.onset
    words, gap_details = "", details
    outage = longest >= max(GAP_MIN_S, 20.0 * typical_gap)
    if same_log and not outage:
        # a silence the traffic around it makes improbable, however quiet the log's nights are
        both = np.concatenate((ref_ts, cur_ts))  # the log's own rows: their gaps weighed by the onset scan already
        silence = improbable_silence(both, ctx.onset, closed, GAP_MIN_S, log_rows=ctx.log_rows)
        if silence is not None:
            longest, at = silence.seconds, max(silence.start, ctx.onset)
            gap_details = {**details, "expected_rows_in_gap": silence.expected}
            words = f" (the traffic around it sends about {silence.expected:.0f} in that time)"
            outage = True
    if outage:
        from diagnostics.findings import iso_utc

        out.append(
            Finding(
                "service",
                "traffic_gap",
                "traffic",
                1.0,
                f"No predictions were logged for {longest / 60:.0f} minutes from {iso_utc(at)}{words}.",
                {**gap_details, "gap_seconds": longest},
            )
        )
    # a diurnal wave moves the rate by at most ~15% between neighbouring hours
    if drop_ratio <= DROP_RATIO and cur_ts.size + ref_ts.size > 2 * MIN_ROWS:
        mag = float(np.clip((DROP_RATIO - drop_ratio) / 0.25, 0.0, 1.0))
        out.append(
            Finding(
                "service",
                "traffic",
                "traffic",
                mag,
                f"Traffic dropped to {ratio:.0%} of normal: {ref_rate:.1f} -> {cur_rate:.1f} predictions per minute"
                f"{_seasonal_words(seasonal, cur_rate)}{_adjacent_words(details)}{_wave_words(beyond, last_day)}.",
                details,
            )
        )
    elif spike_ratio >= SPIKE_RATIO:
        mag = float(np.clip((spike_ratio - 1.8) / 1.2, 0.0, 1.0))
        out.append(
            Finding(
                "service",
                "traffic",
                "traffic",
                mag,
                f"Traffic spiked to {ratio:.1f}x normal: {ref_rate:.1f} -> {cur_rate:.1f} predictions per minute"
                f"{_seasonal_words(seasonal, cur_rate)}{_adjacent_words(details)}{_wave_words(beyond, last_day)}.",
                details,
            )
        )
    return out
