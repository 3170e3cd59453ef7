"""What the outside-style checkers share: a world, a log, a kind, and the runner's arguments and totals.

Round 11 (`round11/`) and round 12 (`round12/`) build prediction logs the same way: a *world*
draws fresh rows of a dataset the engine never saw and answers them with a model fitted here; a
*log* is those rows over a few days of diurnal traffic, with the served answers, the answers had
nothing gone wrong, versions, latency and errors; a *kind* rewrites the log from its onset on and
carries the answer decided before running. Each round keeps its own worlds, faults and judging
(what a kind does, how its verdict is read: Python API or CLI); this module holds the parts that
were the same, so the next round starts from them instead of a copy:

- `World`, `Xform`, `Model`: a world and its model factories (`means` and `train` are the served
  model's training means and rows, for kinds that fill a mean or pass a `--reference`);
- `Log`: the log being built, with the label-arrival mask (`labelled`: rows whose label has
  arrived; `withheld`: none since the onset) that `frame()` applies;
- `Kind`, `Expect`, `loss`, `diurnal_times`, `rows_after`, `deploy`, `nothing`, `retrained`,
  `twice_the_rows`: a kind and the helpers faults and healthy variants are written with;
- `arguments`, `selected`, `print_totals`: the runner's command line, the kinds it selects and its
  totals per seed, healthy or not, and mode.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

DAY = 86400.0

Xform: TypeAlias = Callable[[pd.DataFrame, np.ndarray], tuple[pd.DataFrame, np.ndarray]]
"""Rewrites a world's training rows and labels before a model is fitted (a fault's version)."""
Model: TypeAlias = Callable[[pd.DataFrame], np.ndarray]
"""A fitted model: a frame of inputs to its answers (scores, numbers or class names)."""


@dataclass
class World:
    name: str
    task: str  # "score" (probability of 1), "regression", "classes"
    draw: Callable[[np.random.Generator, int, np.ndarray], tuple[pd.DataFrame, np.ndarray]]
    predict: Model
    used: tuple[str, ...]  # inputs the model reads
    fit: Callable[[np.random.Generator, Xform], Model]
    means: dict[str, float] = field(default_factory=dict)  # the served model's training means (an imputer's fill)
    train: pd.DataFrame = field(default_factory=pd.DataFrame)  # its training rows with their label (a reference)


def bootstrap(data: pd.DataFrame, rng: np.random.Generator, k: int) -> pd.DataFrame:
    """`k` rows drawn with replacement from a dataset's table."""
    return data.iloc[rng.integers(0, len(data), k)].reset_index(drop=True)


@dataclass
class Log:
    world: World
    rng: np.random.Generator
    t: np.ndarray
    batch: np.ndarray  # request batch of each row (rows of a batch share the timestamp)
    X: pd.DataFrame
    y: np.ndarray
    pred: np.ndarray
    clean: np.ndarray  # the served model's answers had nothing gone wrong
    version: np.ndarray
    latency: np.ndarray
    error: np.ndarray
    onset: float
    withheld: bool = False  # no label has arrived since the onset
    labelled: np.ndarray | None = None  # rows whose label has arrived (None: all)
    y_before: np.ndarray | None = None  # the labels before a concept change rewrote them
    notes: list[str] = field(default_factory=list)

    @property
    def after(self) -> np.ndarray:
        return self.t >= self.onset

    def repredict(self, rows: np.ndarray) -> None:
        """The model reads the (rewritten) inputs of these rows."""
        if rows.any():
            self.pred = self.pred.copy()
            self.pred[rows] = self.world.predict(self.X.loc[rows])

    def has_label(self) -> np.ndarray:
        """Rows whose label the log carries: arrived (`labelled`), and not withheld since the onset."""
        keep = np.ones(self.t.size, dtype=bool) if self.labelled is None else self.labelled.copy()
        if self.withheld:
            keep &= ~self.after
        return keep

    def frame(self) -> pd.DataFrame:
        """The log as a serving layer writes it: inputs, time, version, answer, label (empty until it
        arrives), latency and errors."""
        label: np.ndarray = self.y.astype(object) if self.world.task == "classes" else self.y.astype(float)
        label = label.copy()
        label[~self.has_label()] = None if self.world.task == "classes" else np.nan
        return self.X.assign(timestamp=self.t, model_version=self.version, prediction=self.pred, label=label,
                             latency_ms=np.round(self.latency, 2), error=self.error.astype(int))


def diurnal_times(rng: np.random.Generator, n: int, days: float, start: float) -> np.ndarray:
    """`n` sorted request times over `days` from `start`, following a daily wave (a trough at 03:00 UTC)."""
    t = start + rng.uniform(0.0, days * DAY, 4 * n)
    wave = 0.5 + 0.45 * np.sin(2 * np.pi * ((t % DAY) / 3600.0 - 9.0) / 24.0)
    return np.sort(rng.permutation(t[rng.uniform(size=t.size) < wave])[:n])


def loss(task: str, pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-row loss: misclassified (class names), squared error (scores), absolute error (regression)."""
    if task == "classes":
        return (pred.astype(str) != y.astype(str)).astype(float)
    if task == "score":
        return (pred.astype(float) - y.astype(float)) ** 2
    return np.abs(pred.astype(float) - y.astype(float))


@dataclass(frozen=True)
class Expect:
    cause: str
    kinds: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # a name is right when it contains one of these (empty: any name)


@dataclass(frozen=True)
class Kind:
    name: str
    world: str
    apply: Callable[[Log], None]
    expect: Expect
    withheld: bool = False
    n: int = 10000
    days: float = 2.0
    onset_frac: float = 0.62
    reference: bool = False  # pass the served model's training rows as the reference (round 12)


def rows_after(log: Log, share: float, extra: np.ndarray | None = None) -> np.ndarray:
    """A random `share` of the rows since the onset (and in `extra` when given)."""
    hit = log.after & (log.rng.uniform(size=log.t.size) < share)
    return hit if extra is None else hit & extra


def deploy(log: Log, rows: np.ndarray, xform: Xform, name: str) -> None:
    """Version `name`, fitted on training rows rewritten by `xform`, answers these rows."""
    model = log.world.fit(np.random.default_rng(4242), xform)
    log.pred = log.pred.copy()
    log.pred[rows] = model(log.X.loc[rows])
    log.version = log.version.copy()
    log.version[rows] = name


def nothing(log: Log) -> None:
    """Nothing goes wrong: the healthy log as drawn."""
    return None


def retrained(X: pd.DataFrame, y: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The training rows as drawn: a harmless retrain of the same model on fresh rows (an `Xform`)."""
    return X, y


def twice_the_rows(X: pd.DataFrame, y: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Twice the training rows: a version fitted on more data, a little better (an `Xform`)."""
    return pd.concat([X, X], ignore_index=True), np.concatenate([y, y])


def arguments(doc: str | None, default_out: str) -> argparse.ArgumentParser:
    """The runners' common command line: seeds, kinds by name, faults or healthy only, output folder, JSON."""
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--only", nargs="*", default=None, help="kind names (substrings)")
    ap.add_argument("--no-healthy", action="store_true")
    ap.add_argument("--no-faults", action="store_true")
    ap.add_argument("--out", default=default_out)
    ap.add_argument("--json", default=None)
    return ap


def selected(args: argparse.Namespace, kinds: list[Kind], healthy: list[Kind]) -> list[Kind]:
    """The kinds the command line asks for: faults, healthy variants, or those whose names hold an `--only`."""
    chosen = ([] if args.no_faults else kinds) + ([] if args.no_healthy else healthy)
    if args.only:
        chosen = [k for k in chosen if any(o in k.name for o in args.only)]
    return chosen


def print_totals(results: list[dict[str, Any]], seeds: Sequence[int], modes: Sequence[str], width: int) -> None:
    """Right answers per seed, faults or healthy, and mode (onset given or found); withheld-label faults apart."""
    for seed in seeds:
        for healthy in (False, True):
            for mode in modes:
                sel = [r for r in results if r["seed"] == seed and r["healthy"] == healthy and r["mode"] == mode]
                if sel:
                    label = "healthy right" if healthy else "faults right"
                    print(f"seed {seed} {label:14s} {mode:{width}s} {sum(r['right'] for r in sel)}/{len(sel)}"
                          + ("" if healthy else f"  (withheld {sum(r['right'] for r in sel if r['withheld'])}"
                             f"/{sum(r['withheld'] for r in sel)})"))
