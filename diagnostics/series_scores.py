"""Robust change scores of service series (the RCAEval BARO idea, made direction- and size-aware).

Each series is judged against its own reference window: the median and the MAD spread of the
reference, the current level a centered rolling median (a few minutes wide, so one missing
scrape, a `rate()` dip or a p95 jump at a histogram bucket edge cannot move it), and the score
the robust z of that level in the series' *bad* direction (latency, errors and resources up;
traffic both ways). A z alone pages on every diurnal wave of a quiet series, so a change is
significant only when it is also large for its kind (`GATES`): latency x1.3, an error share up by
a point and by half, traffic x1.6 or x0.6, a resource x1.3.

The change time of a significant series is where its excursion began: the first point past the
threshold, walked back while the level stays above `Z_START`. That is what propagation compares.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import median_filter

from diagnostics.series import Series, SeriesKind

Z_SIGNIFICANT = 5.0  # robust z of the sustained level
Z_START = 2.0  # the excursion began where the level last stood below this
LEVEL_WINDOW_S = 300.0  # rolling-median width: survives a few bad points
REL_FLOOR = 0.02  # spread never below 2% of the level: a flat series is not infinitely sensitive
MIN_REF_POINTS = 8
LEVEL_POINTS_MIN = 10  # an excursion of a bursty series must last about a level window (5 min at 30 s)


@dataclass(frozen=True)
class Gate:
    """How large a change of a kind must be to matter, whatever its z."""

    up_ratio: float  # level / reference median for a rise
    down_ratio: float | None  # for a drop (traffic only); None: a drop is never bad
    min_share_delta: float = 0.0  # absolute rise of a share (0..1 series: error rates)


GATES: dict[str, Gate] = {
    "latency": Gate(up_ratio=1.3, down_ratio=None),
    "errors": Gate(up_ratio=2.0, down_ratio=None, min_share_delta=0.01),
    "traffic": Gate(up_ratio=1.6, down_ratio=0.6),
    "resource": Gate(up_ratio=1.3, down_ratio=None),
}


def level_points(step: float) -> int:
    """Odd rolling-median width in points for a grid step."""
    k = max(3, int(round(LEVEL_WINDOW_S / max(step, 1e-9))))
    return k if k % 2 else k + 1


def filled(values: np.ndarray, max_gap: int = 8) -> np.ndarray:
    """Short gaps carry the last value forward (what Prometheus shows for a missed scrape).

    A longer silence stays NaN from its first point: a series that stops is not a series that
    holds still (a gap running into the end of the window counts by its length so far).
    """
    ok = np.isfinite(values)
    if ok.all() or not ok.any():
        return values.copy()
    n = values.shape[0]
    pos = np.arange(n)
    last = np.where(ok, pos, -1)
    np.maximum.accumulate(last, out=last)
    following = np.where(ok, pos, n)
    following = np.minimum.accumulate(following[::-1])[::-1]
    # the whole gap must be short: the first minutes of a long silence are not a missed scrape
    fill = ~ok & (last >= 0) & (following - last - 1 <= max_gap)
    out = values.copy()
    out[fill] = values[last[fill]]
    return out


def fresh(values: np.ndarray) -> np.ndarray:
    """Points where a series has a new value: finite and not the previous point's value again.

    A gauge whose target is gone keeps answering its last value for Prometheus' lookback (5
    minutes): held, not fresh. A live series (a rate, a latency, a noisy gauge) changes every point.
    """
    ok = np.asarray(np.isfinite(values), dtype=bool)
    if values.shape[0] == 0:
        return ok
    changed = np.concatenate(([True], values[1:] != values[:-1]))
    return np.asarray(ok & changed, dtype=bool)


def silences(values: np.ndarray, min_points: int, others_alive: np.ndarray | None) -> np.ndarray:
    """Where a series that had reported went silent for ``min_points`` or more (a boolean mask).

    A silence counts when something else kept reporting through it: ``others_alive`` marks the
    points where another target's series had fresh values, and it must hold for half the silence
    (every target silent at once is Prometheus' own gap: a restart, a lost scrape loop, a history
    that ends before now). With nothing else to compare (None), only a silence that ended within
    the window counts: the target came back, so it, not the monitoring, was gone.
    """
    missing = ~np.isfinite(values)
    ok = ~missing
    n = values.shape[0]
    if not ok.any() or not missing.any():
        return np.zeros(n, dtype=bool)
    missing[: int(np.argmax(ok))] = False  # before the series existed is not a silence
    edges = np.diff(np.concatenate(([0], missing.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    out = np.zeros(n, dtype=bool)
    for a, b in zip(starts, ends, strict=True):  # one iteration per silence, not per point
        if b - a < min_points:
            continue
        witnessed = b < n if others_alive is None else float(np.mean(others_alive[a:b])) >= 0.5
        if witnessed:
            out[a:b] = True
    return out


def _median_rows(windows: np.ndarray) -> np.ndarray:
    if not np.isnan(windows).any():
        return np.asarray(np.median(windows, axis=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(np.nanmedian(windows, axis=1))


def rolling_level(values: np.ndarray, k: int) -> np.ndarray:
    """Centered rolling median of the gap-filled series (shorter windows mirror at the ends); NaN
    where less than half the window has data."""
    n = values.shape[0]
    if n == 0:
        return values.copy()
    x = filled(values)
    k = min(k, n if n % 2 else max(n - 1, 1))
    half = k // 2
    if not np.isnan(x).any():
        return np.asarray(median_filter(x, size=k, mode="mirror"))
    padded = np.concatenate([x[1 : half + 1][::-1], x, x[n - half - 1 : n - 1][::-1]]) if half else x
    if padded.shape[0] < n + 2 * half:  # very short series: no mirroring possible
        padded = np.concatenate([np.full(half, x[0]), x, np.full(half, x[-1])])
    windows = sliding_window_view(padded, k)
    level = _median_rows(windows)
    # a level needs most of its window: the median of the last few points before a silence (the
    # partial `rate()` windows of a series that stops) is not where the series stood
    level[np.isfinite(windows).sum(axis=1) < (k + 1) // 2] = np.nan
    return level


@dataclass(frozen=True)
class Reference:
    median: float
    spread: float
    points: int


def reference_stats(raw: np.ndarray, level: np.ndarray) -> Reference | None:
    """Median and robust spread of a reference window (raw values and their rolling level)."""
    ok = np.isfinite(raw)
    if int(ok.sum()) < MIN_REF_POINTS:
        return None
    r = raw[ok]
    med = float(np.median(r))
    mad_raw = 1.4826 * float(np.median(np.abs(r - med)))
    lv = level[np.isfinite(level)]
    mad_level = 1.4826 * float(np.median(np.abs(lv - np.median(lv)))) if lv.size else mad_raw
    # the level is smoother than the raw points; its spread carries slow wander (diurnal waves),
    # a quarter of the raw spread keeps a flat-but-noisy series from looking perfectly still
    spread = max(mad_level, 0.25 * mad_raw, REL_FLOOR * abs(med), 1e-12)
    return Reference(med, spread, int(ok.sum()))


def is_share(ref: Reference, level: np.ndarray) -> bool:
    finite = level[np.isfinite(level)]
    return ref.median <= 1.0 and (finite.size == 0 or float(finite.max()) <= 1.0 + 1e-9)


def size_gate(
    kind: SeriesKind, median: np.ndarray | float, level: np.ndarray, share: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(large rise, large drop) per point against a reference median (a scalar or one per point).

    ``share``: the series is a 0..1 share (an error rate, a utilization). A utilization pinned at
    its ceiling is at its limit even when the rise is small (0.85 -> 1.0).
    """
    gate = GATES[kind]
    med = np.asarray(median, dtype=np.float64)
    delta = level - med
    with np.errstate(invalid="ignore"):
        if kind == "errors" and share:
            up = (delta >= gate.min_share_delta) & (delta >= 0.5 * med)
        else:
            up = np.where(med > 0, level >= gate.up_ratio * np.abs(med), level > 0)
            if kind == "resource" and share:
                up = up | ((level >= 0.95) & (delta >= 0.05))
        if gate.down_ratio is None:
            down = np.zeros(np.shape(up), dtype=bool)
        else:
            down = (level <= gate.down_ratio * med) & (med > 0)
    return up, down


def bad_z(kind: SeriesKind, ref: Reference, level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(z, effect-ok) per point: robust z in the kind's bad direction, and whether the size gate holds.

    Traffic is bad both ways; its z is the larger of the rise and the drop.
    """
    z_up = (level - ref.median) / ref.spread
    up, down = size_gate(kind, ref.median, level, is_share(ref, level))
    z = np.where(down & ~up, -z_up, z_up) if GATES[kind].down_ratio is not None else z_up
    finite = np.isfinite(z)
    return np.where(finite, z, np.nan), (up | down) & finite


@dataclass
class SeriesScore:
    """How one series moved after the reference window."""

    series: Series
    reference: Reference | None
    z: float  # largest sustained bad-direction z in the current window
    significant: bool
    change_index: int | None  # where the significant excursion began
    peak_index: int | None
    ratio: float  # level at the peak / reference median
    direction: str  # "up" | "down"
    score: float  # 0..1, >= 0.4 when significant
    restarts: int = 0  # sudden drops of a growing resource (sawtooth)
    flat_top: bool = False  # level pinned at its maximum (a limit)
    follows_load: bool = False  # a resource that rose only as much as the request rate did
    second: SeriesScore | None = None  # a latency histogram's other estimate (mean or quantile)


def score_series(
    series: Series, level: np.ndarray, ref_slice: slice, search_from: int, search_to: int | None = None
) -> SeriesScore:
    """Score one series: reference = ``ref_slice`` of the grid, changes looked for from ``search_from``."""
    raw = series.scored
    ref = reference_stats(raw[ref_slice], level[ref_slice])
    n = raw.shape[0]
    end = n if search_to is None else min(n, search_to)
    lo = max(0, min(search_from, end))
    if ref is None or lo >= end:
        return SeriesScore(series, ref, 0.0, False, None, None, 1.0, "up", 0.0)
    z, big = bad_z(series.kind, ref, level)
    zc = z[lo:end]
    bc = big[lo:end]
    finite = np.isfinite(zc)
    if not finite.any():
        return SeriesScore(series, ref, 0.0, False, None, None, 1.0, "up", 0.0)
    sig = finite & (np.nan_to_num(zc, nan=-np.inf) >= Z_SIGNIFICANT) & bc
    if sig.any():
        sig &= _more_than_its_bursts(series.kind, ref.median, ref.spread, raw[ref_slice], level, lo, end)
    zmax = float(np.nanmax(zc))
    if sig.any():
        first = lo + int(np.argmax(sig))
        peak = lo + int(np.argmax(np.where(sig, zc, -np.inf)))
        start = _excursion_start(raw, level, ref, peak, first, ref_slice)
    else:
        start = None
        peak = lo + int(np.nanargmax(np.where(finite, zc, -np.inf)))
    peak_level = float(level[peak])
    base = ref.median if abs(ref.median) > 1e-12 else float("nan")
    ratio = peak_level / base if math.isfinite(base) else float("inf") if peak_level > 0 else 1.0
    direction = "down" if peak_level < ref.median else "up"
    score = _score(series.kind, zmax, ratio, direction, bool(sig.any()), ref, peak_level)
    out = SeriesScore(series, ref, zmax, bool(sig.any()), start, peak, ratio, direction, score)
    if series.kind == "resource" and out.significant:
        out.restarts, out.flat_top = _resource_shape(raw[lo:end], level[lo:end], ref)
    return out


def run_lengths(mask: np.ndarray) -> np.ndarray:
    """Length of the run of True each point belongs to (0 where False)."""
    m = np.asarray(mask, dtype=bool)
    out = np.zeros(m.shape[0], dtype=np.int64)
    if not m.any():
        return out
    edges = np.flatnonzero(np.diff(np.concatenate(([0], m.astype(np.int8), [0]))))
    lengths = edges[1::2] - edges[::2]
    out[m] = np.repeat(lengths, lengths)
    return out


def _past_gate(kind: SeriesKind, median: float, spread: float, values: np.ndarray, share: bool) -> np.ndarray:
    """Points past both the robust-z threshold and the kind's size gate, in the bad direction."""
    z = (values - median) / spread
    up, down = size_gate(kind, median, values, share)
    z = np.where(down & ~up, -z, z)
    past: np.ndarray = (np.nan_to_num(z, nan=-np.inf) >= Z_SIGNIFICANT) & (up | down)
    return past


def _more_than_its_bursts(
    kind: SeriesKind, median: float, spread: float, ref_raw: np.ndarray, level: np.ndarray, lo: int, end: int
) -> np.ndarray:
    """Which points of ``level[lo:end]`` stand in an excursion the reference's bursts cannot explain.

    A bursty series (a p99 that jumps for a couple of minutes at every GC pause or batch job)
    crosses the gate in its reference too. The rolling level absorbs a lone burst, but two that
    overlap lift it for a few points, and one more such burst is the series' usual behaviour, not
    a change. Against a reference whose raw points crossed the gate, a point counts only inside an
    excursion of the level that lasts longer than twice the reference's longest burst (and at least
    the level's own window), or that goes past the reference's worst point by the kind's gate. A
    reference that never crossed (the usual case) leaves every point as it was.
    """
    finite = ref_raw[np.isfinite(ref_raw)]
    cur = level[lo:end]
    everything = np.ones(cur.shape[0], dtype=bool)
    if finite.size == 0:
        return everything
    share = bool(median <= 1.0 and float(np.max(np.abs(finite))) <= 1.0)
    burst = int(run_lengths(_past_gate(kind, median, spread, ref_raw, share)).max(initial=0))
    if burst == 0:
        return everything
    longer = run_lengths(_past_gate(kind, median, spread, cur, share)) > max(2 * burst, LEVEL_POINTS_MIN)
    worst_up, _ = size_gate(kind, float(finite.max()), cur, share)
    beyond = worst_up
    if GATES[kind].down_ratio is not None:
        _, worst_down = size_gate(kind, float(finite.min()), cur, share)
        beyond = beyond | worst_down
    return np.asarray(longer | beyond, dtype=bool)


def _excursion_start(
    raw: np.ndarray, level: np.ndarray, ref: Reference, peak: int, first: int, ref_slice: slice
) -> int:
    """Where the excursion that crossed the threshold at ``first`` began.

    Walked back on a 3-point median (sharp in time, unlike the wide level) while the series stays
    beyond a tenth of its peak move and three spreads *of that 3-point median* in the reference: a
    wide median leans early by half its width at a step, and a threshold under the noise (a p95
    flickering at a bucket edge) walks back through noise; either would let a symptom look older
    than its cause.
    """
    sign = 1.0 if level[peak] >= ref.median else -1.0
    sharp = sign * (rolling_level(raw, 3) - ref.median)
    ref_sharp = sharp[ref_slice]
    ref_sharp = ref_sharp[np.isfinite(ref_sharp)]
    noise = 1.4826 * float(np.median(np.abs(ref_sharp - np.median(ref_sharp)))) if ref_sharp.size else 0.0
    threshold = max(0.1 * sign * (float(level[peak]) - ref.median), Z_START * ref.spread, 3.0 * noise)
    below = np.nan_to_num(sharp[:first], nan=np.inf) < threshold
    below[: min(ref_slice.stop or 0, first)] = True
    hits = np.flatnonzero(below)
    return min(int(hits[-1]) + 1 if hits.size else 0, first)


def _score(kind: str, z: float, ratio: float, direction: str, significant: bool, ref: Reference, peak: float) -> float:
    gate = GATES[kind]
    if kind == "errors" and ref.median <= 1.0 and peak <= 1.0:
        size = (peak - ref.median) / max(gate.min_share_delta, 0.5 * ref.median)
    elif direction == "down" and gate.down_ratio is not None:
        size = (1.0 - ratio) / (1.0 - gate.down_ratio)
    else:
        size = (ratio - 1.0) / (gate.up_ratio - 1.0) if math.isfinite(ratio) else 4.0
    strength = min(max(z, 0.0) / Z_SIGNIFICANT, max(size, 0.0))
    if not significant:
        return float(np.clip(0.3 * strength, 0.0, 0.29))
    # 1x the thresholds -> 0.4, 4x -> 1.0
    return float(np.clip(0.4 + 0.2 * (strength - 1.0), 0.4, 1.0))


def _resource_shape(raw: np.ndarray, level: np.ndarray, ref: Reference) -> tuple[int, bool]:
    """Sawtooth restarts (sudden drops of a grown resource) and a flat top (pinned at a limit)."""
    x = raw[np.isfinite(raw)]
    if x.size < 8:
        return 0, False
    top = float(np.max(x))
    rise = top - ref.median
    if rise <= 0:
        return 0, False
    drops = np.diff(x) < -0.5 * rise
    restarts = int(np.count_nonzero(drops & ~np.concatenate(([False], drops[:-1]))))
    lv = level[np.isfinite(level)]
    flat_top = bool(
        lv.size >= 8 and np.mean(lv >= top - 0.05 * rise) >= 0.3 and np.std(x[x >= top - 0.1 * rise]) <= 0.05 * rise
    )
    return restarts, flat_top


def detect_onset(series: list[Series], levels: list[np.ndarray], times: np.ndarray, ref_s: float) -> int | None:
    """Earliest point where one of the service's own series starts a significant excursion.

    Every candidate point is judged against the ``ref_s`` seconds before it (a sliding reference,
    so a diurnal wave is compared with its own recent past). None when nothing moved.
    """
    n = times.shape[0]
    if n < 3 * MIN_REF_POINTS:
        return None
    step = float(times[1] - times[0])
    r = max(MIN_REF_POINTS, int(ref_s / step))
    stride = max(1, n // 160)
    positions = np.arange(max(MIN_REF_POINTS, r // 3), n - 2, stride)
    if positions.size == 0:
        return None
    best: int | None = None
    for s, level in zip(series, levels, strict=True):
        first = _first_excursion(s, level, positions, r)
        if first is not None and (best is None or first < best):
            best = first
    return best


def _first_excursion(s: Series, level: np.ndarray, positions: np.ndarray, r: int) -> int | None:
    raw = filled(s.scored)
    finite = np.isfinite(s.scored)
    # each position's reference is the r points just before it; the first ones mirror the start
    mirror = raw[:r][::-1]
    padded_raw = np.concatenate([mirror, np.full(r - mirror.shape[0], mirror[-1]), raw])
    mirror_level = level[:r][::-1]
    padded_level = np.concatenate([mirror_level, np.full(r - mirror_level.shape[0], mirror_level[-1]), level])
    thin = max(1, r // 60)  # every point of the reference is not needed for its median and spread
    ref_raw = sliding_window_view(padded_raw, r)[positions, ::thin]
    ref_level = sliding_window_view(padded_level, r)[positions, ::thin]
    med = _median_rows(ref_raw)
    mad_raw = 1.4826 * _median_rows(np.abs(ref_raw - med[:, None]))
    lmed = _median_rows(ref_level)
    mad_level = 1.4826 * _median_rows(np.abs(ref_level - lmed[:, None]))
    seen = np.concatenate([[0], np.cumsum(finite)])
    count = seen[positions] - seen[np.maximum(positions - r, 0)]
    spread = np.fmax(np.fmax(mad_level, 0.25 * mad_raw), np.fmax(REL_FLOOR * np.abs(med), 1e-12))
    cur = level[positions]
    z = (cur - med) / spread
    finite = raw[np.isfinite(raw)]
    share = bool(finite.size) and float(np.max(np.abs(finite))) <= 1.0
    up, down = size_gate(s.kind, med, cur, share)
    z = np.where(down & ~up, -z, z)
    with np.errstate(invalid="ignore"):
        ok = (count >= MIN_REF_POINTS) & (up | down) & (z >= Z_SIGNIFICANT)
    # the first excursion that the bursts of its own reference cannot explain (a loop over the
    # excursions found, a handful, not over points)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], ok.astype(np.int8), [0]))))
    for a in edges[::2]:
        p = int(positions[a])
        keep = _more_than_its_bursts(
            s.kind, float(med[a]), float(spread[a]), raw[max(0, p - r) : p], level, p, level.shape[0]
        )
        if keep[0]:
            return p
    return None
