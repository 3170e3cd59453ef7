"""The companions' fit (`moved_together.companions_carried`) on a large log: one design alive at a
time, each input's scale read when it is first needed, and the answer of the plain computation
(every input standardized at once, the whole design stacked, its reference rows fitted) in every
case, missing and infinite values included (issue-23a).

On a 1M-row log of 48 inputs the plain computation kept every input's standardized sample (31 MB)
for the rest of the data checks and stacked the design twice more beside it: the diagnosis's peak,
117 MB above the log where the next step's is 75.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from diagnostics import moved_together
from diagnostics.clock_features import hour_of_day_columns
from diagnostics.context import Context, detect_task
from diagnostics.loader import frame_to_log
from diagnostics.log import Categorical
from diagnostics.moved_together import MIN_FOLLOW_ROWS, MIX_SHARE, MovedTogether, _explained

T0 = pd.Timestamp("2026-07-20T00:00Z").timestamp()
N_INPUTS = 24


def _context(n: int, case: str, seed: int = 0, hour: bool = True) -> Context:
    """A log of `n` rows over 16 hours whose inputs share one latent size; the onset half-way.

    `case`: "mix" (the window's rows larger: every input moves together), "feed" (the first input
    alone moves), "nan" (a companion missing where the first input is known), "nan_apart" (missing
    only where the first input is missing too), "inf" (a companion infinite in the window),
    "outside" (a companion's window beyond its reference's range), "still" (a constant companion).
    `hour`: an hour-of-day input beside them (no companion: it moves with any window)."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(T0, T0 + 16 * 3600, n))
    late = t >= T0 + 8 * 3600
    size = rng.normal(0, 1, n) + np.where(late, 0.8 if case != "feed" else 0.0, 0.0)
    cols = {f"x{j:02d}": (1 + j) * size + rng.normal(0, 0.3 + 0.05 * j, n) for j in range(N_INPUTS)}
    if case == "feed":
        cols["x00"] = cols["x00"] + np.where(late, 3.0, 0.0)
    if case == "nan":
        cols["x03"][rng.random(n) < 0.01] = np.nan
    if case == "nan_apart":
        gone = rng.random(n) < 0.01
        cols["x00"][gone] = np.nan
        cols["x03"][gone] = np.nan
    if case == "inf":
        cols["x05"][np.flatnonzero(late)[7]] = np.inf
    if case == "outside":
        cols["x02"] = np.where(late, 50.0 + rng.random(n), rng.random(n))
    if case == "still":
        cols["x04"] = np.where(late, rng.random(n), 1.0)
    if hour:
        cols["hour"] = np.floor(((t - T0) / 3600.0) % 24)
    df = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(t, unit="s", utc=True),
            "model_version": "v1",
            "prediction": rng.random(n),
            "label": (rng.random(n) < 0.5).astype(float),
            **cols,
            "region": rng.choice(["a", "b"], n),
        }
    )
    log = frame_to_log(df)
    split = int(np.searchsorted(log.timestamp, T0 + 8 * 3600))
    ref, cur = log.take(slice(0, split)), log.take(slice(split, None))
    task = detect_task(log.prediction, log.label)
    empty = np.empty(0)
    return Context(log=log, reference=ref, current=cur, onset=T0 + 8 * 3600, task=task, ref_loss=empty,
                   cur_loss=empty, ref_sample=np.arange(len(ref)), cur_sample=np.arange(len(cur)))


def _plain(ctx: Context, name: str) -> bool:
    """The plain computation: every input standardized at once, the whole design stacked."""
    n_ref = ctx.ref_sample.size
    clock = set(hour_of_day_columns(ctx.reference.features, ctx.reference.timestamp))
    cols: dict[str, tuple[np.ndarray, bool]] = {}
    for k, r in ctx.reference.features.items():
        c = ctx.current.features.get(k)
        if k in clock or isinstance(r, Categorical) or c is None or isinstance(c, Categorical):
            continue
        x = np.concatenate((r[ctx.ref_sample], c[ctx.cur_sample])).astype(np.float64)
        head = x[:n_ref]
        ok = np.isfinite(head)
        if int(ok.sum()) < MIN_FOLLOW_ROWS:
            continue
        mean, sd = float(head[ok].mean()), float(head[ok].std())
        if sd > 0:
            tail = x[n_ref:]
            tail = tail[np.isfinite(tail)]
            mid = float(np.median(tail)) if tail.size else math.nan
            cols[k] = ((x - mean) / sd, float(head[ok].min()) <= mid <= float(head[ok].max()))
    if name not in cols:
        return False
    others = [v for k, (v, held) in cols.items() if k != name and held]
    x = cols[name][0]
    ok = np.isfinite(x)
    r_ok, c_ok = ok[:n_ref], ok[n_ref:]
    if not others or int(r_ok.sum()) < MIN_FOLLOW_ROWS or int(c_ok.sum()) < MIN_FOLLOW_ROWS:
        return False
    design = np.column_stack([np.ones(x.size), *others])
    if not np.isfinite(design[ok]).all():
        return False
    beta = np.linalg.lstsq(design[:n_ref][r_ok], x[:n_ref][r_ok], rcond=None)[0]
    res = x - design @ beta
    rr, rc = res[:n_ref][r_ok], res[n_ref:][c_ok]
    sd_r, sd_c = float(rr.std()), float(rc.std())
    if not (sd_r > 0 and sd_c > 0) or abs(math.log(sd_c / sd_r)) > math.log1p(MIX_SHARE):
        return False
    move = float(x[n_ref:][c_ok].mean() - x[:n_ref][r_ok].mean())
    se = math.sqrt(sd_r**2 / rr.size + sd_c**2 / rc.size)
    return _explained(move, float(rc.mean() - rr.mean()), se, MIX_SHARE)


@pytest.mark.parametrize("case", ["mix", "feed", "nan", "nan_apart", "inf", "outside", "still"])
def test_the_companions_answer_as_the_plain_computation(case: str) -> None:
    ctx = _context(6000, case)
    together = MovedTogether(ctx)  # one object asked in turn, as the data checks ask it
    answers = {name: together.companions_carried(name) for name in [*ctx.reference.features, "x00"]}
    assert answers == {name: _plain(ctx, name) for name in answers}
    if case == "mix":
        assert answers["x00"]  # guard: a changed mix of rows is carried by the companions ...
    if case == "feed":
        assert not answers["x00"]  # ... a feed's move of one input is not
    if case in ("nan", "inf"):
        # a companion missing or infinite where the input is known: no claim (the broken column
        # itself is fitted on its known rows)
        assert not any(v for name, v in answers.items() if name not in ("x03", "x05"))
    if case == "nan_apart":
        assert answers["x00"]  # missing only where the input is missing too: fitted


def test_the_fit_keeps_one_design_alive_at_a_time() -> None:
    """The peak of an ask is about one design (rows x companions of float64), not three and the samples."""
    ctx = _context(20_000, "mix", hour=False)  # (the hour-of-day test of an input holds its own matrix)
    together = MovedTogether(ctx)
    design_bytes = 20_000 * N_INPUTS * 8
    tracemalloc.start()
    try:
        assert together.companions_carried("x00")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        assert together.companions_carried("x01")  # a second ask keeps no sample between asks either
        _, again = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * design_bytes
    assert again < 1.5 * design_bytes


def test_an_ask_reads_the_companions_it_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A companion missing where the input is known ends the ask: the inputs after it are never read."""
    ctx = _context(6000, "nan")
    read: list[str] = []
    real = moved_together._scale

    def counted(c: Context, name: str) -> object:
        read.append(name)
        return real(c, name)

    monkeypatch.setattr(moved_together, "_scale", counted)
    together = MovedTogether(ctx)
    assert not together.companions_carried("x00")
    assert read == ["x00", "x01", "x02", "x03"]
    assert not together.companions_carried("x00")
    assert read == ["x00", "x01", "x02", "x03"]  # each scale read once a diagnosis
