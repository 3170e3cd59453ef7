"""Round 11's fault kinds and healthy variants, each with the answer decided before running.

A kind rewrites a `Log` built from a world (worlds.py) from its onset on. `expect` is the
answer a careful on-call engineer gives: the cause and the culprit kinds and names accepted.
Strength sits at the issue's target class: an error up 5% or more on 2,000+ labelled rows, or
20% or more of the rows of an input the model reads moved.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from benchmarks.outside import common
from benchmarks.outside.common import Expect, Kind, Log, nothing
from benchmarks.outside.round11.worlds import DAY, MONDAY, WORLDS

__all__ = ["HEALTHY", "KINDS", "base_log"]


def base_log(world_name: str, seed: int, n: int, days: float, onset_frac: float) -> Log:
    world = WORLDS[world_name](seed)
    rng = np.random.default_rng(seed * 7919 + zlib.crc32(world_name.encode()) % 1000)
    t = common.diurnal_times(rng, n, days, MONDAY)
    X, y = world.draw(rng, t.size, t)
    pred = world.predict(X)
    onset = float(t[0] + onset_frac * (t[-1] - t[0]))
    return Log(world, rng, t, np.arange(t.size), X, y, pred, pred.copy(), np.full(t.size, "v1", dtype=object),
               rng.lognormal(np.log(40.0), 0.3, t.size), (rng.uniform(size=t.size) < 0.003).astype(float), onset)


# ---- the open misses of the last session ----------------------------------------------------

def error_pulse(log: Log) -> None:
    """An upstream dependency fails a third of the calls for one hour from the onset, then recovers."""
    pulse = (log.t >= log.onset) & (log.t < log.onset + 3600.0) & (log.rng.uniform(size=log.t.size) < 0.33)
    log.error = np.where(pulse, 1.0, log.error)


def gradual_ramp(log: Log) -> None:
    """A sensor offset on x3 growing over ten hours from the onset to +0.6 (x3 spans 0..1)."""
    grow = np.clip((log.t - log.onset) / (10 * 3600.0), 0.0, 1.0)
    log.X["x3"] = np.round(log.X["x3"] + 0.6 * grow, 4)
    log.repredict(log.after)


def retry_duplicates(log: Log) -> None:
    """A client retrying every call: a third of the requests since the onset arrive twice, 1-4 s apart."""
    dup = np.flatnonzero(common.rows_after(log, 0.33))
    order = np.concatenate([np.arange(log.t.size), dup])
    t = np.concatenate([log.t, log.t[dup] + log.rng.uniform(1.0, 4.0, dup.size)])
    sort = np.argsort(t, kind="stable")
    idx = order[sort]
    log.t = t[sort]
    log.X = log.X.iloc[idx].reset_index(drop=True)
    for name in ("batch", "y", "pred", "clean", "version", "latency", "error"):
        setattr(log, name, getattr(log, name)[idx])


def lagged_copy(log: Log) -> None:
    """The market level is read from yesterday's snapshot: each row carries the value of 24 h earlier."""
    market = log.X["market_level"].to_numpy()
    order = np.argsort(log.t)
    earlier = np.interp(log.t - DAY, log.t[order], market[order])
    rows = log.after
    log.X.loc[rows, "market_level"] = np.round(earlier[rows], 3)
    log.repredict(rows)


def noise_swap(log: Log) -> None:
    """The most informative input (disea) is replaced by noise of its own mean and spread."""
    col = log.X["disea"].to_numpy(dtype=float)
    rows = log.after
    log.X.loc[rows, "disea"] = np.round(np.clip(log.rng.normal(col.mean(), col.std(), rows.sum()), 0.0, None), 1)
    log.repredict(rows)


# ---- new kinds ------------------------------------------------------------------------------

def join_shift(log: Log) -> None:
    """The user table's join is off by one: every user gets the next user's lifetime value."""
    users = log.X["user_id"].str.slice(1).astype(int).to_numpy()
    table = dict(zip(users, log.X["user_ltv"].to_numpy(), strict=False))
    rows = log.after
    shifted = np.array([table.get(u + 1, table.get(u, 0.0)) for u in users])
    log.X.loc[rows, "user_ltv"] = shifted[rows]
    log.repredict(rows)


def category_remap(log: Log) -> None:
    """Upstream maps the device `tablet` (a fifth of the traffic) onto `web`."""
    rows = log.after & (log.X["device"] == "tablet").to_numpy()
    log.X.loc[rows, "device"] = "web"
    log.repredict(rows)


def sentinel_fill(log: Log) -> None:
    """Income (lpi) is missing for a quarter of the requests and filled with the sentinel 999."""
    rows = common.rows_after(log, 0.25)
    log.X.loc[rows, "lpi"] = 999.0
    log.repredict(rows)


def clip_percentile(log: Log) -> None:
    """A pipeline step clips the chronic-disease score (disea) at its 70th percentile."""
    cap = float(np.percentile(log.X["disea"], 70))
    rows = log.after & (log.X["disea"] > cap).to_numpy()
    log.X.loc[rows, "disea"] = cap
    log.repredict(log.after)


def tz_shift(log: Log) -> None:
    """The hour of day is computed in UTC+5 instead of UTC since the onset."""
    rows = log.after
    log.X.loc[rows, "hour"] = (log.X.loc[rows, "hour"] + 5) % 24
    log.repredict(rows)


def column_order(log: Log) -> None:
    """A new feature service sends age and years married in each other's places."""
    rows = log.after
    a = log.X.loc[rows, "age"].to_numpy()
    log.X.loc[rows, "age"] = log.X.loc[rows, "yrs_married"].to_numpy()
    log.X.loc[rows, "yrs_married"] = a
    log.repredict(rows)


def leak_removed(log: Log) -> None:
    """`counselling` was filled in after the outcome; upstream fixes it to what is known at request time (0)."""
    rows = log.after
    log.X.loc[rows, "counselling"] = 0.0
    log.repredict(rows)


def bot_segment(log: Log) -> None:
    """Requests from India are replaced by a bot: tiny sessions, many page views, never converting."""
    rows = log.after & (log.X["country"] == "IN").to_numpy()
    k = int(rows.sum())
    log.X.loc[rows, "session_s"] = np.round(log.rng.uniform(0.5, 3.0, k), 1)
    log.X.loc[rows, "page_views"] = np.round(log.rng.uniform(400.0, 900.0, k))
    log.X.loc[rows, "is_returning"] = 0.0
    log.y = np.where(rows, 0.0, log.y)
    log.repredict(rows)


def latency_segment(log: Log) -> None:
    """Android requests since the onset go through a slow new gateway: latency x2.5."""
    rows = log.after & (log.X["device"] == "android").to_numpy()
    log.latency = np.where(rows, log.latency * 2.5, log.latency)


def score_collapse(log: Log) -> None:
    """For Brazil the model server returns its fallback score 0.12 for every request."""
    rows = log.after & (log.X["country"] == "BR").to_numpy()
    log.pred = np.where(rows, 0.12, log.pred)


def bad_version_full(log: Log) -> None:
    """Version v2 serves everything since the onset; it was trained on log(2 + visits) - log(2) for
    log(1 + visits), a target-transform bug (about +10% absolute error)."""
    def target(X: pd.DataFrame, y: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        return X, np.log(2.0 + np.expm1(y)) - np.log(2.0)
    common.deploy(log, log.after, target, "v2")


def bad_canary(log: Log) -> None:
    """A 15% canary v2 trained on labels of which 40% were flipped."""
    def flip(X: pd.DataFrame, y: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        r = np.random.default_rng(9).uniform(size=y.size) < 0.4
        return X, np.where(r, 1.0 - y, y)
    common.deploy(log, common.rows_after(log, 0.15), flip, "v2")


def bad_version_withheld(log: Log) -> None:
    """v2 trained without the bill length serves everything; the labels come weeks later."""
    def drop(X: pd.DataFrame, y: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        return X.assign(bill_length_mm=45.0), y
    model = log.world.fit(np.random.default_rng(4242), drop)
    rows = log.after
    log.pred = log.pred.copy()
    log.pred[rows] = model(log.X.loc[rows].assign(bill_length_mm=45.0))
    log.version = np.where(rows, "v2", log.version)


def label_definition(log: Log) -> None:
    """The outcome is redefined: an affair counts only above 1.0 on the survey's scale."""
    rows = log.after & (log.y > 0)
    log.y_before = log.y.copy()
    log.y = np.where(rows & (log.rng.uniform(size=log.t.size) < 0.55), 0.0, log.y)


def _reflect(log: Log, column: str, top: float) -> None:
    """Since the onset the column is written as `top - value` (a scale or flag turned over)."""
    rows = log.after
    log.X.loc[rows, column] = top - log.X.loc[rows, column]
    log.repredict(rows)


def ordinal_reversed(log: Log) -> None:
    """The marriage rating's scale is reversed upstream (1 = very good now)."""
    _reflect(log, "rate_marriage", 6.0)


def case_changed(log: Log) -> None:
    """Island names arrive upper-case (`BISCOE`, ...) since the onset."""
    rows = log.after
    log.X.loc[rows, "island"] = log.X.loc[rows, "island"].str.upper()
    log.repredict(rows)


def double_standardized(log: Log) -> None:
    """x1 arrives already standardized and is standardized again by the model's pipeline."""
    rows = log.after
    log.X.loc[rows, "x1"] = np.round((log.X.loc[rows, "x1"] - 0.5) / 0.29, 4)
    log.repredict(rows)


def stale_version(log: Log) -> None:
    """v0, fitted a year ago on a world where x0 and x1 mattered half as much, is redeployed."""
    def old(X: pd.DataFrame, y: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        x = X.to_numpy()
        return X, y - 5.0 * np.sin(np.pi * x[:, 0] * x[:, 1])
    common.deploy(log, log.after, old, "v0")


def counter_wrap(log: Log) -> None:
    """Page views stored in an 8-bit field wrap at 256."""
    rows = log.after
    log.X.loc[rows, "page_views"] = log.X.loc[rows, "page_views"] % 256
    log.repredict(rows)


def bool_inverted(log: Log) -> None:
    """The returning-user flag is inverted by a refactor (1 = new user)."""
    _reflect(log, "is_returning", 1.0)


def transform_skipped(log: Log) -> None:
    """The coinsurance rate is sent raw (percent) instead of as log(1 + rate)."""
    rows = log.after
    log.X.loc[rows, "lncoins"] = np.round(np.expm1(log.X.loc[rows, "lncoins"]), 3)
    log.repredict(rows)


def feature(name: str) -> Expect:
    return Expect("data", ("feature",), (name,))


KINDS: list[Kind] = [
    Kind("error_pulse_1h", "requests", error_pulse, Expect("service", ("errors",))),
    Kind("gradual_ramp_10h", "friedman", gradual_ramp, feature("x3"), onset_frac=0.45),
    Kind("retry_duplicates", "requests", retry_duplicates, Expect("service", ("traffic",))),
    Kind("lagged_copy_withheld", "requests", lagged_copy, feature("market_level"), withheld=True, days=3.0, n=12000),
    Kind("noise_swap_withheld", "randhie", noise_swap, feature("disea"), withheld=True),
    Kind("join_shift_entity_withheld", "requests", join_shift, feature("user_ltv"), withheld=True),
    Kind("category_remap_withheld", "requests", category_remap, feature("device"), withheld=True),
    Kind("sentinel_999_withheld", "randhie", sentinel_fill, feature("lpi"), withheld=True),
    Kind("clip_p70_withheld", "randhie", clip_percentile, feature("disea"), withheld=True),
    Kind("tz_shift_hour", "requests", tz_shift, feature("hour")),
    Kind("column_order_swapped", "fair", column_order, Expect("data", ("feature",), ("age", "yrs_married"))),
    Kind("label_leak_removed", "fair", leak_removed, feature("counselling")),
    Kind("bot_segment", "requests", bot_segment,
         Expect("data", ("feature", "segment"), ("country=IN", "session_s", "page_views", "is_returning"))),
    Kind("latency_one_segment", "requests", latency_segment, Expect("service", ("latency",))),
    Kind("score_collapse_subset", "requests", score_collapse,
         Expect("model", ("segment", "model_version"), ("BR", "v1"))),
    Kind("bad_version_full", "randhie", bad_version_full, Expect("model", ("model_version",), ("v2",))),
    Kind("bad_canary_15", "fair", bad_canary, Expect("model", ("model_version",), ("v2",))),
    Kind("bad_version_withheld", "penguins", bad_version_withheld, Expect("model", ("model_version",), ("v2",)),
         withheld=True),
    Kind("label_definition_changed", "fair", label_definition, Expect("model", ("concept",))),
    Kind("ordinal_reversed_withheld", "fair", ordinal_reversed, feature("rate_marriage"), withheld=True),
    Kind("category_case_changed", "penguins", case_changed, feature("island")),
    Kind("double_standardized", "friedman", double_standardized, feature("x1")),
    Kind("stale_version_returns", "friedman", stale_version, Expect("model", ("model_version",), ("v0",))),
    Kind("counter_wrap_withheld", "requests", counter_wrap, feature("page_views"), withheld=True),
    Kind("bool_inverted_withheld", "requests", bool_inverted, feature("is_returning"), withheld=True),
    Kind("transform_skipped", "randhie", transform_skipped, feature("lncoins")),
]


# ---- healthy variants: the answer is "none" ------------------------------------------------

def redeploy(log: Log) -> None:
    """The same model retrained on fresh rows of the same world, deployed at the onset."""
    common.deploy(log, log.after, common.retrained, "v2")


def better_version(log: Log) -> None:
    """A version fitted on more data (the world's own, twice the rows)."""
    common.deploy(log, log.after, common.twice_the_rows, "v2")


def unused_drift(log: Log) -> None:
    """An input the model does not read drifts slowly over the whole log."""
    col = {"requests": "user_id", "randhie": "clinic", "fair": "region", "penguins": "band", "friedman": "x8"}
    name = col[log.world.name]
    if name == "x8":
        frac = (log.t - log.t[0]) / (log.t[-1] - log.t[0])
        log.X["x8"] = np.round(log.X["x8"] + 0.4 * frac, 4)
    elif name == "user_id":
        frac = (log.t - log.t[0]) / (log.t[-1] - log.t[0])
        late = log.rng.uniform(size=log.t.size) < 0.3 * frac
        log.X.loc[late, "user_id"] = "n" + pd.Series(log.rng.integers(0, 50000, late.sum())).astype(str).to_numpy()
    else:
        frac = (log.t - log.t[0]) / (log.t[-1] - log.t[0])
        late = log.rng.uniform(size=log.t.size) < 0.15 * frac
        log.X.loc[late, name] = "new_" + name


def late_labels(log: Log) -> None:
    """The last eight hours have no labels yet."""
    late = log.t > log.t[-1] - 8 * 3600.0
    if log.world.task == "classes":
        log.y = np.where(late, None, log.y)
    else:
        log.y = np.where(late, np.nan, log.y)


def gc_bursts(log: Log) -> None:
    """Latency bursts of a few minutes every couple of hours (garbage collection), all along the log."""
    phase = ((log.t - log.t[0]) % 7200.0) < 180.0
    log.latency = np.where(phase, log.latency * 3.0, log.latency)


HEALTHY: list[Kind] = [
    Kind(f"healthy_{w}_{v.__name__}", w, v, Expect("none"), onset_frac=frac)
    for w, frac in (("requests", 0.6), ("randhie", 0.55), ("fair", 0.65), ("penguins", 0.5), ("friedman", 0.7))
    for v in (nothing, redeploy, unused_drift, late_labels)
] + [
    Kind("healthy_randhie_better", "randhie", better_version, Expect("none")),
    Kind("healthy_fair_gc", "fair", gc_bursts, Expect("none")),
]
