"""Round 11's worlds: data the engine was never tuned on, a model fitted here for each.

Each world draws fresh rows (`draw(rng, k)`: a frame of inputs and the labels) and answers them
with its served model (`predict(frame)`), so a fault generator can rewrite the inputs the model
reads, swap the model, or rewrite the labels, and the log is what a serving layer writes.

- `requests`: a generated conversion service (countries, devices, users with a joined lifetime
  value, a slowly wandering market level, hour of day, page views); gradient boosting, scores.
- `randhie`: the RAND health insurance experiment (statsmodels, 20,190 people); doctor visits
  (log) from coinsurance, income, health; gradient boosting regression (weak signal).
- `fair`: the Fair affairs survey (statsmodels, 6,366 women); any affair; logistic regression
  on the survey's answers, scores; a `counselling` column that leaks the label.
- `penguins`: palmerpenguins (344 birds, drawn with measurement noise); species as class names
  from a random forest on the measurements and the island.
- `friedman`: `make_friedman1` (five used inputs of ten); k-nearest neighbours regression.

statsmodels and palmerpenguins are not in the project's environment: install them into a
separate folder and put it on `PYTHONPATH` (see run.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_friedman1
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from benchmarks.outside.common import DAY, Model, World, Xform, bootstrap

__all__ = ["DAY", "MONDAY", "WORLDS", "Model", "World", "Xform"]

MONDAY = pd.Timestamp("2026-11-02T00:00:00Z").timestamp()
COUNTRIES = np.array(["US", "BR", "IN", "DE", "JP", "MX"])
COUNTRY_P = np.array([0.32, 0.2, 0.2, 0.12, 0.09, 0.07])
DEVICES = np.array(["ios", "android", "web", "tablet"])
DEVICE_P = np.array([0.3, 0.27, 0.23, 0.2])


def _market(seed: int) -> Callable[[np.ndarray], np.ndarray]:
    """A slowly varying level: a daily wave (amplitude 0.8, peak at 14:00 UTC) plus a
    mean-reverting wander (time constant 8 hours, spread 0.06) on a 10-minute grid over ten days,
    so a day-old value is the same hour's wave with an unrelated wander."""
    rng = np.random.default_rng(1000 + seed)
    keep = np.exp(-600.0 / (8 * 3600.0))
    shocks = rng.normal(0.0, 0.06 * np.sqrt(1.0 - keep**2), 10 * 144)
    walk = np.zeros(shocks.size)
    for i in range(1, walk.size):
        walk[i] = keep * walk[i - 1] + shocks[i]
    grid = np.arange(walk.size) * 600.0
    return lambda t: 0.8 * np.sin(2 * np.pi * ((t % DAY) / 3600.0 - 8.0) / 24.0) + np.interp(t - MONDAY, grid, walk)


def requests_world(seed: int) -> World:
    rng0 = np.random.default_rng(seed)
    users = 2000
    ltv_table = np.round(rng0.gamma(2.0, 40.0, users), 2)
    market = _market(seed)
    cols = ["hour", "page_views", "session_s", "is_returning", "user_ltv", "market_level", "country", "device"]

    def draw(rng: np.random.Generator, k: int, t: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        user = rng.integers(0, users, k)
        country = rng.choice(COUNTRIES, k, p=COUNTRY_P)
        device = rng.choice(DEVICES, k, p=DEVICE_P)
        hour = np.floor((t % DAY) / 3600.0)
        views = np.round(rng.lognormal(np.log(170.0), 0.45, k))
        session = np.round(rng.lognormal(np.log(90.0), 0.8, k), 1)
        returning = (rng.uniform(size=k) < 0.35).astype(float)
        level = np.round(market(t) + rng.normal(0, 0.12, k), 3)
        ltv = ltv_table[user]
        logit = (-1.6 + 0.9 * returning + 0.006 * (views - 170.0) + 0.35 * np.log(session / 90.0)
                 + 0.012 * (ltv - 80.0) + 1.1 * level + 0.6 * np.sin(2 * np.pi * (hour - 15.0) / 24.0)
                 + np.select([device == "ios", device == "tablet"], [0.4, -0.5], 0.0)
                 + np.select([country == "BR", country == "IN"], [-0.4, -0.6], 0.0))
        y = (rng.uniform(size=k) < 1.0 / (1.0 + np.exp(-logit))).astype(float)
        frame = pd.DataFrame({"user_id": np.char.add("u", user.astype(str)), "hour": hour, "page_views": views,
                              "session_s": session, "is_returning": returning, "user_ltv": ltv,
                              "market_level": level, "country": country, "device": device})
        return frame, y

    def fit(rng: np.random.Generator, xform: Xform) -> Model:
        t = MONDAY + rng.uniform(0.0, 10 * DAY, 6000)
        X, y = xform(*draw(rng, 6000, t))
        enc = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["country", "device"])],
                                remainder="passthrough")
        model = make_pipeline(enc, GradientBoostingClassifier(n_estimators=120, max_depth=3, random_state=0))
        model.fit(X[cols], y)
        return lambda f: np.round(model.predict_proba(f[cols])[:, 1], 4)

    predict = fit(np.random.default_rng(seed + 77), lambda X, y: (X, y))
    return World("requests", "score", draw, predict, tuple(cols), fit)


def randhie_world(seed: int) -> World:
    import statsmodels.api as sm

    data = sm.datasets.randhie.load_pandas().data
    cols = ["lncoins", "idp", "lpi", "fmde", "physlm", "disea", "hlthg", "hlthf", "hlthp"]

    def draw(rng: np.random.Generator, k: int, t: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        f = bootstrap(data, rng, k)
        y = np.round(np.log1p(f.pop("mdvis").to_numpy(dtype=float)), 4)
        f["clinic"] = rng.choice(np.array(["c1", "c2", "c3", "c4", "c5"]), k)
        return f, y

    def fit(rng: np.random.Generator, xform: Xform) -> Model:
        X, y = xform(*draw(rng, 8000, np.zeros(8000)))
        model = GradientBoostingRegressor(n_estimators=150, max_depth=3, random_state=0).fit(X[cols], y)
        return lambda f: np.round(model.predict(f[cols]), 4)

    predict = fit(np.random.default_rng(seed + 77), lambda X, y: (X, y))
    return World("randhie", "regression", draw, predict, tuple(cols), fit)


def fair_world(seed: int) -> World:
    import statsmodels.api as sm

    data = sm.datasets.fair.load_pandas().data
    cols = ["rate_marriage", "age", "yrs_married", "children", "religious", "educ", "occupation",
            "occupation_husb", "counselling"]

    def draw(rng: np.random.Generator, k: int, t: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        f = bootstrap(data, rng, k)
        y = (f.pop("affairs").to_numpy(dtype=float) > 0).astype(float)
        # a column filled in after the fact: a couple in counselling is mostly one that had an affair
        f["counselling"] = (rng.uniform(size=k) < np.where(y > 0, 0.6, 0.03)).astype(float)
        f["region"] = rng.choice(np.array(["north", "south", "east", "west"]), k)
        return f, y

    def fit(rng: np.random.Generator, xform: Xform) -> Model:
        X, y = xform(*draw(rng, 6000, np.zeros(6000)))
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X[cols], y)
        return lambda f: np.round(model.predict_proba(f[cols])[:, 1], 4)

    predict = fit(np.random.default_rng(seed + 77), lambda X, y: (X, y))
    return World("fair", "score", draw, predict, tuple(cols), fit)


def penguins_world(seed: int) -> World:
    from palmerpenguins import load_penguins

    data = load_penguins().dropna().reset_index(drop=True)
    nums = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    cols = [*nums, "island"]
    spread = data[nums].std().to_numpy() * 0.25

    def draw(rng: np.random.Generator, k: int, t: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        f = bootstrap(data, rng, k)
        y = f.pop("species").to_numpy(dtype=object)
        noisy = f[nums].to_numpy(dtype=float) + rng.normal(0.0, 1.0, (k, len(nums))) * spread
        for j, c in enumerate(nums):
            f[c] = np.round(noisy[:, j], 1 if c != "body_mass_g" else 0)
        f["sex"] = f["sex"].astype(str)
        f["band"] = rng.choice(np.array(["red", "blue", "green"]), k)
        f = f.drop(columns=["year"])
        return f, y

    def fit(rng: np.random.Generator, xform: Xform) -> Model:
        X, y = xform(*draw(rng, 3000, np.zeros(3000)))
        enc = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), ["island"])], remainder="passthrough")
        model = make_pipeline(enc, RandomForestClassifier(n_estimators=80, min_samples_leaf=5, random_state=0))
        model.fit(X[cols], y)
        return lambda f: model.predict(f[cols]).astype(str)

    predict = fit(np.random.default_rng(seed + 77), lambda X, y: (X, y))
    return World("penguins", "classes", draw, predict, tuple(cols), fit)


def friedman_world(seed: int) -> World:
    cols = [f"x{i}" for i in range(10)]

    def draw(rng: np.random.Generator, k: int, t: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        X, y = make_friedman1(k, n_features=10, noise=1.0, random_state=int(rng.integers(0, 2**31)))
        return pd.DataFrame(np.round(X, 4), columns=cols), np.round(y, 3)

    def fit(rng: np.random.Generator, xform: Xform) -> Model:
        X, y = xform(*draw(rng, 6000, np.zeros(6000)))
        model = make_pipeline(StandardScaler(), KNeighborsRegressor(n_neighbors=15)).fit(X[cols[:5]] * 1.0, y)
        return lambda f: np.round(model.predict(f[cols[:5]] * 1.0), 3)

    predict = fit(np.random.default_rng(seed + 77), lambda X, y: (X, y))
    return World("friedman", "regression", draw, predict, tuple(cols[:5]), fit)


WORLDS: dict[str, Callable[[int], World]] = {
    "requests": requests_world,
    "randhie": randhie_world,
    "fair": fair_world,
    "penguins": penguins_world,
    "friedman": friedman_world,
}
