"""Real tabular data bundled with scikit-learn, split and fitted once per (dataset, seed).

Nothing here is downloaded: only the datasets shipped inside the scikit-learn wheel are used.
A `Source` holds the training split (what the model saw), the held-out pool the serving traffic
is resampled from, and the fitted production model, so every scenario of one dataset shares the
same realistic model and its genuine error rate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn import datasets as skdatasets
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

Task = Literal["classification", "regression"]

DATASETS: tuple[str, ...] = ("breast_cancer", "wine", "diabetes", "iris")
# The harder suite (`benchmarks.scenarios.curve`) adds a weak-signal regression (R^2 < 0.2), a
# classifier with under 10% positives, and a held-out dataset kept out of all tuning.
HARD_DATASETS: tuple[str, ...] = ("diabetes_weak", "breast_cancer_rare", "wine", "iris")
HELD_OUT_DATASETS: tuple[str, ...] = ("digits_rare",)
# Fresh inputs (`curve --fresh`): generated data large enough that a log never serves the same
# input twice, nor one of its reference's, as outside checks do. The pools above are small (60-690
# rows, resampled with a 5% jitter), so the reference holds the label of nearly every input served.
FRESH_DATASETS: tuple[str, ...] = ("friedman_fresh", "classification_fresh")
ALL_DATASETS: tuple[str, ...] = (*DATASETS, "diabetes_weak", "breast_cancer_rare", "digits_rare", *FRESH_DATASETS)
FRESH_ROWS = 40_000  # 16,000 to train on, 24,000 fresh rows: a log (up to ~12,000 rows) never wraps its pool
FRESH_POOL_SHARE = 0.6  # a wrapped pool served rows again, which `replayed_requests` rightly saw in healthy logs

# A categorical input derived from the most important feature (quartile bins): it carries signal,
# so unseen codes in it matter to the model.
TIER_COLUMN = "tier"
TIER_LEVELS: tuple[str, ...] = ("bronze", "silver", "gold", "platinum")


@dataclass(frozen=True)
class Source:
    """One dataset prepared for serving simulation."""

    name: str
    task: Task
    features: tuple[str, ...]  # numeric model inputs, snake_case
    class_names: tuple[str, ...]  # empty for regression
    train_x: pd.DataFrame
    train_y: np.ndarray
    pool_x: pd.DataFrame  # held-out rows the traffic is resampled from
    pool_y: np.ndarray
    importance: tuple[str, ...]  # numeric features, most important first (the model's own ranking)
    tier_edges: np.ndarray  # quartile edges of the top feature on the training split
    fresh: bool = False  # served rows are drawn without replacement and without jitter (never repeat)

    @property
    def top_feature(self) -> str:
        return self.importance[0]

    def tier_of(self, values: np.ndarray) -> np.ndarray:
        """Quartile tier of the top feature; NaN values fall in the lowest tier, like a default bucket."""
        idx = np.searchsorted(self.tier_edges, np.nan_to_num(values, nan=-np.inf), side="right")
        return np.asarray(TIER_LEVELS, dtype=object)[np.clip(idx, 0, len(TIER_LEVELS) - 1)]


def snake(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def _load_raw(name: str) -> tuple[pd.DataFrame, np.ndarray, Task, tuple[str, ...]]:
    loaders: dict[str, Any] = {
        "breast_cancer": skdatasets.load_breast_cancer,
        "wine": skdatasets.load_wine,
        "diabetes": skdatasets.load_diabetes,
        "iris": skdatasets.load_iris,
    }
    if name in _DERIVED:
        return _DERIVED[name]()
    if name not in loaders:
        raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(ALL_DATASETS)}")
    bunch = loaders[name]()
    frame = pd.DataFrame(bunch.data, columns=[snake(str(c)) for c in bunch.feature_names])
    if name == "diabetes":
        return frame, np.asarray(bunch.target, dtype=float), "regression", ()
    classes = tuple(snake(str(c)) for c in bunch.target_names)
    labels = np.asarray(classes, dtype=object)[np.asarray(bunch.target, dtype=int)]
    return frame, labels, "classification", classes


def _diabetes_weak() -> tuple[pd.DataFrame, np.ndarray, Task, tuple[str, ...]]:
    """Diabetes with its three strongest inputs left out and a noisier target: held-out R^2 < 0.2."""
    bunch = skdatasets.load_diabetes()
    frame = pd.DataFrame(bunch.data, columns=[snake(str(c)) for c in bunch.feature_names])
    frame = frame.drop(columns=["bmi", "s5", "bp"])
    noise = np.random.default_rng(42).normal(0.0, 40.0, frame.shape[0])
    return frame, np.asarray(bunch.target, dtype=float) + noise, "regression", ()


def _rare(frame: pd.DataFrame, positive: np.ndarray, keep_share: float) -> tuple[pd.DataFrame, np.ndarray]:
    """Keep every negative and a fixed subsample of positives (under 10% positives)."""
    rng = np.random.default_rng(17)
    keep = ~positive | (rng.random(positive.shape[0]) < keep_share)
    return frame.loc[keep].reset_index(drop=True), positive[keep]


def _breast_cancer_rare() -> tuple[pd.DataFrame, np.ndarray, Task, tuple[str, ...]]:
    bunch = skdatasets.load_breast_cancer()
    frame = pd.DataFrame(bunch.data, columns=[snake(str(c)) for c in bunch.feature_names]).iloc[:, :10]
    frame, positive = _rare(frame, np.asarray(bunch.target) == 0, 0.1)  # malignant: ~7% of rows
    labels = np.where(positive, "malignant", "benign").astype(object)
    return frame, labels, "classification", ("benign", "malignant")


def _digits_rare() -> tuple[pd.DataFrame, np.ndarray, Task, tuple[str, ...]]:
    """Digits one-vs-rest ('0' against the rest, ~6% positives) on 4x4 pooled pixels (16 inputs)."""
    bunch = skdatasets.load_digits()
    images = np.asarray(bunch.images, dtype=float).reshape(-1, 4, 2, 4, 2).sum(axis=(2, 4))
    frame = pd.DataFrame(images.reshape(-1, 16), columns=[f"px_{r}{c}" for r in range(4) for c in range(4)])
    frame = frame.loc[:, frame.std() > 0.5]
    frame, positive = _rare(frame, np.asarray(bunch.target) == 0, 0.55)
    labels = np.where(positive, "zero", "other").astype(object)
    return frame, labels, "classification", ("other", "zero")


def _friedman_fresh() -> tuple[pd.DataFrame, np.ndarray, Task, tuple[str, ...]]:
    """make_friedman1: a steep, interacting relation of five inputs; five more are logged and unused."""
    x, y = skdatasets.make_friedman1(n_samples=FRESH_ROWS, n_features=10, noise=1.0, random_state=0)
    return pd.DataFrame(x, columns=[f"x_{i}" for i in range(10)]), np.asarray(y, dtype=float), "regression", ()


def _classification_fresh() -> tuple[pd.DataFrame, np.ndarray, Task, tuple[str, ...]]:
    """make_classification: four informative inputs, two redundant, four noise; ~20% positives, 2% flipped."""
    x, y = skdatasets.make_classification(
        n_samples=FRESH_ROWS,
        n_features=10,
        n_informative=4,
        n_redundant=2,
        weights=[0.8],
        flip_y=0.02,
        random_state=0,
    )
    labels = np.where(y == 1, "pos", "neg").astype(object)
    return pd.DataFrame(x, columns=[f"x_{i}" for i in range(10)]), labels, "classification", ("neg", "pos")


_DERIVED = {
    "diabetes_weak": _diabetes_weak,
    "breast_cancer_rare": _breast_cancer_rare,
    "digits_rare": _digits_rare,
    "friedman_fresh": _friedman_fresh,
    "classification_fresh": _classification_fresh,
}


def model_inputs(source: Source) -> list[str]:
    return [*source.features, TIER_COLUMN]


def make_pipeline(task: Task, features: list[str], random_state: int) -> Pipeline:
    """The production model: impute numerics, one-hot the tier (unknown codes ignored), random forest."""
    pre = ColumnTransformer(
        [
            ("num", SimpleImputer(strategy="median"), features),
            ("cat", OneHotEncoder(handle_unknown="ignore"), [TIER_COLUMN]),
        ]
    )
    est: Any
    if task == "classification":
        est = RandomForestClassifier(n_estimators=60, max_depth=8, random_state=random_state, n_jobs=1)
    else:
        est = RandomForestRegressor(
            n_estimators=60, max_depth=6, min_samples_leaf=3, random_state=random_state, n_jobs=1
        )
    return Pipeline([("pre", pre), ("model", est)])


def fit_model(source: Source, x: pd.DataFrame, y: np.ndarray, random_state: int) -> Pipeline:
    frame = x.copy()
    frame[TIER_COLUMN] = source.tier_of(frame[source.top_feature].to_numpy())
    model = make_pipeline(source.task, list(source.features), random_state)
    model.fit(frame[model_inputs(source)], y)
    return model


@lru_cache(maxsize=32)
def load_source(name: str, split_seed: int) -> Source:
    """Split the dataset 60/40 (fresh datasets 40/60); rank features with a forest fitted on the training split."""
    frame, target, task, classes = _load_raw(name)
    stratify = target if task == "classification" else None
    pool_share = FRESH_POOL_SHARE if name in FRESH_DATASETS else 0.4
    tx, px, ty, py = train_test_split(frame, target, test_size=pool_share, random_state=split_seed, stratify=stratify)
    tx = tx.reset_index(drop=True)
    px = px.reset_index(drop=True)
    features = tuple(frame.columns)
    ranker: Any
    if task == "classification":
        ranker = RandomForestClassifier(n_estimators=100, random_state=split_seed, n_jobs=1)
    else:
        ranker = RandomForestRegressor(n_estimators=100, min_samples_leaf=3, random_state=split_seed, n_jobs=1)
    ranker.fit(tx.to_numpy(), ty)
    order = np.argsort(-ranker.feature_importances_, kind="stable")
    importance = tuple(features[i] for i in order)
    edges = np.quantile(tx[importance[0]].to_numpy(), [0.25, 0.5, 0.75])
    return Source(
        name=name,
        task=task,
        features=features,
        class_names=classes,
        train_x=tx,
        train_y=np.asarray(ty),
        pool_x=px,
        pool_y=np.asarray(py),
        importance=importance,
        tier_edges=np.asarray(edges, dtype=float),
        fresh=name in FRESH_DATASETS,
    )


@lru_cache(maxsize=64)
def production_model(name: str, split_seed: int, model_seed: int) -> Pipeline:
    """The healthy model; a different `model_seed` gives an equivalent retrain (a harmless deploy)."""
    source = load_source(name, split_seed)
    return fit_model(source, source.train_x, source.train_y, model_seed)


@lru_cache(maxsize=64)
def broken_model(name: str, split_seed: int, flaw: str) -> Pipeline:
    """A genuinely worse model version, as shipped by a buggy training run.

    `label_noise`: the training labels were joined on the wrong key for most rows (70% of the rows
    shuffled for classification; all of them for regression, where a forest averages partial noise away).
    `scaler_skew`: the model was trained on standardized features but exported without its scaler,
    so at serving time it reads raw values against thresholds learned in standard units.
    """
    source = load_source(name, split_seed)
    x = source.train_x.copy()
    y = source.train_y.copy()
    rng = np.random.default_rng(split_seed + 7919)
    if flaw.startswith("label_noise"):
        # "label_noise:0.2" grades the flaw (20% of labels shuffled): a moderately worse model
        share = float(flaw.partition(":")[2] or (0.7 if source.task == "classification" else 1.0))
        idx = rng.choice(len(y), size=int(len(y) * share), replace=False)
        y[idx] = y[rng.permutation(idx)]
    elif flaw == "scaler_skew":
        x = (x - x.mean()) / x.std()
    else:
        raise ValueError(f"unknown flaw {flaw!r}")
    return fit_model(source, x, y, split_seed + 1)
