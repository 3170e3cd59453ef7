"""Outside-style bad versions with labels withheld after the onset (issue 12, engineer 12t).

Data the engine was never tuned on: generated regressions and classifications with 5-30 inputs
(inputs never repeat: every served row is fresh), and scikit-learn's bundled sets served by models
other than the suite's random forests. A base model serves the first part of the log (labelled);
at the onset a new version takes all traffic or a 10-50% canary, with or without a change event,
and every label since the onset is withheld.

Bad versions (each sized on the rows it served: its mean loss against the base model's on the same
rows, 5-30% worse): more label noise, fewer training rows, a dropped input, a wrong scaler at
serving, a stale model trained on a world whose relation has since moved, an over-regularized fit.
Healthy redeploys (the false-alarm side): the same artifact under a new tag, an equivalent retrain
(another seed, same data), a retrain on more data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn import datasets as skd
from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from diagnostics.log import ChangeRecord

START = pd.Timestamp("2026-10-05T06:00:00Z").timestamp()
BAD_KINDS = ("label_noise", "fewer_rows", "drop_input", "wrong_scaler", "stale", "over_regularized")
HEALTHY_KINDS = ("same_artifact", "equivalent_retrain", "more_data")
GRID = 5  # strengths tried per bad kind; the one nearest the drawn target rise serves


@dataclass
class Data:
    name: str
    task: str  # "regression" | "classification"
    train_x: np.ndarray
    train_y: np.ndarray
    pool_x: np.ndarray  # served rows (drawn without replacement when fresh, else resampled)
    pool_y: np.ndarray
    valid_x: np.ndarray  # sizes a bad version's rise before it is served
    valid_y: np.ndarray
    fresh: bool
    family: str  # model family: "hgb" | "ridge" | "knn" | "logistic" | "extra"
    classes: tuple[str, ...] = ()


@dataclass
class Case:
    name: str
    dataset: str
    seed: int
    kind: str  # a bad kind or a healthy kind
    bad: bool
    share: float  # 1.0 = full deploy, else a canary
    event: bool
    frame: pd.DataFrame
    onset: float
    changes: list[ChangeRecord]
    version: str
    rise: float  # the new version's mean loss on its rows against the base model's on the same rows, -1
    window_rise: float  # the same over every row since the onset
    strength: float = float("nan")
    info: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- data


def _generated(name: str, seed: int) -> Data:
    rng = np.random.default_rng(seed)
    d = int(rng.integers(5, 31))
    n = 30_000
    if name == "gen_regression":
        x, y = skd.make_regression(n, d, n_informative=max(3, d // 2), noise=0.0, random_state=seed)
        y = y / y.std()
        y = y + 0.6 * np.tanh(x[:, 0] * x[:, 1]) + 0.4 * np.sin(2 * x[:, 2]) + rng.normal(0, 0.35, n)
        task, family = "regression", ("hgb" if seed % 2 == 0 else "knn")
    elif name == "friedman":
        x, y = skd.make_friedman1(n, max(d, 5), noise=1.0, random_state=seed)
        task, family = "regression", ("hgb" if seed % 2 else "knn")
    elif name == "gen_classification":
        k = 2 + seed % 2
        x, y = skd.make_classification(
            n,
            d,
            n_informative=max(3, d // 2),
            n_redundant=min(2, d // 4),
            n_classes=k,
            flip_y=0.03,
            class_sep=0.9,
            random_state=seed,
        )
        task, family = "classification", ("logistic" if seed % 2 == 0 else "hgb")
    else:  # hastie: 10 inputs, a spherical boundary
        x, y = skd.make_hastie_10_2(n, random_state=seed)
        y = (y > 0).astype(int)
        task, family = "classification", ("extra" if seed % 2 == 0 else "knn")
    order = rng.permutation(n)
    x, y = x[order], y[order]
    classes: tuple[str, ...] = ()
    if task == "classification":
        classes = tuple(f"class_{c}" for c in ("a", "b", "c", "d")[: int(y.max()) + 1])
    return Data(
        name, task, x[:8000], y[:8000], x[8000:26000], y[8000:26000], x[26000:], y[26000:], True, family, classes
    )


def _bundled(name: str, seed: int) -> Data:
    if name == "breast_cancer_lr":
        x, y = skd.load_breast_cancer(return_X_y=True)
        task, family = "classification", "logistic"
    elif name == "wine_knn":
        x, y = skd.load_wine(return_X_y=True)
        task, family = "classification", "knn"
    else:  # diabetes_ridge
        x, y = skd.load_diabetes(return_X_y=True)
        task, family = "regression", "ridge" if seed % 2 == 0 else "hgb"
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    x, y = x[order].astype(float), y[order]
    cut = int(0.55 * len(y))
    classes = tuple(f"class_{c}" for c in ("a", "b", "c")[: int(y.max()) + 1]) if task == "classification" else ()
    return Data(name, task, x[:cut], y[:cut], x[cut:], y[cut:], x[cut:], y[cut:], False, family, classes)


DATASETS: dict[str, Callable[[str, int], Data]] = {
    "gen_regression": _generated,
    "friedman": _generated,
    "gen_classification": _generated,
    "hastie": _generated,
    "breast_cancer_lr": _bundled,
    "diabetes_ridge": _bundled,
    "wine_knn": _bundled,
}


# ---------------------------------------------------------------- models


def _estimator(data: Data, seed: int, reg: float = 0.0) -> Any:
    """The family's model; `reg` in [0, 1) over-regularizes it (0 = as the team ships it)."""
    f = data.family
    if f == "hgb":
        lr = 0.1 * (1.0 - 0.97 * reg)
        est: Any = (HistGradientBoostingRegressor if data.task == "regression" else HistGradientBoostingClassifier)(
            max_iter=100, learning_rate=lr, random_state=seed
        )
        return est
    if f == "knn":
        k = int(15 + reg * 0.5 * len(data.train_y) ** 0.9)
        cls = KNeighborsRegressor if data.task == "regression" else KNeighborsClassifier
        return make_pipeline(StandardScaler(), cls(n_neighbors=max(1, min(k, len(data.train_y) // 3))))
    if f == "ridge":
        return make_pipeline(StandardScaler(), Ridge(alpha=1.0 + 10 ** (4 * reg) * reg * 200))
    if f == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=10 ** (-4.5 * reg), max_iter=2000))
    return ExtraTreesClassifier(n_estimators=100, min_samples_leaf=1 + int(reg * 400), random_state=seed, n_jobs=1)


class Shifted:
    """A model served behind a wrong scaler: its inputs arrive offset by `shift` (a scaler fitted
    on other data, or one input's units scaled)."""

    def __init__(self, model: Any, shift: np.ndarray, scale: np.ndarray) -> None:
        self.model, self.shift, self.scale = model, shift, scale

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(x * self.scale + self.shift))


class Dropped:
    """A model trained without one input (a feature pipeline that lost it); it ignores the column."""

    def __init__(self, model: Any, keep: np.ndarray) -> None:
        self.model, self.keep = model, keep

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(x[:, self.keep]))


def _fit(data: Data, seed: int, x: np.ndarray, y: np.ndarray, reg: float = 0.0) -> Any:
    return _estimator(data, seed, reg).fit(x, y)


def _loss(data: Data, pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    if data.task == "regression":
        return np.abs(pred - y)
    return (pred != y).astype(float)


def _importance_order(data: Data, base: Any) -> np.ndarray:
    """Inputs by how much the base model's loss rises when one is replaced by its mean."""
    x, y = data.valid_x[:1500], data.valid_y[:1500]
    base_loss = _loss(data, base.predict(x), y).mean()
    rises = []
    for j in range(x.shape[1]):
        xj = x.copy()
        xj[:, j] = xj[:, j].mean()
        rises.append(_loss(data, base.predict(xj), y).mean() - base_loss)
    return np.argsort(-np.asarray(rises), kind="stable")


def bad_model(data: Data, seed: int, kind: str, s: float, base: Any, order: np.ndarray) -> Any:
    """One bad version of `kind` at strength `s` in (0, 1]."""
    rng = np.random.default_rng(seed + 7919)
    x, y = data.train_x, data.train_y
    if kind == "label_noise":
        if data.task == "regression":
            return _fit(data, seed, x, y + rng.normal(0, 2.5 * s * y.std(), y.size))
        flip = rng.random(y.size) < 0.6 * s
        y2 = y.copy()
        y2[flip] = rng.integers(0, int(y.max()) + 1, int(flip.sum()))
        return _fit(data, seed, x, y2)
    if kind == "fewer_rows":
        keep = max(40, int(len(y) * (1.0 - s) ** 3))
        return _fit(data, seed, x[:keep], y[:keep])
    if kind == "drop_input":
        # s picks how important an input is dropped: weaker inputs at low strength
        rank = int(round((1.0 - s) * min(len(order) - 1, 6)))
        keep = np.setdiff1d(np.arange(x.shape[1]), [order[rank]])
        return Dropped(_fit(data, seed, x[:, keep], y), keep)
    if kind == "wrong_scaler":
        std = x.std(axis=0)
        shift = np.zeros(x.shape[1])
        top = order[: max(1, x.shape[1] // 3)]
        shift[top] = rng.choice([-1.0, 1.0], top.size) * 0.8 * s * std[top]
        return Shifted(base, shift, np.ones(x.shape[1]))
    if kind == "stale":
        # trained on a world whose relation has since moved: the label leaned on the top input
        # differently (regression), or part of one region carried the other class
        z = (x[:, order[0]] - x[:, order[0]].mean()) / x[:, order[0]].std()
        if data.task == "regression":
            return _fit(data, seed, x, y + 1.5 * s * y.std() * np.tanh(z))
        region = (z > 0.3) & (rng.random(y.size) < 0.7 * s)
        y2 = y.copy()
        y2[region] = (y2[region] + 1) % (int(y.max()) + 1)
        return _fit(data, seed, x, y2)
    return _fit(data, seed, x, y, reg=min(0.95, s))


def healthy_model(data: Data, seed: int, kind: str, base: Any) -> Any:
    if kind == "same_artifact":
        return base
    if kind == "equivalent_retrain":
        # the same rows in another order and another seed (a bootstrap of a few hundred rows is no
        # equivalent: on breast cancer it doubled a logistic regression's errors)
        idx = np.random.default_rng(seed + 31).permutation(len(data.train_y))
        return _fit(data, seed + 1000, data.train_x[idx], data.train_y[idx])
    # more data: the training rows plus a share of rows labelled since (never the served ones)
    if data.fresh:
        x = np.vstack([data.train_x, data.valid_x[2000:]])
        y = np.concatenate([data.train_y, data.valid_y[2000:]])
    else:
        x, y = data.train_x, data.train_y
    return _fit(data, seed + 2000, x, y)


# ---------------------------------------------------------------- logs


def _serve(data: Data, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    if data.fresh:
        idx = rng.choice(len(data.pool_y), n, replace=False)
        return data.pool_x[idx], data.pool_y[idx]
    idx = rng.integers(0, len(data.pool_y), n)
    return data.pool_x[idx], data.pool_y[idx]


def _as_label(data: Data, y: np.ndarray) -> np.ndarray:
    if data.task == "classification":
        return np.asarray(data.classes, dtype=object)[y.astype(int)]
    return np.round(y, 4)


def build_case(
    dataset: str, seed: int, kind: str, *, share: float, event: bool, target_rise: float, n_rows: int = 8000
) -> Case | None:
    """One log: the base model before the onset, the new version (bad or healthy) from it."""
    data = DATASETS[dataset](dataset, seed)
    base = _fit(data, seed, data.train_x, data.train_y)
    bad = kind in BAD_KINDS
    strength = float("nan")
    if bad:
        order = _importance_order(data, base)
        vx, vy = data.valid_x[:4000], data.valid_y[:4000]
        base_loss = _loss(data, base.predict(vx), vy).mean()
        best: tuple[float, float, Any] | None = None
        for s in np.linspace(0.12, 1.0, GRID):
            m = bad_model(data, seed, kind, float(s), base, order)
            r = _loss(data, m.predict(vx), vy).mean() / max(base_loss, 1e-12) - 1.0
            if 0.04 <= r <= 0.36 and (best is None or abs(r - target_rise) < abs(best[0] - target_rise)):
                best = (r, float(s), m)
        if best is None:
            return None
        _, strength, new = best
    else:
        new = healthy_model(data, seed, kind, base)
    rng = np.random.default_rng(seed * 101 + (BAD_KINDS + HEALTHY_KINDS).index(kind))
    span = 10 * 3600.0
    ts = np.sort(START + rng.uniform(0.0, span, n_rows))
    onset = float(START + 0.5 * span + rng.uniform(-0.05, 0.05) * span)
    x, y = _serve(data, rng, n_rows)
    after = ts >= onset
    on_new = after & (rng.random(n_rows) < share)
    pred_base = np.asarray(base.predict(x))
    pred_new = np.asarray(new.predict(x[on_new]))
    pred = pred_base.copy()
    pred[on_new] = pred_new
    loss_new = _loss(data, pred_new, y[on_new]).mean()
    loss_base_same = _loss(data, pred_base[on_new], y[on_new]).mean()
    window_new = _loss(data, pred[after], y[after]).mean()
    window_base = _loss(data, pred_base[after], y[after]).mean()
    tag = rng.integers(100, 900)
    old_v, new_v = f"{tag}-{rng.integers(1000, 9999):x}", f"{tag + 1}-{rng.integers(1000, 9999):x}"
    frame = pd.DataFrame(np.round(x, 5), columns=[f"x{j:02d}" for j in range(x.shape[1])])
    frame.insert(0, "timestamp", ts)
    frame["model_version"] = np.where(on_new, new_v, old_v)
    if data.task == "classification":
        frame["prediction"] = _as_label(data, pred)
    else:
        frame["prediction"] = np.round(pred, 4)
    label = _as_label(data, y).astype(object)
    label[after] = None
    frame["label"] = label if data.task == "classification" else label.astype(float)
    changes = []
    if event:
        how = "full rollout" if share >= 1.0 else f"canary {share:.0%}"
        changes.append(ChangeRecord(onset, "model_deploy", "scoring", f"deploy {new_v} ({how})", old_v, new_v))
    rollout = "full" if share >= 1.0 else f"canary{share:.2f}"
    return Case(
        name=f"{dataset}/{kind}/s{seed}/{rollout}/{'event' if event else 'silent'}",
        dataset=dataset,
        seed=seed,
        kind=kind,
        bad=bad,
        share=share,
        event=event,
        frame=frame,
        onset=onset,
        changes=changes,
        version=new_v,
        rise=float(loss_new / max(loss_base_same, 1e-12) - 1.0),
        window_rise=float(window_new / max(window_base, 1e-12) - 1.0),
        strength=strength,
        info={"family": data.family, "inputs": int(x.shape[1]), "rows_new": int(on_new.sum())},
    )
