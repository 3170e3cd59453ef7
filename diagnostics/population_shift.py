"""A population shift onto a harder segment: the mix moved where the model is known to be worse.

One category's share triples (students, a tumour grade, rainy hours) while the model answers
every segment as well as it did: no segment got worse, no input's values are broken, yet the
error of the window rises 4-15% because more of the traffic sits where the model always erred
more. The drift finding on the input is weak (the mix of one input, weighed by its influence),
the segment check sees no slice fall and the concept check is told nothing moved but quality:
the verdict read "none". It is a data cause (the culprit the input whose mix moved), distinct
from a segment's regression (retrain on that slice) and from a broken input (fall back).

The check re-weights the reference's per-segment error to the current window's mix: the
expected error under the new mix (sum over segments of current share x reference error) against
the reference's own. The rise it predicts is judged against its own noise (the reference's
per-segment errors are estimates, both windows' shares are samples), and it must carry most of
the observed rise, which must itself be real (a performance drop). A diurnal mix change that
the error does not follow raises nothing: the observed rise is what is being explained.
Categorical inputs only (and numbers holding a few codes, a 0/1 flag): a number's deciles move
with any drift (a drift check's case) and with the clock (an hour, a temperature), a category's
share is the population itself.
"""

from __future__ import annotations

import math

import numpy as np

from diagnostics.context import Context
from diagnostics.findings import Finding
from diagnostics.log import Categorical

MIN_REF_ROWS = 500  # labelled reference rows
MIN_CUR_ROWS = 200  # labelled current rows: the rise to explain is observed, not estimated
MIN_SEGMENT_ROWS = 30  # a segment's reference error from fewer rows is taken as the overall one
MIN_Z = 4.0  # the predicted rise, in its own standard errors (one test per categorical input)
MIN_RISE = 0.03  # and at least this relative rise of the error
MIN_EXPLAINED = 0.6  # of the observed rise
MAX_EXPLAINED = 1.6  # a predicted rise far above the observed one: the mix is not what moved it
MIN_SHARE_GAIN = 0.05  # the segment the traffic moved onto gained this share of the rows
WORSE_Z = 3.0  # and the model was worse there in the reference, beyond noise
SEEN_Z = 2.5  # the observed rise in its standard errors, when no performance finding stands
MAX_CODES = 10  # a numeric input with at most this many values is a category (a 0/1 flag, a grade)
CODES_HEAD = 500  # values read first: more than MAX_CODES among them is more than MAX_CODES among all


def _segment_name(
    name: str, numeric: bool, categories: np.ndarray, values: np.ndarray | Categorical,
    sample: np.ndarray, codes: np.ndarray, top: int,
) -> str:
    """"student=1.0": the category, or the one value a number's segment holds."""
    if not numeric:
        return f"{name}={categories[top]}" if top < len(categories) else f"{name} (other)"
    assert not isinstance(values, Categorical)
    held = np.unique(values[sample][codes == top])
    held = held[np.isfinite(held)]
    return f"{name}={held[0]:g}" if held.size == 1 else f"{name} (missing)" if held.size == 0 else f"{name} segment"


def _more_than_codes(sample: np.ndarray) -> bool:
    """Whether the finite values of `sample` hold more than `MAX_CODES` distinct values.

    A continuous input shows more than that among its first `CODES_HEAD` values already: read
    there first, it is not sorted whole (40,000 values for every input of the log)."""
    finite = sample[np.isfinite(sample)]
    return bool(np.unique(finite[:CODES_HEAD]).size > MAX_CODES or np.unique(finite).size > MAX_CODES)


def population_shift_findings(ctx: Context, perf_mag: float) -> list[Finding]:
    """A finding per categorical input whose new mix predicts most of an observed error rise."""
    if ctx.labels_apart:
        return []
    rl = ctx.ref_loss[ctx.ref_sample]
    cl = ctx.cur_loss[ctx.cur_sample]
    rok, cok = np.isfinite(rl), np.isfinite(cl)
    n, m = int(rok.sum()), int(cok.sum())
    if n < MIN_REF_ROWS or m < MIN_CUR_ROWS:
        return []
    base = float(rl[rok].mean())
    observed = float(cl[cok].mean())
    rise_seen = observed - base
    if not (base > 0 and rise_seen > 0):
        return []
    # the observed rise must be real: a performance drop, or at least beyond the windows' noise
    # (a moderate rise the mix predicts with certainty needs less of its own evidence)
    seen_z = rise_seen / math.sqrt(float(rl[rok].var()) / n + float(cl[cok].var()) / m)
    if perf_mag <= 0 and seen_z < SEEN_Z:
        return []
    out: list[Finding] = []
    for name, bins in ctx.bins.items():
        if name not in ctx.cur_bin_codes or name not in ctx.ref_bin_codes:
            continue
        values = ctx.reference.features[name]
        if bins.numeric:  # a number holding a few codes (0/1, a grade) is a category
            assert not isinstance(values, Categorical)
            if _more_than_codes(values[ctx.ref_sample]):
                continue
        k = bins.n_bins
        cr = ctx.ref_bin_codes[name].astype(np.int64)[rok]
        cc = ctx.cur_bin_codes[name].astype(np.int64)[cok]
        n_k = np.bincount(cr, minlength=k).astype(np.float64)
        s_k = np.bincount(cr, weights=rl[rok], minlength=k)
        ss_k = np.bincount(cr, weights=rl[rok] ** 2, minlength=k)
        known = n_k >= MIN_SEGMENT_ROWS
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_k = np.where(known, s_k / np.maximum(n_k, 1.0), base)
            var_k = np.where(known, ss_k / np.maximum(n_k, 1.0) - mean_k**2, 0.0)
        p_ref = n_k / n
        p_cur = np.bincount(cc, minlength=k).astype(np.float64) / m
        e_ref = float(p_ref @ mean_k)
        e_cur = float(p_cur @ mean_k)
        rise = e_cur - e_ref
        if not (rise > MIN_RISE * base):
            continue
        var = (
            float(p_cur @ mean_k**2 - e_cur**2) / m
            + float(p_ref @ mean_k**2 - e_ref**2) / n
            + float(((p_cur - p_ref) ** 2 * np.maximum(var_k, 0.0) / np.maximum(n_k, 1.0))[known].sum())
        )
        z = rise / math.sqrt(var) if var > 0 else 0.0
        explained = rise / rise_seen
        if z < MIN_Z or not MIN_EXPLAINED <= explained <= MAX_EXPLAINED:
            continue
        # the segment the traffic moved onto: the largest share of the predicted rise
        gain = p_cur - p_ref
        top = int(np.argmax(gain * (mean_k - e_ref)))
        worse_z = (mean_k[top] - e_ref) / math.sqrt(max(float(var_k[top]), 1e-12) / max(float(n_k[top]), 1.0))
        if not (known[top] and gain[top] >= MIN_SHARE_GAIN and worse_z >= WORSE_Z):
            continue
        label = _segment_name(name, bins.numeric, bins.categories, values, ctx.ref_sample, ctx.ref_bin_codes[name], top)
        score = min(1.0, explained) * min(1.0, z / (2.0 * MIN_Z)) * 0.7
        out.append(Finding(
            "data",
            "population_shift",
            name,
            score,
            f"The traffic moved onto {label} ({p_ref[top]:.0%} -> {p_cur[top]:.0%} of the rows), where the "
            f"model already erred more (error {mean_k[top]:.4g} against {e_ref:.4g} overall); the new mix "
            f"predicts an error of {e_cur:.4g}, {rise / base:+.1%}, the observed is {observed:.4g} "
            f"({rise_seen / base:+.1%}): no segment got worse, the population moved.",
            {"segment": label, "share_before": float(p_ref[top]), "share_now": float(p_cur[top]),
             "expected_error": e_cur, "observed_error": observed, "reference_error": e_ref,
             "explained": float(explained), "z": float(z), "observed_z": float(seen_z)},
        ))
    return sorted(out, key=lambda f: -f.score)
