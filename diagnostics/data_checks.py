"""Data checks: each feature's current window against the reference.

One sort per column and window; every statistic (KS, PSI, out-of-range share, quantiles,
stuck values) is read off the two sorted arrays. A finding's score is the size of the
problem times how much the feature matters to the prediction (`Context.influence`), so drift
on an input the model ignores cannot outrank drift on one it relies on. Structural breakage
(a column missing, emptied or retyped) keeps a floor weight: a broken pipeline is worth
reporting even when the feature looks unimportant.
"""

from __future__ import annotations

import math

import numpy as np

from diagnostics.calendar_cells import CalendarCells
from diagnostics.calendar_days import at_local_midnight
from diagnostics.clock_features import (
    MAX_CALENDAR_VALUES,
    clock_input,
    day_names_offset,
    follows_local_days,
    names_local_days,
)
from diagnostics.closed_hours import closes_over_midnight
from diagnostics.context import Context, loss_name
from diagnostics.entity_join import entity_join_findings
from diagnostics.feature_relations import relation_findings
from diagnostics.findings import Finding
from diagnostics.label_relation import label_relation_findings
from diagnostics.log import Categorical, align_categorical
from diagnostics.model_checks import MIN_LABELLED, LossStats, relative_increase
from diagnostics.moved_together import MovedTogether
from diagnostics.phase import (
    DAY_S,
    HOUR_S,
    LEVEL_KS_BAR,
    MIN_CYCLE,
    WAVE_SPAN,
    DayHours,
    daily_cycle_share,
    daily_wave_fit,
    day_levels,
    daylight_saving_shift,
    earlier_windows,
    glides_through_onset,
    hour_blocks,
    local_clock,
    matched_rows,
    reference_blocks,
    steps_at_onset,
    wanders_through_onset,
    window_hours_unseen,
    without_daily_wave,
)
from diagnostics.range_exit import exits_follow_the_clock
from diagnostics.recurring import UNUSED_INFLUENCE, critical_factor, effective_rows, input_names, recurrence
from diagnostics.segment_traffic import follows_the_date
from diagnostics.stale_values import stale_value_findings
from diagnostics.stats import (
    bin_counts_sorted,
    chi2_homogeneity,
    interpolate_sorted,
    js_divergence,
    ks_statistic_bounded,
    ks_statistic_sorted,
    psi_from_counts,
    quantile_edges,
    sorted_values,
    two_proportion_se,
)
from diagnostics.value_grid import grid_finding_parts

STRUCTURAL_FLOOR = 0.4
HIGH_CARDINALITY = 1000
MIN_ROWS_PER_CATEGORY = 50  # below this, a category histogram is mostly sampling noise
MIN_VALUES = 10


def _weight(ctx: Context, name: str, structural: bool = False) -> float:
    w = ctx.influence.get(name, 0.0)
    base = 0.1 + 0.9 * w
    return max(base, STRUCTURAL_FLOOR) if structural else base


def _moved_score(ctx: Context, name: str, score: float, moved: float, critical: float) -> float:
    """A drift's score, at least `STRUCTURAL_FLOOR` when it moved `UNSEEN_MAJOR` of the rows of an
    input the model reads, and twice what the windows' sizes could move by chance (`critical`, the
    KS critical value at alpha 0.001: a window of 200 rows of a wandering daily input moved by
    KS 0.24 against a critical 0.17, and is no certain fifth).

    `moved` bounds the share of rows that changed from below (KS: the largest gap between the two
    distribution functions; a category mix: its total variation distance). A fifth of a used
    input's rows moved is a fault whatever the input's influence (the issue's target class), as
    for never-seen categories: a device `tablet` mapped onto `web` upstream (20% of the rows, JS
    0.12, chi-square p 1e-281) scored 0.09 at influence 0.07, a returning-user flag inverted
    (35% -> 65%, KS 0.30) 0.27, both under the verdict bar, and with labels withheld nothing else
    spoke for them (verdict none). Only when the window's labels cannot speak: with labels, the
    loss of the moved rows decides as before (rain on a wet day after dry ones moved KS 0.79 on an
    input read at 0.08, and the model did as well).
    """
    if int(np.isfinite(ctx.cur_loss).sum()) >= MIN_LABELLED:
        return score  # the labels say whether the moved rows hurt (a wet day after dry ones did not)
    if moved >= max(UNSEEN_MAJOR, 2.0 * critical) and ctx.influence.get(name, 0.0) >= UNUSED_INFLUENCE:
        return max(score, STRUCTURAL_FLOOR)
    return score


def _pct(x: float) -> str:
    return f"{100.0 * x:.1f}%"


def data_findings(ctx: Context, only: frozenset[str] | None = None) -> list[Finding]:
    """Every input's checks, current window against the reference.

    `only`: those inputs' own checks alone, asked whether a move found against a reference file shows
    against this one too (`drift_before_onset`): then the tail beyond the daily wave counts as a move
    (`_tail_beyond_wave`).
    """
    ref_feats = ctx.reference.features
    cur_feats = ctx.current.features
    out: list[Finding] = []
    # hours of the day on the log's own clock: its traffic's zone across a daylight-saving change
    r_ts, c_ts, onset = _local_times(ctx)
    same_hours = matched_rows(r_ts, c_ts)
    unseen_hours = same_hours is None and window_hours_unseen(r_ts, c_ts)
    end = float(c_ts[-1]) if len(c_ts) else onset
    earlier = earlier_windows(r_ts, onset, end)
    # no two earlier windows of the same hours: the reference's own blocks tell an input's weather
    blocks = {days: reference_blocks(r_ts, onset, end, days) for days in (False, True)}
    # a reference under a day: its hours' own wander (`phase.hour_blocks`)
    blocks[False] = blocks[False] or hour_blocks(r_ts, onset, end)
    # a window of hours the log's own rows just before it never held: an input may glide through them
    glide_window = unseen_hours and bool(r_ts.size and c_ts.size) and float(c_ts[0]) - float(r_ts[-1]) < HOUR_S
    # the whole log's cycle is judged on a time-ordered stride sample (a share of variance needs no million rows)
    stride = max(1, (r_ts.shape[0] + c_ts.shape[0]) // CYCLE_SAMPLE)
    both_ts = np.concatenate((r_ts[::stride], c_ts[::stride])) if unseen_hours else np.empty(0)
    # the hours of the day each column's cycle is judged on, computed once for every column
    hours = _Hours(r_ts, both_ts, stride)
    # each row's local hour and kind of day, for inputs the calendar sets (`calendar_cells`)
    cells = CalendarCells(
        lambda: _local_day_offset(ctx, with_reference=True), ctx.reference.timestamp, ctx.current.timestamp
    )
    together = MovedTogether(ctx)  # fitted on first ask
    # a log under a day: no earlier day holds the window's hours, and what moved with an input speaks
    short_unseen = unseen_hours and bool(r_ts.size and c_ts.size) and float(c_ts[-1] - r_ts[0]) < DAY_S
    clock_names: set[str] = set()
    for name in sorted(set(ref_feats) | set(cur_feats)):
        if only is not None and name not in only:
            continue
        if name not in cur_feats:
            out.append(_schema(ctx, name, "missing", "the column is missing from the current log"))
            continue
        if name not in ref_feats:
            out.append(
                Finding(
                    "data",
                    "schema_change",
                    name,
                    0.05,
                    f"New column '{name}' appears in the current log but not in the reference.",
                    {"change": "new_column"},
                )
            )
            continue
        r, c = ref_feats[name], cur_feats[name]
        if isinstance(r, Categorical) != isinstance(c, Categorical):
            was = "text" if isinstance(r, Categorical) else "numeric"
            now = "text" if isinstance(c, Categorical) else "numeric"
            out.append(_schema(ctx, name, "type_changed", f"the column changed type from {was} to {now}"))
            continue
        out.extend(_invalid_values(ctx, name))
        if isinstance(r, Categorical):
            assert isinstance(c, Categorical)
            out.extend(_categorical_checks(ctx, name, r, c))
        else:
            assert not isinstance(c, Categorical)
            clock = clock_input(
                name, r, ctx.reference.timestamp, c, ctx.current.timestamp, _weight(ctx, name, structural=True)
            )
            if clock is None and _calendar_flag(ctx, r, c):
                # a workday or weekday flag turning over at local midnights: the calendar moving on
                clock_names.add(name)
                continue
            rest = _resting_value(ctx, name) if clock is None else None
            episodes = _episode_checks(ctx, name, r, c, rest) if rest is not None else None
            if episodes is not None:
                out.extend(episodes)
                continue
            if clock is None:
                on_wave = False  # judged beyond the log's own daily wave: an input that follows the clock
                if same_hours is not None and daily_cycle_share(r, r_ts, hours.reference()) >= MIN_CYCLE:
                    # a daily-cycle input: this window's hours against the same hours of earlier days
                    found = _numeric_checks(ctx, name, r[same_hours], c, _same_hours_blocks(
                        r_ts, c_ts, r, earlier or blocks[True]))
                    for f in found:
                        f.details["reference_same_hours"] = True
                elif unseen_hours and daily_cycle_share(np.r_[r[::stride], c[::stride]], both_ts, hours.both()) >= (
                    MIN_CYCLE
                ):
                    # (its cycle judged on the whole log: a reference of a few night hours hardly moves)
                    found = _beyond_daily_wave(ctx, name, r, c, (r_ts, c_ts, onset), tail=only is not None)
                    on_wave = True
                else:
                    swings = earlier or _own_blocks(blocks, r, r_ts, stride, hours)
                    found = _numeric_checks(ctx, name, r, c, [r[w] for w in swings])
                if any(f.check in WAVE_CHECKS for f in found) and cells.moves_with_the_calendar(r, c):
                    # the same local hours and kind of day held still: the window's other hours moved it
                    found = [f for f in found if f.check not in WAVE_CHECKS]
                if glide_window and any(f.check in WAVE_CHECKS for f in found) and glides_through_onset(
                    r, c, r_ts, c_ts
                ):
                    # it moves through its reference as through the window, unbroken at the onset
                    # (`phase.glides_through_onset`)
                    found = [f for f in found if f.check not in WAVE_CHECKS]
                if short_unseen and any(f.check in WAVE_CHECKS for f in found) and (
                    (on_wave and together.companions_carried(name)) or together.related_through_onset(name)
                ):
                    # no earlier day of these hours, but its companions moved with it: a mix of rows, or
                    # the station's weather through hours the reference never saw, not the feed
                    # (`moved_together`)
                    found = [f for f in found if f.check not in WAVE_CHECKS]
                out.extend(found)
                continue
            # an hour-of-day input moves with the windows' hours: its relation to the clock is what can break
            clock_names.add(name)
            out.extend(clock.findings)
            mr, mc = float(np.isnan(r).mean()) if r.size else 0.0, float(np.isnan(c).mean()) if c.size else 0.0
            out.extend(_missing(ctx, name, mr, mc, r.shape[0], c.shape[0]))
    # a window of a few hundred inputs served again and again is a few hundred observations (`recurring`)
    out = _counted_in_inputs(ctx, out, clock_names)
    if only is not None:
        return out
    out.extend(relation_findings(ctx, clock_names))
    out.extend(label_relation_findings(ctx, lambda: _local_day_offset(ctx)))
    out.extend(stale_value_findings(ctx, clock_names))
    out.extend(entity_join_findings(ctx, clock_names))
    for f in out:
        # tie-break for equal (clipped) scores: a derived column (e.g. a bucketed copy) carries
        # less information about the prediction than its source, so the source ranks first
        f.details.setdefault("influence_raw", ctx.influence_raw.get(f.subject, 0.0))
    return out


CYCLE_SAMPLE = 100_000  # rows of the whole log a daily-cycle share is judged on


def _counted_in_inputs(ctx: Context, found: list[Finding], clock_names: set[str]) -> list[Finding]:
    """The drift findings judged again with their critical value read at the windows' distinct inputs.

    A bundled set's rows served all day recur (`recurring`): a wine set's 89 inputs in another
    mix of hours moved flavanoids by KS 0.12 against a critical value of 0.07 counted in rows, 0.3
    counted in inputs. A drift whose KS stays under the critical value at the windows' effective
    sizes is chance of which inputs each window drew (a slight one under `SLIGHT_KS_CRITICALS`
    times it); the others are scored with it (`_moved_score`). Logs whose inputs do not repeat (a
    measurement's jitter, an id, a fresh input each row) keep every finding as it was.

    Values a discrete reference never had inside its range ('codes remapped') that arrive on
    inputs the reference never served, not on its inputs with that value changed, are the pool's
    other inputs and are dropped (issue-24a): a wine set's 89 inputs served by the clock, where a
    12-hour log's reference of a few hours drew some of them, read as nine columns' remapped
    codes at once, every row at a new value in one at a new value in the others.
    """
    if not any(f.check == "drift" or _new_inner_values(f) for f in found):
        return found
    names = [k for k in input_names(ctx.reference.features, ctx.influence, clock_names) if k in ctx.current.features]
    seen = recurrence(ctx.reference.features, ctx.current.features, names, ctx.ref_sample, ctx.cur_sample)
    chance_ref, chance_cur = seen.chance_ref, seen.chance_cur
    out = []
    for f in found:
        d = f.details
        if _new_inner_values(f) and seen.counted_in_inputs(f.subject):
            continue  # the pool's other inputs, not remapped codes (`Recurrence.counted_in_inputs`)
        if f.check != "drift" or "ks_critical" not in d or not seen.counted_in_inputs(f.subject):
            out.append(f)
            continue
        n_ref, n_cur = d.get("ks_rows", (len(ctx.reference), len(ctx.current)))
        crit = float(d["ks_critical"]) * critical_factor(n_ref, n_cur, chance_ref, chance_cur)
        d["ks_critical_inputs"] = crit
        d["effective_rows"] = [effective_rows(n_ref, chance_ref), effective_rows(n_cur, chance_cur)]
        if d.get("slight"):
            if float(d["ks"]) >= SLIGHT_KS_CRITICALS * crit:
                out.append(f)
            continue
        ks, unfloored = float(d.get("ks_judged", d["ks"])), float(d.get("score_unfloored", f.score))
        if ks < max(crit, 0.1):
            continue
        f.score = min(f.score, _moved_score(ctx, f.subject, unfloored, ks, crit))
        out.append(f)
    return out


def _new_inner_values(f: Finding) -> bool:
    """A value-grid finding of values a discrete reference never had inside its range (not a grid's resolution)."""
    return f.check == "value_grid" and "share_new_values" in f.details


def _local_times(ctx: Context) -> tuple[np.ndarray, np.ndarray, float]:
    """Reference and current timestamps, and the onset, moved by a daylight-saving change the traffic follows."""
    r_ts, c_ts = ctx.reference.timestamp, ctx.current.timestamp
    if not (r_ts.size and c_ts.size and float(r_ts[-1]) <= ctx.onset):
        return r_ts, c_ts, ctx.onset
    shift = daylight_saving_shift(np.concatenate((r_ts, c_ts)))
    onset = float(local_clock(np.array([ctx.onset]), shift)[0])
    return local_clock(r_ts, shift), local_clock(c_ts, shift), onset


def _same_hours_blocks(r_ts: np.ndarray, c_ts: np.ndarray, r: np.ndarray, blocks: list[slice]) -> list[np.ndarray]:
    """Each earlier block's rows in the current window's mix of hours (whole days hold every hour)."""
    out = []
    for w in blocks:
        rows = matched_rows(r_ts[w], c_ts)
        out.append(r[w] if rows is None else r[w][rows])
    return out


class _Hours:
    """Hours of the day of the timestamps `daily_cycle_share` reads, computed on first use and kept."""

    def __init__(self, r_ts: np.ndarray, both_ts: np.ndarray, stride: int) -> None:
        self._ts = {"reference": r_ts, "both": both_ts, "strided": r_ts[::stride]}
        self._hours: dict[str, DayHours] = {}

    def _get(self, which: str) -> DayHours:
        if which not in self._hours:
            self._hours[which] = DayHours.of(self._ts[which])
        return self._hours[which]

    def reference(self) -> DayHours:
        return self._get("reference")

    def both(self) -> DayHours:
        return self._get("both")

    def strided(self) -> DayHours:
        return self._get("strided")


def _own_blocks(
    blocks: dict[bool, list[slice]], r: np.ndarray, r_ts: np.ndarray, stride: int, hours: _Hours
) -> list[slice]:
    """The reference's blocks an input's own swings are read from: whole days for a daily-cycle input."""
    if not blocks[False]:
        return []
    if daily_cycle_share(r[::stride], r_ts[::stride], hours.strided()) >= MIN_CYCLE:
        return blocks[True]
    return blocks[False]
WAVE_CHECKS = ("drift", "out_of_range")  # what a window of unseen hours moves by construction


def _beyond_daily_wave(
    ctx: Context,
    name: str,
    r: np.ndarray,
    c: np.ndarray,
    clock: tuple[np.ndarray, np.ndarray, float],
    tail: bool = False,
) -> list[Finding]:
    """A daily-cycle input on a log whose window holds hours the reference never saw.

    Its distribution and range are judged with the log's daily wave taken out (`phase.without_daily_wave`);
    everything a wave cannot fake (missing values, a stuck or placeholder value, a unit change, a
    grid) is judged on the values as logged. `tail`: the rows beyond the wave-free range are kept as
    a move too (`_tail_beyond_wave`).
    """
    raw = _numeric_checks(ctx, name, r, c)
    if any(f.check in ("stuck_values", "unit_change", "schema_change") for f in raw):
        return raw
    top_c, value = _top_share_sorted(sorted_values(c[np.isfinite(c)], 0))
    if top_c >= 0.95 and _spell_held_before(ctx, name, value):
        return raw  # a spell at one value has no wave to take out (`_spell_held_before`)
    # a distribution's comparison needs no million rows a window: time-ordered stride samples
    kr, kc = max(1, r.shape[0] // CYCLE_SAMPLE), max(1, c.shape[0] // CYCLE_SAMPLE)
    r_s, c_s = r[::kr], c[::kc]
    r_ts, c_ts, onset = clock
    # an input that moves across the onset no more than between its own earlier stretches has no
    # step there to keep: the wave is fitted through the onset (`phase.steps_at_onset`)
    adjacent = float(c_ts[0]) - float(r_ts[-1]) < HOUR_S
    step = not adjacent or steps_at_onset(r_s, c_s, r_ts[::kr], c_ts[::kc])
    flat = without_daily_wave(r_s, r_ts[::kr], c_s, c_ts[::kc], onset, step=step)
    if flat is None:
        return raw
    # the reference's own hours, wave taken out, tell how far the input wanders (`phase.hour_blocks`)
    r_ts_s = r_ts[::kr]
    own = hour_blocks(r_ts_s, onset, float(c_ts[-1])) or reference_blocks(r_ts_s, onset, float(c_ts[-1]), False)
    beyond = [f for f in _numeric_checks(ctx, name, flat[0], flat[1], [flat[0][w] for w in own]) if f.check == "drift"]
    if beyond and _a_days_weather(ctx, name, (r_s, r_ts_s), (c_s, c_ts[::kc]), onset, step, own):
        beyond = []  # the window's level moved as a day's weather moves it, and nothing else (`_a_days_weather`)
    raw_ks = max((float(f.details["ks"]) for f in raw if f.check == "drift"), default=0.0)
    if float(max(r_ts[-1], c_ts[-1]) - min(r_ts[0], c_ts[0])) < WAVE_SPAN and any(
        float(f.details["ks"]) > raw_ks for f in beyond
    ):
        # a line and a bend that move the input further from its reference than it was are no
        # wave of the few hours held (a 12-hour log's evening peak of demand: KS 0.81 once 'taken out')
        return raw
    for f in beyond:
        d = f.details
        d["beyond_daily_cycle"] = True
        d["reference_quartiles"], d["current_quartiles"] = _quartiles(r_s), _quartiles(c_s)
        f.evidence = (
            f"Feature '{name}' drifted beyond the log's own daily cycle (the trend and the daily wave taken out)"
            f": KS {d['ks']:.3f}, PSI {d['psi']:.3f}; median {d['reference_quartiles'][1]:.4g} -> "
            f"{d['current_quartiles'][1]:.4g} (influence on predictions {d['influence']:.2f})."
        )
    kept = [f for f in raw if f.check not in WAVE_CHECKS] + beyond
    moved = _tail_beyond_wave(ctx, name, flat) if tail else None
    return kept if moved is None else [*kept, moved]


def _tail_beyond_wave(ctx: Context, name: str, flat: tuple[np.ndarray, np.ndarray]) -> Finding | None:
    """Rows of the window outside the reference's range with the daily wave and the days' level taken out.

    A wave, the weather's step at midnight or a warmer day move the whole window: its median goes
    with them, and the reference's wave-free range stretched by that move (on the side it moved
    to) holds the window again. A fault on some of the rows (a fifth of a temperature's rows moved
    by four standard deviations) leaves the median nearly where it was and those rows far outside.
    The distribution test on the wave-free values reads such a window as no more than the input's
    own swings (an earlier hour block of a day-and-a-half log swung by KS 0.66), and the share out
    of range as logged is the wave's. The range is stretched, never shifted: a bounded input's
    floor stays (a bundled set's exact zeros fell below a range shifted up with the median,
    12.7% of a healthy log's rows), and widened by `TAIL_MARGIN` of its span (a bundled set's
    rows drawn from a small pool in another mix of hours passed the extremes by a little, 6.4%).
    Asked only when a move a reference file found is judged again on the log's own rows
    (`drift_before_onset`): a fault the file found stays found. On its own, without a file, such a
    share alarmed on healthy bundled-set logs whose rows are drawn in another mix of hours (13.6% of
    a breast-cancer log's mean radius, labels present and the model as good): it keeps a
    finding, it makes none.
    """
    fr, fc = flat
    ref_flat, cur_flat = fr[np.isfinite(fr)], fc[np.isfinite(fc)]
    n1, n2 = ref_flat.shape[0], cur_flat.shape[0]
    if n1 < MIN_VALUES or n2 < MIN_VALUES:
        return None
    moved = float(np.median(cur_flat) - np.median(ref_flat))
    low, high = float(ref_flat.min()), float(ref_flat.max())
    margin = TAIL_MARGIN * (high - low)  # a sample's extremes are no fence: rows just past them are chance
    lo, hi = low + min(moved, 0.0) - margin, high + max(moved, 0.0) + margin
    share = float(((cur_flat < lo) | (cur_flat > hi)).mean())
    excess = share - 2.0 / (n1 + 1)
    if excess < TAIL_SHARE:
        return None
    return Finding(
        "data",
        "out_of_range",
        name,
        min(1.0, excess / 0.4) * _weight(ctx, name),
        f"{_pct(share)} of '{name}' values fall outside the reference range with the log's own daily cycle "
        f"taken out, and beyond the window's move of level ({moved:+.4g}).",
        {"out_of_range_share": share, "beyond_daily_cycle": True, "level_move": moved,
         "influence": ctx.influence.get(name, 0.0)},
    )


TAIL_MARGIN = 0.1  # of the reference's wave-free span: a fifth of the rows moved by 4 sd lands far beyond it
TAIL_SHARE = 0.05  # as `out_of_range`'s share beyond the two extremes a sample's own range holds by chance


WEATHER_DAY_SHARE = 0.5  # a day's weather moves a daily-cycle input's level by at most this share of its daily swing


def _a_days_weather(
    ctx: Context,
    name: str,
    ref: tuple[np.ndarray, np.ndarray],
    cur: tuple[np.ndarray, np.ndarray],
    onset: float,
    step: bool,
    own: list[slice],
) -> bool:
    """Whether a reference of less than a day saw the window's level move as far as a day's weather moves it.

    A weather input joined per local day (a day's forecast, a station's daily level) steps at the
    service's local midnight, by a degree or two from one day to the next. A reference of less
    than a day holds no earlier day to measure that by (`_weather_shift`, `_log_wanders` need
    days or blocks of them), the onset scan dates the log's strongest step at that midnight, and
    with the daily wave taken out the noise about the level is a few tenths of a degree: the
    day's step read as a drift (KS 0.7-0.9 'outdoor_temp drifted beyond the log's own daily
    cycle', median 19.1 -> 18.2, on healthy 20-48-hour logs). What is left is a prior on how far
    weather moves in a day, on the input's own scale: a day's level changes by less than half
    its daily swing (day-to-day changes of a day's mean temperature, a few degrees, against a
    day's swing of ten; the swing is the fitted wave's peak-to-peak over the hours the log holds,
    `phase.daily_wave_fit`). The window's move is that day's weather when the onset is a local
    midnight of the log's own clock (an hour-of-day input names its zone,
    `clock_features.log_utc_offset`; within `calendar_days.MIDNIGHT_S`), the wave-free level shifted there by
    no more than `WEATHER_DAY_SHARE` of the swing and, re-centred on the reference's level,
    nothing drifts: every row moved together. A sensor's offset beyond that share (8 degrees on
    a swing of 8), one that starts at any other minute, and a fifth of the rows moved (left once
    re-centred) stay; below half a day of log the swing is the line and bend's over the hours
    held (the part of the day's wave the log saw: a 6-hour evening's fall of 8 degrees, against
    which a midnight's step of 1.4 read as 'outdoor_temp drifted beyond the log's own daily
    cycle'), and with a day or more of reference the reference's days are the measure. A feed
    that moves by less than half the swing from a midnight, with no earlier day in the
    reference, is let go: the log holds nothing that tells it from the next day's weather.
    """
    r_s, r_ts = ref
    c_s, c_ts = cur
    if float(r_ts[-1]) - float(r_ts[0]) >= DAY_S:
        return False
    offset = ctx.log_utc_offset()
    if offset is None:
        return False  # no local midnight to go by
    if not at_local_midnight(ctx.onset, offset):
        return False  # the onset away from a midnight: no day turned over there
    fitted = daily_wave_fit(r_s, r_ts, c_s, c_ts, onset, step=step)
    if fitted is None or not math.isfinite(fitted[2]):
        return False
    fr, fc, swing = fitted
    shift = float(np.nanmedian(fc)) - float(np.nanmedian(fr))
    if not abs(shift) <= WEATHER_DAY_SHARE * swing:
        return False
    return not any(f.check == "drift" for f in _numeric_checks(ctx, name, fr, fc - shift, [fr[w] for w in own]))


def _quartiles(v: np.ndarray) -> list[float]:
    s = sorted_values(v[np.isfinite(v)], 0)
    return _sorted_quantiles(s, np.array([0.25, 0.5, 0.75])).tolist() if s.size else [math.nan] * 3


UNSEEN_MAJOR = 0.2  # this share of rows with never-seen values is a broken input, used or not


def _unseen_weight(
    ctx: Context, name: str, unseen: np.ndarray, codes: np.ndarray, share: float, details: dict[str, object]
) -> tuple[float, str]:
    """How much never-seen categories matter, and what the labels say about their rows.

    A model cannot have learned a value it never saw, so a large share of such rows is a data
    fault even on a feature whose reference influence looks small (its categories may simply
    have been uninformative before). The labels can clear it only on a column the model does not
    read: when the rows with new values are labelled and do no worse than the others, only the
    feature's influence counts.
    """
    rows_new = np.zeros(codes.shape[0], dtype=bool)
    present = codes >= 0
    rows_new[present] = unseen[codes[present]]
    return _new_value_weight(ctx, name, rows_new, share, details)


def _new_value_weight(
    ctx: Context, name: str, rows_new: np.ndarray, share: float, details: dict[str, object]
) -> tuple[float, str]:
    """Weight of a finding about current rows carrying values the reference never had.

    The rows' own loss is compared with the other current rows (same period, same traffic),
    else with the reference's. A reference without predictions (training data from another
    period) has no loss at all; that alone must not leave the labels unread: a campaign code
    in 60% of the rows of a column the model ignores, with those rows doing as well as the
    rest, was a data verdict at 0.4 on such a reference.
    """
    weight = _weight(ctx, name)
    used = ctx.influence.get(name, 0.0) >= UNUSED_INFLUENCE
    loss_new = LossStats.of(ctx.cur_loss[rows_new])
    loss_old = LossStats.of(ctx.cur_loss[~rows_new])
    loss_ref = LossStats.of(ctx.ref_loss)
    text = ""
    harmless = False
    base = loss_old if loss_old.n >= MIN_LABELLED else loss_ref
    if loss_new.n >= MIN_LABELLED and base.n >= MIN_LABELLED:
        z = loss_new.z_worse(base)
        details.update(loss_unseen_rows=loss_new.mean, loss_other_rows=base.mean, loss_z=z)
        text = f" Their {loss_name(ctx.task)} is {loss_new.mean:.4g} against {base.mean:.4g} on the other rows."
        # a column the model does not read cannot hurt through its new values: unless they are
        # significantly worse (the bar harm is held to) they are harmless (a campaign code in an
        # unused column, worse by chance at z 2.5, was a data verdict at 0.4). A used column's
        # new values are harmless only when they clearly do no worse.
        harmless = z < (3.0 if not used else 2.0)
        if z >= 3.0 and relative_increase(loss_new, base) >= 0.1:
            weight = max(weight, 0.6)
    # a fifth of the rows of a column the model reads carrying values it never learned is a broken
    # input whatever the labels say so far (the target counts it a fault: 20% of a used
    # feature's rows moved); the labels clear only a column the model does not read
    if share >= UNSEEN_MAJOR and (used or not harmless):
        weight = max(weight, STRUCTURAL_FLOOR)
    return weight, text


def _schema(ctx: Context, name: str, change: str, what: str) -> Finding:
    w = _weight(ctx, name, structural=True)
    return Finding(
        "data",
        "schema_change",
        name,
        1.0 * w,
        f"Feature '{name}': {what} since the onset; the model no longer gets usable values.",
        {"change": change, "influence": ctx.influence.get(name, 0.0)},
    )


def _invalid_values(ctx: Context, name: str) -> list[Finding]:
    """Rows whose raw value did not fit the column's type (mixed types, e.g. '12 mm' in numbers)."""
    ref_bad = ctx.reference.invalid.get(name)
    cur_bad = ctx.current.invalid.get(name)
    n_ref = max(len(ctx.reference), 1)
    n_cur = max(len(ctx.current), 1)
    sr = float(ref_bad.sum()) / n_ref if ref_bad is not None else 0.0
    sc = float(cur_bad.sum()) / n_cur if cur_bad is not None else 0.0
    if sc == 0.0 and sr == 0.0:
        return []
    if sc - sr >= 0.05:
        w = _weight(ctx, name, structural=True)
        return [
            Finding(
                "data",
                "schema_change",
                name,
                min(1.0, (sc - sr) / 0.3) * w,
                f"Feature '{name}' has {_pct(sc)} values of the wrong type in the current window "
                f"(reference {_pct(sr)}); they are treated as missing.",
                {"change": "mixed_types", "invalid_share_reference": sr, "invalid_share_current": sc},
            )
        ]
    return [
        Finding(
            "data",
            "input_quality",
            name,
            0.02,
            f"Feature '{name}' mixes types: {_pct(max(sr, sc))} of values are not numbers and were ignored.",
            {"invalid_share_reference": sr, "invalid_share_current": sc},
        )
    ]


def _missing(ctx: Context, name: str, mr: float, mc: float, n_ref: int, n_cur: int) -> list[Finding]:
    if mc >= 0.98 and mr < 0.5:
        return [_schema(ctx, name, "emptied", f"the column became empty ({_pct(mc)} missing, reference {_pct(mr)})")]
    if mr >= 0.98 and mc < 0.5:
        return [
            Finding(
                "data",
                "schema_change",
                name,
                0.05,
                f"Feature '{name}' was empty in the reference and now has values.",
                {"change": "new_column"},
            )
        ]
    if n_ref == 0 and n_cur == 0:
        return []
    if mr >= 0.999 and mc >= 0.999:
        return [
            Finding(
                "data",
                "input_quality",
                name,
                0.01,
                f"Feature '{name}' is entirely missing (all NaN) in both windows; nothing to compare.",
                {"missing_reference": mr, "missing_current": mc},
            )
        ]
    delta = mc - mr
    se = two_proportion_se(mr, n_ref, mc, n_cur)
    if delta >= 0.03 and delta / se >= 4.0:
        mag = min(1.0, delta / 0.2)
        return [
            Finding(
                "data",
                "missing_rate",
                name,
                mag * _weight(ctx, name, structural=True),
                f"Feature '{name}' is missing in {_pct(mc)} of rows since the onset (reference {_pct(mr)}).",
                {"missing_reference": mr, "missing_current": mc, "influence": ctx.influence.get(name, 0.0)},
            )
        ]
    return []


def _top_share_sorted(s: np.ndarray) -> tuple[float, float]:
    """Share of the median value of a sorted array, and that value.

    A value held by more than half the rows is necessarily the median, so this equals the top
    share whenever the top share exceeds 0.5 (all the stuck check needs), in two binary searches.
    """
    if s.shape[0] == 0:
        return 0.0, float("nan")
    med = s[s.shape[0] // 2]
    count = int(np.searchsorted(s, med, side="right") - np.searchsorted(s, med, side="left"))
    return count / s.shape[0], float(med)


SPELL_SHARE = 0.8  # a spell in the reference this share of the window's span long is the input's own persistence
SPELL_REACH = 3.0  # a resting spell may last this many times the longest one the log showed before
MIN_SPELL_ROWS = 30  # rows a resting spell holds at least (and more than a run of chance: `_rest_spells`)
MIN_REST_SHARE = 0.2  # a resting value is the reference's commonest, held by this share of its rows ...
MIN_IN_SPELLS = 0.5  # ... this share of them in spells
REST_PROBE = 20_000  # rows of a stride sample the commonest value is read from


def _rest_spells(ts: np.ndarray, at_rest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Durations and row counts of the stretches where `at_rest` holds in every row, longer than chance.

    Rows at a value drawn independently of time come in runs of about log(n) / log(1/p) rows at
    most (p its share); a dry spell holds every row of hours. Only runs of `MIN_SPELL_ROWS` rows and
    twice the longest chance run count: a pixel that is 0 in 60% of digits, rows in any order, has none.
    """
    n = at_rest.shape[0]
    p = float(at_rest.mean()) if n else 0.0
    if n < 2 or not 0.0 < p < 1.0:
        return np.empty(0), np.empty(0)
    chance = math.log(n) / -math.log(p)
    fence_idx = np.concatenate(([-1], np.flatnonzero(~at_rest), [n]))
    rows = np.diff(fence_idx) - 1
    fence_ts = np.concatenate(([ts[0]], ts[fence_idx[1:-1]], [ts[-1]]))
    long = rows >= max(MIN_SPELL_ROWS, 2.0 * chance)
    return np.diff(fence_ts)[long], rows[long]


def _resting_value(ctx: Context, name: str) -> float | None:
    """The value an intermittent input rests at between its episodes (rain's 0 between showers).

    The reference's commonest value, held by `MIN_REST_SHARE` of its rows, most of them in spells
    (`_rest_spells`): the input sits there for hours, then leaves it for an episode. None for an
    input whose commonest value comes row by row (a count, a pixel, a flag drawn per request).
    """
    col = ctx.reference.features.get(name)
    ts = ctx.reference.timestamp
    if col is None or isinstance(col, Categorical) or ts.shape[0] != col.shape[0] or ts.shape[0] < 2 * MIN_SPELL_ROWS:
        return None
    v = np.asarray(col, dtype=np.float64)
    probe = v[:: max(1, v.shape[0] // REST_PROBE)]
    probe = probe[np.isfinite(probe)]
    if probe.size < MIN_SPELL_ROWS:
        return None
    values, counts = np.unique(probe, return_counts=True)
    top = int(np.argmax(counts))
    if counts[top] < MIN_REST_SHARE * probe.size:
        return None
    rest = float(values[top])
    at_rest = v == rest
    _, rows = _rest_spells(ts, at_rest)
    return rest if float(rows.sum()) >= MIN_IN_SPELLS * float(at_rest.sum()) else None


def _longest_rest_spell(ctx: Context, name: str, value: float) -> float:
    """The longest spell at `value` (`_rest_spells`) in the reference and in the log before the onset."""
    longest = 0.0
    for feats, ts in ((ctx.reference.features, ctx.reference.timestamp), (ctx.log.features, ctx.log.timestamp)):
        col = feats.get(name)
        if col is None or isinstance(col, Categorical) or ts.shape[0] != col.shape[0]:
            continue
        head = int(np.searchsorted(ts, ctx.onset, side="left"))
        durations, _ = _rest_spells(ts[:head], np.asarray(col[:head], dtype=np.float64) == value)
        longest = max(longest, float(durations.max()) if durations.size else 0.0)
    return longest


def _spell_held_before(ctx: Context, name: str, value: float) -> bool:
    """Whether the reference held `value` in every row for a stretch as long as the window.

    Rain is 0 through a dry day, a workday flag 1 through the week: a window of a dry evening or
    of a weekday is 'stuck at 0' against a reference of showers, 'stuck at 1' against one that
    held a weekend (healthy bike logs read as 'rain_mm is stuck at 0 in 100% of rows'). A column
    that froze at a value stays in it longer than it ever did before; a value the input held for
    as long before is its own persistence: its distribution in the window is the spell's, no drift
    either (the same dry evening read as 'rain_mm drifted', PSI 0.9-2.0).
    """
    col = ctx.reference.features.get(name)
    ts = ctx.reference.timestamp
    if col is None or isinstance(col, Categorical) or ts.size < 2 or ctx.current.timestamp.size == 0:
        return False
    span = float(ctx.current.timestamp[-1]) - ctx.onset
    if span <= 0:
        return False
    other = ts[~(np.asarray(col, dtype=np.float64) == value)]
    fences = np.sort(np.concatenate(([ts.min()], other, [ts.max()])))
    if float(np.diff(fences).max()) >= SPELL_SHARE * span:
        return True
    # an input resting between episodes (`_resting_value`) rests as long as its spells last: a
    # dry day after a 4-hour dry spell and two showers is the weather; a gauge dead for days longer
    # than any spell the log showed is not
    return _resting_value(ctx, name) == value and SPELL_REACH * _longest_rest_spell(ctx, name, value) >= span


def _episode_checks(ctx: Context, name: str, r: np.ndarray, c: np.ndarray, rest: float) -> list[Finding] | None:
    """An intermittent input (`_resting_value`): its episodes' values are judged, not their share.

    Drizzle is 0 between showers and a shower lasts hours: a window's share of dry rows is the
    weather of those hours (a reference of showers against a dry evening: 'rain_mm drifted, KS
    0.55-0.88' on healthy bike and ride logs, wave taken out or not). What a fault changes is
    what the input reads when it is not at rest: a unit, an offset, a corruption, a cap, a gauge
    frozen at a wet reading move the episodes' values (or put values at rest rows), so drift, range
    and a stuck value are judged on the rows away from the resting value too (a gauge stuck at
    0.9 mm against a reference 75% dry is no 'stuck' on the values as logged: their commonest
    value held more than 70% before); a window wholly at rest is judged by the stuck check
    (`_spell_held_before`).
    Everything else (missing values, a placeholder, a grid) is judged on the values as logged. None
    (the ordinary checks judge the input) when a stuck value, a unit or an emptied column shows on
    the values as logged, or when one side holds no episode to compare.
    """
    raw = _numeric_checks(ctx, name, r, c)
    if any(f.check in ("stuck_values", "unit_change", "schema_change") for f in raw):
        return None
    # the rows at rest left out as empty: row for row aligned with the window (its losses, its clock)
    away_r, away_c = np.where(r == rest, np.nan, r), np.where(c == rest, np.nan, c)
    if int(np.isfinite(away_r).sum()) < MIN_VALUES or int(np.isfinite(away_c).sum()) < MIN_VALUES:
        return None  # no episode on one side: nothing to compare them by
    away = _numeric_checks(ctx, name, away_r, away_c)
    if any(f.check == "schema_change" for f in away):
        return None  # episodes in under 2% of one side's rows: too few to compare
    episodes = [f for f in away if f.check in (*WAVE_CHECKS, "unit_change", "stuck_values")]
    for f in episodes:
        f.details["resting_value"] = rest
        f.evidence = f.evidence.replace(f"'{name}'", f"'{name}' (its values away from its resting {rest:.4g})", 1)
    return [f for f in raw if f.check not in WAVE_CHECKS] + episodes


def _numeric_checks(
    ctx: Context, name: str, r: np.ndarray, c: np.ndarray, earlier: list[np.ndarray] | None = None
) -> list[Finding]:
    out: list[Finding] = []
    r_nan = np.isnan(r)
    c_nan = np.isnan(c)
    n_r_nan, n_c_nan = int(r_nan.sum()), int(c_nan.sum())
    mr = n_r_nan / max(r.shape[0], 1)
    mc = n_c_nan / max(c.shape[0], 1)
    out.extend(_missing(ctx, name, mr, mc, r.shape[0], c.shape[0]))
    if any(f.check == "schema_change" for f in out):
        return out
    # NaNs sort last and are sliced off; whole-number columns are counted instead (`sorted_values`)
    rs = sorted_values(r, n_r_nan)
    cs = sorted_values(c, n_c_nan)
    if rs.shape[0] < MIN_VALUES or cs.shape[0] < MIN_VALUES:
        return out
    n1, n2 = rs.shape[0], cs.shape[0]
    infl = ctx.influence.get(name, 0.0)
    w = _weight(ctx, name)
    d, d_bound = ks_statistic_bounded(rs, cs)
    edges = quantile_edges(rs, 10)
    ref_counts = bin_counts_sorted(rs, edges)  # every PSI below compares with the reference's bins
    psi_value = psi_from_counts(ref_counts, bin_counts_sorted(cs, edges))
    crit = 1.95 * math.sqrt((n1 + n2) / (n1 * n2))  # KS critical value at alpha = 0.001
    q = np.array([0.25, 0.5, 0.75])
    rq = _sorted_quantiles(rs, q)
    cq = _sorted_quantiles(cs, q)
    details = {
        "ks": d,
        "psi": psi_value,
        "ks_critical": crit,
        "ks_rows": [n1, n2],
        "influence": infl,
        "reference_quartiles": rq.tolist(),
        "current_quartiles": cq.tolist(),
        "missing_reference": mr,
        "missing_current": mc,
    }
    # stuck: one value dominates now but did not before
    top_r, _ = _top_share_sorted(rs)
    top_c, value = _top_share_sorted(cs)
    if top_c >= 0.95 and _spell_held_before(ctx, name, value):
        return out  # a dry evening, a weekday: the input sits in a spell it held as long before
    if top_c >= 0.95 and top_r <= 0.7 and top_c - top_r >= 0.25:
        out.append(
            Finding(
                "data",
                "stuck_values",
                name,
                1.0 * _weight(ctx, name, structural=True),
                f"Feature '{name}' is stuck at {value:.6g} in {_pct(top_c)} of rows since the onset "
                f"(the most common value had {_pct(top_r)} before).",
                {**details, "stuck_value": value, "top_share_reference": top_r, "top_share_current": top_c},
            )
        )
        return out
    placeholder = _placeholder(ctx, name, rs, cs, c, r.shape[0], details)
    if placeholder is not None:
        out.append(placeholder)
    # unit / scale change: same shape, scaled by a large factor
    scale_r = float(np.median(np.abs(rs[:: max(1, n1 // 20000)])))
    scale_c = float(np.median(np.abs(cs[:: max(1, n2 // 20000)])))
    if scale_r > 0 and scale_c > 0:
        factor = scale_c / scale_r
        if abs(math.log10(factor)) >= 0.7:
            sub_r = rs[:: max(1, n1 // 5000)]
            sub_c = cs[:: max(1, n2 // 5000)] / factor
            d_scaled = ks_statistic_sorted(sub_r, sub_c)
            if d_scaled < 0.2 and _quantiles_scaled_alike(rs, cs, factor):
                out.append(
                    Finding(
                        "data",
                        "unit_change",
                        name,
                        1.0 * _weight(ctx, name, structural=True),
                        f"Feature '{name}' is scaled by about x{_nice_factor(factor)} since the onset "
                        f"(median |x| {scale_r:.4g} -> {scale_c:.4g}) with an unchanged shape: a unit change.",
                        {**details, "factor": factor, "ks_after_rescaling": d_scaled},
                    )
                )
                return out
    out.extend(_value_grid(ctx, name, rs, cs, c))
    swing = _own_swing(rs, cs, edges, earlier or [], ref_counts)
    shift = _weather_shift(rq[1], cq[1], swing)
    if shift != 0.0:
        # the window's days sit higher or lower as the reference's own days do: judged without that,
        # when the shift is all that moved it (a two-level input, office hours' occupancy, moves by
        # its mix: re-centred it moved further, out of its range; a fifth of the rows moved up also
        # moves the median, and re-centred is still a drift: judged as logged, whole)
        centred = cs - shift
        d_centred = ks_statistic_bounded(rs, centred)[0]
        if d_centred < min(d, max(crit, 0.1)):
            cs, d = centred, d_centred
            psi_value = psi_from_counts(ref_counts, bin_counts_sorted(cs, edges))
            details.update(ks=d, psi=psi_value, weather_shift=shift)
        else:
            shift = 0.0
    # (asked also when a shift among the earlier days' levels was tried and left a drift: the
    # reference's days explained too little, and the whole log may still show the wander)
    if shift == 0.0 and d >= max(crit, 0.1) and psi_value >= 0.1 and (
        _log_wanders(ctx, name) or _moves_by_local_days(ctx, name)
    ):
        return out  # the log's own level wanders as far, or by its days, and nothing else moved
    # out-of-range share
    lo, hi = rs[0], rs[-1]
    below = int(np.searchsorted(cs, lo, side="left"))
    above = n2 - int(np.searchsorted(cs, hi, side="right"))
    oor = (below + above) / n2
    expected_oor = 2.0 / (n1 + 1)
    if oor - expected_oor >= 0.05 and not _exits_with_the_clock(ctx, c, lo, hi):
        mag = min(1.0, (oor - expected_oor) / 0.4)
        out.append(
            Finding(
                "data",
                "out_of_range",
                name,
                mag * w,
                f"{_pct(oor)} of '{name}' values fall outside the reference range [{lo:.4g}, {hi:.4g}].",
                {**details, "out_of_range_share": oor},
            )
        )
    # distribution drift, beyond what earlier windows of the same hours already swung by
    own = swing[:2] if swing is not None else None
    seen = False
    # a slight move (below) must stand out of the input's own wander: no earlier window as far from
    # the reference, none as near the current window
    slight = d >= SLIGHT_KS_CRITICALS * crit and (
        swing is None or (SWING_MARGIN * swing[0] < d and swing[2] >= SLIGHT_KS_CRITICALS * crit)
    )
    if swing is not None:
        details["ks_earlier_windows"], details["psi_earlier_windows"] = swing[0], swing[1]
        details["ks_nearest_earlier_window"], details["psi_nearest_earlier_window"] = swing[2], swing[3]
        d = d - max(0.0, SWING_MARGIN * swing[0] - max(crit, 0.1))
        psi_value = psi_value - max(0.0, SWING_MARGIN * swing[1] - 0.1)
        seen = swing[2] < max(crit, 0.1) and swing[3] < 0.1
    if d >= max(crit, 0.1) and psi_value >= 0.1 and not seen:
        mag = max(min(1.0, (d - 0.05) / 0.35), min(1.0, (psi_value - 0.05) / 0.5))
        # what the verdict weighed, for a second judgement at the windows' distinct inputs (`_counted_in_inputs`)
        details["ks_judged"], details["score_unfloored"] = d, mag * w
        out.append(
            Finding(
                "data",
                "drift",
                name,
                _moved_score(ctx, name, mag * w, d, crit),
                f"Feature '{name}' drifted: KS {d:.3f}, PSI {psi_value:.3f}{_swing_words(own)}"
                f"{_shift_words(shift)}; median {rq[1]:.4g} -> {cq[1]:.4g} (influence on predictions {infl:.2f}).",
                details,
            )
        )
    elif slight and int(np.isfinite(ctx.cur_loss).sum()) >= MIN_LABELLED:
        out.append(
            Finding(
                "data",
                "drift",
                name,
                0.0,
                f"Feature '{name}' moved slightly but beyond chance: KS {d:.3f} (chance: {crit:.3f}), PSI "
                f"{psi_value:.3f}; median {rq[1]:.4g} -> {cq[1]:.4g} (influence on predictions {infl:.2f}).",
                {**details, "slight": True},
            )
        )
    return out


# A drift under the effect-size bar (KS 0.1) still names its input when the window's labels show
# its moved rows carry the performance drop (loss_carry raises it): a fifth of a broad input's rows
# moved by 1.5 sd is KS ~0.1 whatever the sample size, and doubled a price model's error while
# "concept drift" took the verdict. Scored 0 until then, so it never outweighs anything by itself.
SLIGHT_KS_CRITICALS = 1.5


def _swing_words(own: tuple[float, float] | None) -> str:
    return f" beyond earlier windows' own swings (KS {own[0]:.3f}, PSI {own[1]:.3f})" if own is not None else ""


def _shift_words(shift: float) -> str:
    return f" once its days' shift of {shift:+.4g} (inside earlier days' levels) is taken out" if shift else ""


SWING_SAMPLE = 50_000  # values of an earlier window or block its swing is read from
SWING_MARGIN = 1.5  # the largest of a few earlier swings understates the next one's size


def _weather_shift(ref_median: float, cur_median: float, swing: tuple[float, ...] | None) -> float:
    """The window's shift of level that earlier days of the input showed as much of (0 if none).

    Weather moves a whole day up or down: a window of colder days than the reference's read as a
    drift of a temperature the model reads (KS 0.2-0.5 on healthy logs of 3-14 days, labels
    withheld), though the reference's own days sat as far apart. KS and PSI measure overlap, which
    a narrow daily wave loses at a shift of two degrees; the level in the input's units is what
    days are compared by: when the window's median lies among the earlier days' (windows') medians,
    widened by half their range on each side (two or three days show less than the input's whole
    swing), the window is judged re-centred on the reference's median, so what is left is what the
    weather cannot explain (a fifth of the rows moved, a cap, a changed spread). A level beyond
    every earlier day's, a unit, an offset of a sensor stay whole. Without two earlier days (a log
    or a reference of a day or less, a file with no time) there are no days to compare: none
    taken out.
    """
    if swing is None or not (math.isfinite(ref_median) and math.isfinite(cur_median)):
        return 0.0
    lo, hi = swing[4], swing[5]
    spread = 0.5 * (hi - lo)
    return cur_median - ref_median if lo - spread <= cur_median <= hi + spread else 0.0


def _log_wanders(ctx: Context, name: str) -> bool:
    """Whether the window's move is the weather's, read on the whole log (`phase.wanders_through_onset`).

    The reference's days are the measure `_weather_shift` reads first; a reference of a day or
    two, or a file of other days, holds too few of them to know how far the weather wanders (the
    third day of a 3-day log sits beyond the first two days' levels, and the window's days mix
    levels no single shift re-centres). The whole log tells a wander from a break: its level
    steps between its own half days as much as across the onset, and with each half day's level
    taken out nothing is left that moved (a fifth of the rows moved, a changed spread stay a drift;
    an offset since the onset is a step beyond the log's own; a unit was judged before).
    """
    v = ctx.log.features.get(name)
    ts = ctx.log.timestamp
    if v is None or isinstance(v, Categorical) or ts.shape[0] != v.shape[0] or ts.shape[0] < 2:
        return False
    return wanders_through_onset(v, ts, ctx.onset, SWING_MARGIN)


def _local_day_offset(ctx: Context, with_reference: bool = False) -> float | None:
    """The UTC offset of the service's own days: an hour-of-day input's, else a day-name column's.

    `with_reference`: a log of one local day names a single day, which turns over nowhere in it;
    the reference's names beside the window's then say where the service's midnight is (a
    10-hour Sunday log against a training file of the week before).
    """
    offset = ctx.log_utc_offset()
    if offset is not None:
        return offset
    for name, col in ctx.log.features.items():
        if isinstance(col, Categorical) and col.categories.size <= 2 * 7 and col.codes.shape == ctx.log.timestamp.shape:
            offset = day_names_offset(col.categories, col.codes, ctx.log.timestamp)
            ref = ctx.reference.features.get(name)
            cur = ctx.current.features.get(name)
            if offset is None and with_reference and isinstance(ref, Categorical) and isinstance(cur, Categorical):
                codes_r, codes_c, cats = align_categorical(ref, cur)
                ts = np.concatenate([ctx.reference.timestamp, ctx.current.timestamp])
                if cats.size <= 2 * 7 and ts.shape[0] == codes_r.shape[0] + codes_c.shape[0]:
                    offset = day_names_offset(cats, np.concatenate([codes_r, codes_c]), ts)
            if offset is not None:
                return offset
    return None


def _moves_by_local_days(ctx: Context, name: str) -> bool:
    """Whether the window's move is the input's day-to-day level, turning over at the service's midnights.

    A weather input joined per local day (a day's forecast, a station's daily level) or a demand
    with a weekend's level steps at the local midnight; a sensor's offset steps at the minute it
    starts. A reference of a day or two shows one such step or none (`_weather_shift`,
    `_log_wanders` need more), and the step often falls away from the onset: at the next
    midnight inside the window (a 36-hour log's alert at 22:47, the day's step at 00:00: 'outdoor_temp
    drifted', median 8.8 -> 9.6), at the midnight before it (a rides log's Monday from 00:00, its
    alert at 01:42: 'demand drifted', median 27.9 -> 22.9), or in the closed night before a shop's
    opening ('temperature drifted', median 27.2 -> 29.1). The log tells where the input broke
    (`phase.day_levels`): with the daily wave taken out and each local day's level taken out too,
    nothing else moved (KS under the drift bar), no step at the onset inside its own day beyond
    what the same step at the log's other hours shows (the wave's own fit error), or beyond a
    median's noise; and the days' levels step by at most `WEATHER_DAY_SHARE` of the input's daily
    swing (`_a_days_weather`'s prior on how far a day's weather moves; across a closed weekend
    too, though a walk moves further in three days). An onset where no
    rows of one local day lie on both sides (a midnight, a closed night) has no own-day step to
    read: the prior alone decides, as for `_a_days_weather`, and an offset of less than half the
    swing that starts at a midnight is let go. An offset from any other minute, a fifth of the rows
    moved, an offset beyond half the swing stay found. Needs the service's day (an hour-of-day or a
    day-name input) and half a day of log.
    """
    v = ctx.log.features.get(name)
    ts = ctx.log.timestamp
    if v is None or isinstance(v, Categorical) or ts.shape[0] != v.shape[0] or ts.shape[0] < 2:
        return False
    offset = _local_day_offset(ctx)
    if offset is None:
        return False
    # a shop closed at night logs only its open hours: with no earlier day in a reference of less than
    # a day (one open day), the prior's scale is the whole day's swing (`whole_day_swing`); a reference
    # of days keeps the swing over the hours held, the stricter bar (a closed shop's two reference days
    # 0.2 degrees apart, then 6.2 degrees up since the alert: a level beyond every day it showed)
    r_ts = ctx.reference.timestamp
    closed = bool(r_ts.size) and float(r_ts[-1] - r_ts[0]) < DAY_S and closes_over_midnight(r_ts, ts, offset)
    lv = day_levels(v, ts, ctx.onset, offset, whole_day=closed)
    if lv is None or not lv.day_step <= WEATHER_DAY_SHARE * lv.swing:
        return False
    if not lv.left_ks < max(lv.left_crit, LEVEL_KS_BAR):
        return False  # something besides the days' level moved
    if math.isnan(lv.at_onset):
        # no rows of one local day on both sides of the onset: it must sit at the days' turnover,
        # or within `MIDNIGHT_S` of it (an onset dated ten seconds into the new day, after its
        # first few rows, is the midnight's step as `_a_days_weather` reads it)
        cut = int(np.searchsorted(ts, ctx.onset))
        if cut == 0 or cut == ts.shape[0]:
            return False
        day = np.floor((ts[[cut - 1, cut]] / HOUR_S + offset) / 24.0)
        return bool(day[0] != day[1]) or at_local_midnight(ctx.onset, offset)
    within = lv.within_day if math.isfinite(lv.within_day) else 0.0
    return lv.at_onset <= max(lv.noise, SWING_MARGIN * within)


def _own_swing(
    rs: np.ndarray, cs: np.ndarray, edges: np.ndarray, earlier: list[np.ndarray], ref_counts: np.ndarray
) -> tuple[float, float, float, float, float, float] | None:
    """The largest KS and PSI of earlier windows against the reference; the current window's nearest.

    Weather wanders for days: a log whose first week was 3.5 degrees warmer read as a drift of its
    last week (KS 0.4) that earlier weeks of the same log show as much of. Only the part of such a
    swing beyond the drift bar (an earlier window that would itself have been called a drift),
    taken `SWING_MARGIN` times (two or three earlier windows show less than the input's whole
    swing), comes off the current window's statistics; an input without such swings keeps them
    whole. The last two figures are the current window's KS and PSI against the earlier window
    nearest to it: a dry spell after rainy days is like the dry spell of the week before, no new
    distribution (a cap, a unit, a shift since the onset is like no earlier window). The fifth and
    sixth are the lowest and highest of the earlier windows' medians (`_weather_shift`).
    """
    ks, ps, near_ks, near_ps, levels = [], [], [], [], []
    cur_counts = bin_counts_sorted(cs, edges)
    for block in earlier:
        # a block's swing is a KS and a PSI: a time-ordered stride sample of it holds them within
        # ~0.01 (a day-long log's two 300,000-row hour blocks per column cost a second full sort)
        block = block[:: max(1, block.shape[0] // SWING_SAMPLE)]
        bs = sorted_values(block[np.isfinite(block)], 0)
        if bs.shape[0] < MIN_VALUES:
            return None
        b_counts = bin_counts_sorted(bs, edges)
        ks.append(ks_statistic_bounded(rs, bs)[0])
        ps.append(psi_from_counts(ref_counts, b_counts))
        near_ks.append(ks_statistic_bounded(bs, cs)[0])
        near_ps.append(psi_from_counts(b_counts, cur_counts))
        levels.append(float(_sorted_quantiles(bs, np.array([0.5]))[0]))
    if not ks:
        return None
    nearest = int(np.argmin(near_ks))
    return max(ks), max(ps), near_ks[nearest], near_ps[nearest], min(levels), max(levels)


def _value_grid(ctx: Context, name: str, rs: np.ndarray, cs: np.ndarray, c: np.ndarray) -> list[Finding]:
    """Rows moved off the reference's grid (rounded, truncated, remapped): weighed like never-seen values."""
    parts = grid_finding_parts(name, rs, cs, c)
    if parts is None:
        return []
    share, text, info, rows = parts
    info = {"influence": ctx.influence.get(name, 0.0), **info}
    weight, loss_text = _new_value_weight(ctx, name, rows(), share, info)
    return [Finding("data", "value_grid", name, min(1.0, share / 0.15) * weight, text + loss_text, info)]


PLACEHOLDER_SHARE = 0.1  # a never-seen value in this share of the current rows is a fill, not drift
PLACEHOLDER_SAMPLE = 20_000


def _placeholder(
    ctx: Context, name: str, rs: np.ndarray, cs: np.ndarray, c: np.ndarray, n_r: int, details: dict[str, object]
) -> Finding | None:
    """A value the reference (almost) never had now fills a large share of the rows.

    An upstream job that writes missing values as -1 or 0 (or a default) instead of leaving
    them empty keeps the column's type, most of its distribution and its missing rate (now
    lower): the model reads a number that means "unknown" as a real one. The drift and range
    checks see only part of it, weighted by an influence estimate that is rough for an input
    acting through a curve; below the stuck check's 95%, 34% of rain readings at -1 scored
    0.18 and the verdict was "none". The numeric twin of never-seen categories: the mode of
    the current window (run lengths on a stride sample of the sorted values; a value holding
    10% of the rows holds 10% of any stride sample) must be new (under 0.5% of the reference
    and 20x more common now), and the labels weigh it as they weigh new categories.

    Both shares are read on the rows compared (`n_r`: the reference's rows this check was given,
    missing ones included). When those are the reference's rows at the window's hours of day (a
    validation file of three days against a 16-hour log's night), a value counted among them but
    divided by every row of the file read 10-20 times rarer than it was: an office's night-time
    occupancy at 0.03, 6.6% of the file's rows at those hours, read as 0.5% of the file and so as
    a placeholder filling 10.4% of the window (issue-23d).
    """
    n2 = cs.shape[0]
    sample = cs[:: max(1, n2 // PLACEHOLDER_SAMPLE)]
    if sample.shape[0] < MIN_VALUES or rs.shape[0] < MIN_VALUES:
        return None
    starts = np.concatenate([[0], np.flatnonzero(np.diff(sample)) + 1])
    runs = np.diff(np.concatenate([starts, [sample.shape[0]]]))
    n_all_c = max(c.shape[0], 1)
    n_all_r = max(n_r, 1)
    lo, hi = rs[0], rs[-1]
    outside = int(np.searchsorted(cs, lo, side="left")) + n2 - int(np.searchsorted(cs, hi, side="right"))
    found: tuple[float, float, float] | None = None
    for i in np.flatnonzero(runs >= PLACEHOLDER_SHARE * sample.shape[0]):
        value = float(sample[starts[i]])
        count_c = int(np.searchsorted(cs, value, side="right") - np.searchsorted(cs, value, side="left"))
        count_r = int(np.searchsorted(rs, value, side="right") - np.searchsorted(rs, value, side="left"))
        share_c, share_r = count_c / n_all_c, count_r / n_all_r
        if share_c < PLACEHOLDER_SHARE or share_r >= 0.005 or share_r * 20 >= share_c:
            continue
        # one new value on an otherwise unmoved column: when the rest left the reference's range
        # too (hours of the day in a later window), the whole column shifted
        rest_outside = (outside - (count_c if value < lo or value > hi else 0)) / max(n2 - count_c, 1)
        if rest_outside > 0.05:
            continue
        if found is None or share_c > found[1]:
            found = (value, share_c, share_r)
    if found is None:
        return None
    value, share_c, share_r = found
    info = {**details, "placeholder_value": value, "share_reference": share_r, "share_current": share_c}
    weight, loss_text = _new_value_weight(ctx, name, c == value, share_c, info)
    return Finding(
        "data",
        "stuck_values",
        name,
        min(1.0, share_c / 0.15) * weight,
        f"Feature '{name}' holds {value:.6g} in {_pct(share_c)} of rows since the onset, a value the reference "
        f"had in {_pct(share_r)}: a placeholder or default fill (missing values written as a number?).{loss_text}",
        info,
    )


def _sorted_quantiles(s: np.ndarray, q: np.ndarray) -> np.ndarray:
    pos = q * (s.shape[0] - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, s.shape[0] - 1)
    frac = pos - lo
    return interpolate_sorted(s, lo, hi, frac)


UNIT_QUANTILES = np.array([0.25, 0.5, 0.75, 0.9])
UNIT_SPREAD = 2.5  # a quantile's own factor may differ from the median's by this much at most


def _quantiles_scaled_alike(rs: np.ndarray, cs: np.ndarray, factor: float) -> bool:
    """Whether the quartiles and the 90th percentile of |x| all moved by about `factor`.

    A unit multiplies every value. Rain that fell for a day after dry ones moves the median of
    |x| twentyfold (0.05 -> 1 mm) while its upper percentiles move threefold: a wetter window,
    read as a unit change on a near-zero median before. Quantiles that are zero are left out.
    """
    qr = np.abs(_sorted_quantiles(np.sort(np.abs(rs[:: max(1, rs.shape[0] // 20000)])), UNIT_QUANTILES))
    qc = np.abs(_sorted_quantiles(np.sort(np.abs(cs[:: max(1, cs.shape[0] // 20000)])), UNIT_QUANTILES))
    ok = (qr > 0) & (qc > 0)
    if not ok.any():
        return True
    own = np.abs(np.log10(qc[ok] / qr[ok]) - math.log10(factor))
    return bool((own <= math.log10(UNIT_SPREAD)).all())


def _nice_factor(f: float) -> str:
    return f"{f:.3g}" if f >= 1 else f"{f:.3g} (1/{1 / f:.3g})"


def _turns_with_the_calendar(ctx: Context, rc: np.ndarray, cc: np.ndarray, cats: np.ndarray) -> bool:
    """A day-name or date column whose window holds the days the window spans, and no fewer.

    Its values take turns with the calendar (`segment_traffic.follows_the_date`), so a window on a
    Wednesday holds a value a Monday-and-Tuesday reference never saw, and a five-hour window on a
    Saturday is 'stuck' at 'Sat': a healthy 5-day log read as '41% never-seen categories', a
    20-hour one as 'stuck at Sat'. Those are the calendar moving on. A date frozen by a stale
    pipeline is not: a window of three days holding one value stays a finding.
    """
    r_ts, c_ts = ctx.reference.timestamp, ctx.current.timestamp
    if c_ts.size == 0 or r_ts.size == 0:
        return False
    both_ts, both = np.concatenate([r_ts, c_ts]), np.concatenate([rc, cc])
    k = len(cats)
    if names_local_days(cats, both, both_ts, ctx.log_utc_offset(), ctx.onset):
        return True  # each row's local weekday, or one value per local day of the service's own clock
    days = int((float(c_ts[-1]) - float(c_ts[0])) // DAY_S)
    if int(np.unique(cc[cc >= 0]).size) < days:
        return False
    return follows_the_date(both_ts, both, k + 1)


def _exits_with_the_clock(ctx: Context, c: np.ndarray, lo: float, hi: float) -> bool:
    """Whether the window's rows outside [lo, hi] leave it at some hours of the day only, day after
    day (`range_exit.exits_follow_the_clock`): office hours' occupancy against a weekend's range."""
    ts = ctx.current.timestamp
    if c.shape[0] != ts.shape[0]:
        return False
    with np.errstate(invalid="ignore"):
        outside = (c < lo) | (c > hi)
    return exits_follow_the_clock(outside, ts)


CALENDAR_PROBE = 20_000  # rows of a stride sample that may already show too many values for a flag


def _calendar_flag(ctx: Context, r: np.ndarray, c: np.ndarray) -> bool:
    """A numeric input of a few whole values, one per local day and weekday (`follows_local_days`)."""
    r_ts, c_ts = ctx.reference.timestamp, ctx.current.timestamp
    if r.size == 0 or c.size == 0:
        return False
    n_head = 4 * MAX_CALENDAR_VALUES * 100
    head = np.concatenate([r[:n_head], c[: max(0, n_head - r.size)]])
    if not bool(np.all(np.isfinite(head) & (head == np.round(head)))):
        return False  # not a flag: leave it without the clock's search
    # a stride sample's distinct values are some of the column's: more than a flag holds there
    # settles it without sorting a million rows (the same answer, a 1M x 50 log's 0.5 s)
    step = max(1, (r.size + c.size) // CALENDAR_PROBE)
    probe = np.concatenate([r[::step], c[::step]])
    if np.unique(np.where(np.isfinite(probe), probe, np.inf)).size > MAX_CALENDAR_VALUES + 1:
        return False
    both = np.concatenate([r, c])
    values, codes = np.unique(np.where(np.isfinite(both), both, np.inf), return_inverse=True)
    if values.size > MAX_CALENDAR_VALUES + 1:
        return False
    codes = np.where(np.isinf(values[codes]), -1, codes)
    offset = ctx.log_utc_offset()
    return offset is not None and follows_local_days(codes, np.concatenate([r_ts, c_ts]), offset, ctx.onset,
                                                     int(values.size))


def _categorical_checks(ctx: Context, name: str, r: Categorical, c: Categorical) -> list[Finding]:
    out: list[Finding] = []
    rc, cc, cats = align_categorical(r, c)
    k = len(cats)
    ref_counts = np.bincount(rc[rc >= 0], minlength=k)
    cur_counts = np.bincount(cc[cc >= 0], minlength=k)
    n_r_missing = int(rc.shape[0] - ref_counts.sum())
    n_c_missing = int(cc.shape[0] - cur_counts.sum())
    mr = n_r_missing / max(rc.shape[0], 1)
    mc = n_c_missing / max(cc.shape[0], 1)
    out.extend(_missing(ctx, name, mr, mc, rc.shape[0], cc.shape[0]))
    if any(f.check == "schema_change" for f in out):
        return out
    n_ref, n_cur = int(ref_counts.sum()), int(cur_counts.sum())
    if n_ref < MIN_VALUES or n_cur < MIN_VALUES:
        return out
    if _turns_with_the_calendar(ctx, rc, cc, cats):
        return out
    infl = ctx.influence.get(name, 0.0)
    distinct_ref = int(np.count_nonzero(ref_counts))
    if distinct_ref > HIGH_CARDINALITY and n_ref < MIN_ROWS_PER_CATEGORY * distinct_ref:
        out.append(
            Finding(
                "data",
                "high_cardinality",
                name,
                0.02,
                f"Feature '{name}' has {distinct_ref} distinct values in the reference: treated as an identifier, "
                "so drift and unseen-value checks are skipped for it.",
                {"distinct_reference": distinct_ref},
            )
        )
        return out
    # new categories: absent from the reference, or so rare there (a few rows of a rollout that
    # began just before the onset) that they are 20x more common now
    ref_share = ref_counts / n_ref
    cur_share = cur_counts / n_cur
    unseen = (cur_counts > 0) & ((ref_counts == 0) | ((ref_share < 0.005) & (ref_share * 20 < cur_share)))
    unseen_share = float(cur_counts[unseen].sum()) / n_cur
    # a long-tail column sampled twice has categories one sample misses: the share of current rows
    # expected to fall on values a reference of this size never drew is its share of categories
    # seen once (Good–Turing). 400 merchants of Zipf popularity over an 11-hour reference left
    # 7.6% of a later window "never seen", a data verdict on a healthy input
    by_chance = float(np.count_nonzero(ref_counts == 1)) / n_ref
    excess = unseen_share - by_chance
    top_new = cats[unseen][np.argsort(-cur_counts[unseen])][:3].tolist() if unseen.any() else []
    details = {
        "influence": infl,
        "unseen_share": unseen_share,
        "unseen_share_by_chance": by_chance,
        "unseen_examples": [str(v) for v in top_new],
        "missing_reference": mr,
        "missing_current": mc,
    }
    if excess >= 0.03:
        mag = min(1.0, excess / 0.15)
        weight, loss_text = _unseen_weight(ctx, name, unseen, cc, excess, details)
        out.append(
            Finding(
                "data",
                "unseen_categories",
                name,
                mag * weight,
                f"{_pct(unseen_share)} of '{name}' values since the onset are categories never seen in the reference "
                f"(e.g. {', '.join(repr(v) for v in top_new)}): the model has not learned them.{loss_text}",
                details,
            )
        )
    top_r = float(ref_counts.max()) / n_ref
    top_c = float(cur_counts.max()) / n_cur
    if top_c >= 0.95 and top_r <= 0.7 and top_c - top_r >= 0.25:
        value = str(cats[int(np.argmax(cur_counts))])
        out.append(
            Finding(
                "data",
                "stuck_values",
                name,
                1.0 * _weight(ctx, name, structural=True),
                f"Feature '{name}' is stuck at {value!r} in {_pct(top_c)} of rows (reference {_pct(top_r)}).",
                {**details, "stuck_value": value},
            )
        )
        return out
    js = js_divergence(ref_counts, cur_counts)
    stat, p, cramer = chi2_homogeneity(ref_counts, cur_counts)
    details.update(js=js, chi2=stat, chi2_p=p, cramers_v=cramer)
    if js >= 0.03 and p < 1e-3 and not excess >= 0.03:
        mag = min(1.0, (js - 0.02) / 0.2)
        moved = 0.5 * float(np.abs(cur_counts / n_cur - ref_counts / n_ref).sum())
        crit = 1.95 * math.sqrt((n_ref + n_cur) / (n_ref * n_cur))  # as for the KS statistic
        details["rows_moved"] = moved
        out.append(
            Finding(
                "data",
                "drift",
                name,
                _moved_score(ctx, name, mag * _weight(ctx, name), moved, crit),
                f"Category mix of '{name}' shifted: Jensen–Shannon {js:.3f}, Cramér's V {cramer:.3f} "
                f"(influence on predictions {infl:.2f}).",
                details,
            )
        )
    return out
