"""A burst of rare events: a stretch of bins whose rate stands far above the rest of the log.

An upstream dependency failing a third of the calls for one hour, then recovering, is no step:
the onset scan fits one step over a line per series, and a pulse of 8 bins in 400 moves the
best step's mean by 2% of its height (a two-day log's error pulse was left undated, the window
fell back to the last quarter and the diagnosis there said "none"). A burst is scored by the
binomial likelihood ratio of each half of the stretch against the rest, the weaker half
counting: a blip of two minutes sits in one half (a dependency hiccup, which the error check
judges no outage either), an outage fills both.
"""

from __future__ import annotations

import math

import numpy as np

from diagnostics.stats import binomial_loglik

MIN_RATIO = 5.0  # the burst's rate is this many times the rest's ...
MIN_RISE = 0.05  # ... and this many points above it (a daily error hump is neither)


def _rise_z(k: np.ndarray, n: np.ndarray, k_out: np.ndarray, n_out: np.ndarray) -> np.ndarray:
    """sqrt(2 log LR) of "this part's own rate, the rest's own rate" against one rate; rises only."""
    llr = binomial_loglik(k, n) + binomial_loglik(k_out, n_out) - binomial_loglik(k + k_out, n + n_out)
    z = np.sqrt(np.maximum(2.0 * llr, 0.0))
    return np.where(k / np.maximum(n, 1e-12) > k_out / np.maximum(n_out, 1e-12), z, 0.0)


def rate_burst(
    hits: np.ndarray, totals: np.ndarray, lo_bin: int, hi_bin: int, min_bins: int, max_bins: int
) -> tuple[int, int, float]:
    """The strongest burst starting in [lo_bin, hi_bin): (first bin, bin after its end, strength).

    Every stretch of `min_bins` to `max_bins` bins is scored at once per width (cumulative sums,
    one vector per width): strength sqrt(2) x the smaller of its two halves' rise z against the
    bins outside the stretch, among stretches whose rate is `MIN_RATIO` times and `MIN_RISE`
    above the rest. (0, 0, 0.0) when there is none.
    """
    h = np.asarray(hits, dtype=np.float64)
    t = np.asarray(totals, dtype=np.float64)
    nb = h.shape[0]
    ch = np.concatenate([[0.0], np.cumsum(h)])
    ct = np.concatenate([[0.0], np.cumsum(t)])
    best = (0, 0, 0.0)
    for w in range(max(2, min_bins), max(2, min_bins, max_bins) + 1):
        starts = np.arange(max(lo_bin, 0), min(hi_bin, nb - w + 1))
        if starts.size == 0:
            break
        mid, end = starts + w // 2, starts + w
        k1, n1 = ch[mid] - ch[starts], ct[mid] - ct[starts]
        k2, n2 = ch[end] - ch[mid], ct[end] - ct[mid]
        k_out, n_out = ch[-1] - (k1 + k2), ct[-1] - (n1 + n2)
        ok = (n1 > 0) & (n2 > 0) & (n_out > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate_in = (k1 + k2) / np.maximum(n1 + n2, 1e-12)
            rate_out = k_out / np.maximum(n_out, 1e-12)
        ok &= (rate_in >= MIN_RATIO * rate_out) & (rate_in - rate_out >= MIN_RISE)
        if not ok.any():
            continue
        z = math.sqrt(2.0) * np.minimum(_rise_z(k1, n1, k_out, n_out), _rise_z(k2, n2, k_out, n_out))
        z = np.where(ok, z, 0.0)
        i = int(np.argmax(z))
        if z[i] > best[2]:
            best = (int(starts[i]), int(end[i]), float(z[i]))
    return best
