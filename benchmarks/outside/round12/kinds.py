"""Round 12's fault kinds and healthy variants, each with the answer decided before running.

A kind rewrites a `Log` built from a world (worlds.py) from its onset on. `expect` is the
answer a careful on-call engineer gives: the cause and the culprit kinds and names accepted.
Strength sits at the issue's target class: an error up 5% or more on 2,000+ labelled rows, or
20% or more of the rows of an input the model reads moved. Requests arrive in batches (one to
six rows sharing a timestamp, as a client's batch call is logged), which the batch kinds break.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np
import pandas as pd

from benchmarks.outside import common
from benchmarks.outside.common import Expect, Kind, Log, nothing
from benchmarks.outside.round12.worlds import DAY, MONDAY, WORLDS, Xform

__all__ = ["HEALTHY", "KINDS", "base_log"]


def request_times(rng: np.random.Generator, n: int, days: float) -> tuple[np.ndarray, np.ndarray]:
    """Diurnal request times (a trough at 03:00 UTC), rows grouped into batches of 1-6 sharing a time."""
    t = common.diurnal_times(rng, n, days, MONDAY)
    sizes = rng.integers(1, 7, n)
    batch = np.repeat(np.arange(n), sizes)[:n]
    first = np.r_[0, np.flatnonzero(np.diff(batch)) + 1]
    return np.round(t[first][batch], 3), batch


def base_log(world_name: str, seed: int, n: int, days: float, onset_frac: float) -> Log:
    world = WORLDS[world_name](seed)
    rng = np.random.default_rng(seed * 7919 + zlib.crc32(world_name.encode()) % 1000 + 12)
    t, batch = request_times(rng, n, days)
    X, y = world.draw(rng, t.size, t)
    pred = world.predict(X)
    onset = float(t[0] + onset_frac * (t[-1] - t[0]))
    return Log(world, rng, t, batch, X, y, pred, pred.copy(), np.full(t.size, "2.3.0", dtype=object),
               rng.lognormal(np.log(35.0), 0.3, t.size), (rng.uniform(size=t.size) < 0.002).astype(float), onset)


def _segment(log: Log, column: str, value: str) -> np.ndarray:
    return log.after & (log.X[column].astype(str) == value).to_numpy()


def _set(log: Log, rows: np.ndarray, column: str, values: np.ndarray | float) -> None:
    """Rewrite a column on some rows (the log's own dtype kept: a float column stays float)."""
    col = log.X[column].to_numpy(copy=True)
    if col.dtype.kind == "f" or col.dtype.kind in "iu":
        col = col.astype(float)
    col[rows] = values if np.isscalar(values) else np.asarray(values)[rows]
    log.X[column] = col
    log.repredict(rows)


# ---- faults ---------------------------------------------------------------------------------

def bad_version_partial_labels(log: Log) -> None:
    """Version 2.4.0 serves everything since the onset; it was trained on registered riders only
    (the casual riders' column dropped by a join), so it under-forecasts. Only 20% of the rows
    since the onset have their label yet (the rest arrive next week)."""
    def registered_only(X: pd.DataFrame, y: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        return X, y * 0.8
    common.deploy(log, log.after, registered_only, "2.4.0")
    log.labelled = ~log.after | (log.rng.uniform(size=log.t.size) < 0.2)


def unit_one_client(log: Log) -> None:
    """The partner client (a quarter of traffic) sends income in dollars, not thousands."""
    rows = _segment(log, "client", "partner")
    _set(log, rows, "Income", np.round(log.X["Income"].to_numpy(dtype=float) * 1000.0, 0))


def missing_one_segment(log: Log) -> None:
    """Price is missing (null) for every store with a good shelf location since the onset; the
    model's imputer fills its training mean."""
    _set(log, _segment(log, "ShelveLoc", "Good"), "Price", np.nan)


def missing_students(log: Log) -> None:
    """Income is null for every student since the onset (a form change); the imputer fills the mean."""
    rows = log.after & (log.X["student"].to_numpy() == 1.0)
    _set(log, rows, "income", np.nan)
    log.notes.append(f"rows moved {rows.sum() / log.after.sum():.2f}")


def mean_filled(column: str, share: float) -> Callable[[Log], None]:
    def apply(log: Log) -> None:
        _set(log, common.rows_after(log, share), column, round(log.world.means[column], 4))
    apply.__doc__ = f"An upstream default: {column} arrives as the training mean on {share:.0%} of the rows."
    return apply


def rounded(column: str, step: float) -> Callable[[Log], None]:
    def apply(log: Log) -> None:
        v = log.X[column].to_numpy(dtype=float)
        _set(log, log.after, column, np.round(np.round(v / step) * step, 4))
    apply.__doc__ = f"An upstream precision change: {column} rounded to a multiple of {step}."
    return apply


def batch_shifted(column: str) -> Callable[[Log], None]:
    def apply(log: Log) -> None:
        v = log.X[column].to_numpy(dtype=float)
        prev = np.r_[v[-1], v[:-1]]
        same = np.r_[False, log.batch[1:] == log.batch[:-1]]
        # each row of a batch but its first reads the row before it; the first reads the batch's last
        last = np.r_[np.flatnonzero(np.diff(log.batch)), log.batch.size - 1]
        first_of = np.r_[0, np.flatnonzero(np.diff(log.batch)) + 1]
        out = np.where(same, prev, v)
        out[first_of] = v[last]
        _set(log, log.after, column, out)
    apply.__doc__ = f"Rows of a request batch misaligned: {column} shifted by one row within each batch."
    return apply


def batch_broadcast(log: Log) -> None:
    """A broadcasting bug: every row of a batch carries the batch's first row's age."""
    v = log.X["age"].to_numpy(dtype=float)
    first = np.r_[0, np.flatnonzero(np.diff(log.batch)) + 1]
    starts = np.maximum.accumulate(np.where(np.isin(np.arange(v.size), first), np.arange(v.size), 0))
    _set(log, log.after, "age", v[starts])


def share_triples(column: str, value: str) -> Callable[[Log], None]:
    def apply(log: Log) -> None:
        col = log.X[column].astype(str).to_numpy()
        share = float(np.mean(col == value))
        swap = np.flatnonzero(common.rows_after(log, 2.0 * share / (1.0 - share), col != value))
        # fresh requests of that category (new people, not repeats of logged rows): twenty draws
        # per replaced row at its own time, the first of the category taken
        tries = 20
        fresh, y = log.world.draw(log.rng, tries * swap.size, np.tile(log.t[swap], tries))
        hit = (fresh[column].astype(str).to_numpy() == value).reshape(tries, swap.size)
        pick = np.argmax(hit, axis=0) * swap.size + np.arange(swap.size)
        ok = hit.any(axis=0)
        rows, pick = swap[ok], pick[ok]
        new = fresh.iloc[pick].reset_index(drop=True)
        X = log.X.copy()
        for c in X.columns:
            numeric = pd.api.types.is_numeric_dtype(X[c])
            v = X[c].to_numpy(dtype=float if numeric else object, copy=True)
            v[rows] = new[c].to_numpy()
            X[c] = v
        log.X = X
        log.y = log.y.copy()
        log.y[rows] = y[pick]
        mask = np.zeros(log.t.size, dtype=bool)
        mask[rows] = True
        log.repredict(mask)
        log.clean = log.pred.copy()
    apply.__doc__ = f"Population shift: the share of {column}={value} triples since the onset (fresh requests)."
    return apply


def latency_with_version(log: Log) -> None:
    """A harmless retrain deployed at the onset with a heavier runtime: latency x2.2 on its rows."""
    common.deploy(log, log.after, common.retrained, "2.4.0")
    log.latency = np.where(log.after, log.latency * 2.2, log.latency)


def client_traffic_drop(log: Log) -> None:
    """The partner client (a quarter of traffic) loses 90% of its requests from the onset on."""
    drop = _segment(log, "client", "partner") & (log.rng.uniform(size=log.t.size) < 0.9)
    keep = ~drop
    for name in ("t", "batch", "y", "pred", "clean", "version", "latency", "error"):
        setattr(log, name, getattr(log, name)[keep])
    log.X = log.X.loc[keep].reset_index(drop=True)


def canary(share: float, xform: Xform) -> Callable[[Log], None]:
    def apply(log: Log) -> None:
        common.deploy(log, common.rows_after(log, share), xform, "2.4.0-rc1")
    apply.__doc__ = f"A {share:.0%} canary of a moderately worse version."
    return apply


def _positives_dropped(X: pd.DataFrame, y: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Trained on labels where 60% of the defaults had not been recorded yet."""
    r = np.random.default_rng(5).uniform(size=y.size) < 0.6
    return X, np.where(r, 0.0, y)


def _age_dropped(X: pd.DataFrame, y: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Trained with age missing (filled with a constant): the age profile of wages is lost."""
    return X.assign(age=40.0), y


def nulls_growing(log: Log) -> None:
    """A failing upstream: health_ins null on a share of rows growing from 0 to 70% over six hours."""
    grow = np.clip((log.t - log.onset) / (6 * 3600.0), 0.0, 1.0) * 0.7
    rows = log.after & (log.rng.uniform(size=log.t.size) < grow)
    col = log.X["health_ins"].to_numpy(dtype=object).copy()
    col[rows] = None
    log.X["health_ins"] = col
    log.repredict(rows)


def errors_one_client(log: Log) -> None:
    """The batch client's calls fail 40% of the time since the onset (a quota on its key)."""
    rows = _segment(log, "client", "batch") & (log.rng.uniform(size=log.t.size) < 0.4)
    log.error = np.where(rows, 1.0, log.error)


def prediction_rounded(log: Log) -> None:
    """A serving-layer change rounds the predicted balance to the nearest 250."""
    log.pred = np.where(log.after, np.round(log.pred.astype(float) / 250.0) * 250.0, log.pred)


def feature(name: str) -> Expect:
    return Expect("data", ("feature",), (name,))


def model(version: str) -> Expect:
    return Expect("model", ("model_version",), (version,))


KINDS: list[Kind] = [
    Kind("bad_version_20pct_labelled", "bikeshare", bad_version_partial_labels, model("2.4.0")),
    Kind("unit_one_client", "credit", unit_one_client,
         Expect("data", ("feature", "segment"), ("Income", "client=partner"))),
    Kind("unit_one_client_ref_withheld", "credit", unit_one_client,
         Expect("data", ("feature", "segment"), ("Income", "client=partner")), withheld=True, reference=True),
    Kind("missing_one_segment", "carseats", missing_one_segment, feature("Price")),
    Kind("missing_students_withheld", "default", missing_students, feature("income"), withheld=True),
    Kind("mean_filled_balance", "default", mean_filled("balance", 0.25), feature("balance")),
    Kind("mean_filled_age_withheld", "wage", mean_filled("age", 0.3), feature("age"), withheld=True),
    Kind("precision_limit_1000", "credit", rounded("Limit", 1000.0), feature("Limit"), reference=True),
    Kind("precision_hum_withheld", "bikeshare", rounded("hum", 0.1), feature("hum"), withheld=True),
    Kind("batch_shift_balance", "default", batch_shifted("balance"), feature("balance")),
    Kind("batch_shift_rating_withheld", "credit", batch_shifted("Rating"), feature("Rating"), withheld=True),
    Kind("batch_broadcast_age", "wage", batch_broadcast, feature("age")),
    Kind("share_triples_tgrade", "gbsg2", share_triples("tgrade", "I"),
         Expect("data", ("feature", "segment"), ("tgrade",)), n=14000),
    Kind("share_triples_rain_withheld", "bikeshare", share_triples("weathersit", "light rain/snow"),
         Expect("data", ("feature", "segment"), ("weathersit",)), withheld=True),
    Kind("latency_with_version", "carseats", latency_with_version, Expect("service", ("latency",))),
    Kind("client_traffic_drop", "bikeshare", client_traffic_drop,
         Expect("service", ("traffic", "segment"), ("traffic", "partner", "requests"))),
    Kind("canary_25_default", "default", canary(0.25, _positives_dropped), model("2.4.0-rc1"), n=24000, days=3.0),
    Kind("canary_20_wage", "wage", canary(0.2, _age_dropped), model("2.4.0-rc1"), n=24000, days=3.0),
    Kind("nulls_growing_withheld", "wage", nulls_growing, feature("health_ins"), withheld=True),
    Kind("errors_one_client", "gbsg2", errors_one_client, Expect("service", ("errors",))),
    Kind("prediction_rounded", "credit", prediction_rounded, Expect("model", ("model_version",), ("2.3.0",))),
    # added after the first run (the brief's "worse there": grade I of gbsg2 turned out easier)
    Kind("share_triples_students", "credit", share_triples("Student", "1.0"),
         Expect("data", ("feature", "segment"), ("Student",))),
]


# ---- healthy variants: the answer is "none" ------------------------------------------------

def redeploy(log: Log) -> None:
    """The same model retrained on fresh rows of the same world, deployed at the onset."""
    common.deploy(log, log.after, common.retrained, "2.4.0")


def better_slightly(log: Log) -> None:
    """A version fitted on twice the rows (a little better), deployed at the onset."""
    common.deploy(log, log.after, common.twice_the_rows, "2.4.0")


def client_mix_drift(log: Log) -> None:
    """The callers' mix drifts slowly over the whole log (the batch client grows from 10% to 30%)."""
    frac = (log.t - log.t[0]) / (log.t[-1] - log.t[0])
    grow = log.rng.uniform(size=log.t.size) < 0.22 * frac
    col = log.X["client"].to_numpy(dtype=object).copy()
    col[grow] = "batch"
    log.X["client"] = col


def labels_partial(log: Log) -> None:
    """Only 20% of the rows of the last day have their label yet (labels arrive over a week)."""
    late = log.t > log.t[-1] - DAY
    log.labelled = ~late | (log.rng.uniform(size=log.t.size) < 0.2)


HEALTHY: list[Kind] = [
    Kind(f"healthy_{w}_{v.__name__}", w, v, Expect("none"), onset_frac=frac)
    for w, frac in (("bikeshare", 0.6), ("default", 0.55), ("carseats", 0.65), ("credit", 0.5), ("wage", 0.7),
                    ("gbsg2", 0.6))
    for v in (nothing, redeploy, better_slightly, client_mix_drift)
] + [
    Kind("healthy_wage_labels_partial", "wage", labels_partial, Expect("none")),
    Kind("healthy_default_labels_partial", "default", labels_partial, Expect("none")),
    Kind("healthy_credit_reference", "credit", nothing, Expect("none"), reference=True),
    Kind("healthy_bikeshare_reference", "bikeshare", nothing, Expect("none"), reference=True, days=4.0),
]
