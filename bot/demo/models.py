"""The demo's models: trained on scikit-learn's bundled breast-cancer data, kept in an MLflow registry.

Nothing is downloaded: the data ships with scikit-learn, and the registry is a SQLite file
in the demo's temp folder. Versions: 1 is the champion; 2 is a candidate trained on badly
joined labels (the bad deploy); 3 is the naive fallback, a two-feature model that does not
read ``mean_texture`` (the feature the broken-feature scenario breaks).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MODEL_NAME = "tumor-classifier"
SERVING_ALIAS = "champion"
FALLBACK_ALIAS = "fallback"
FALLBACK_FEATURES = ("mean_area", "mean_concave_points")
SEED = 7


@dataclass(frozen=True)
class Dataset:
    """The training split and the pool live traffic is drawn from (rows the models never saw)."""

    features: list[str]
    x_train: pd.DataFrame
    y_train: pd.Series
    x_live: pd.DataFrame
    y_live: pd.Series


def load_dataset() -> Dataset:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    bunch: Any = load_breast_cancer(as_frame=True)
    frame = bunch.frame.iloc[:, :10].copy()  # the ten "mean ..." measurements keep the log small
    frame.columns = [str(c).replace(" ", "_") for c in frame.columns]
    target = bunch.target.astype(int)
    x_train, x_live, y_train, y_live = train_test_split(
        frame, target, test_size=0.4, random_state=0, stratify=target
    )
    return Dataset(list(frame.columns), x_train, y_train, x_live.reset_index(drop=True),
                   y_live.reset_index(drop=True))


def _pipeline() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def train_champion(data: Dataset) -> Any:
    return _pipeline().fit(data.x_train, data.y_train)


def train_bad_candidate(data: Dataset) -> Any:
    """A candidate whose training labels were joined wrongly for half of the rows."""
    labels = data.y_train.copy()
    misjoined = data.x_train["mean_texture"] > data.x_train["mean_texture"].median()
    labels[misjoined] = 1 - labels[misjoined]
    return _pipeline().fit(data.x_train, labels)


def train_fallback(data: Dataset) -> Any:
    return FeatureSubset(_pipeline().fit(data.x_train[list(FALLBACK_FEATURES)], data.y_train),
                         list(FALLBACK_FEATURES))


def train_on(x: pd.DataFrame, y: pd.Series) -> Any:
    """Retraining: the same pipeline fitted on recent labelled traffic."""
    return _pipeline().fit(x, y)


class FeatureSubset:
    """A model that reads only some columns, so it keeps working when the others break."""

    def __init__(self, model: Any, columns: list[str]) -> None:
        self.model = model
        self.columns = columns

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict_proba(x[self.columns]))


def quiet_mlflow() -> None:
    """MLflow logs store migrations and pickle warnings at INFO/WARNING; the demo prints its own story."""
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="mlflow")


@dataclass
class DemoRegistry:
    """The local MLflow registry with the demo's model versions."""

    uri: str
    folder: Path
    versions: dict[str, str] = field(default_factory=dict)  # role → version number
    _client: Any = None
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def client(self) -> Any:
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        return self._client

    def register(self, model: Any, role: str, description: str, tags: dict[str, str] | None = None) -> str:
        import mlflow.sklearn

        path = self.folder / "artifacts" / f"{role}-{len(self.versions) + 1}"
        mlflow.sklearn.save_model(model, str(path), serialization_format="cloudpickle",
                                  pip_requirements=["scikit-learn"])
        version = str(self.client.create_model_version(MODEL_NAME, source=str(path), description=description,
                                                       tags=tags or {}).version)
        self.versions[role] = version
        return version

    def set_alias(self, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(MODEL_NAME, alias, version)

    def alias_version(self, alias: str = SERVING_ALIAS) -> str:
        return str(self.client.get_registered_model(MODEL_NAME).aliases[alias])

    def load(self, version: str) -> Any:
        """The model of a version, loaded from its registered source (cached: versions are immutable)."""
        if version not in self._cache:
            import mlflow.sklearn

            source = self.client.get_model_version(MODEL_NAME, version).source
            self._cache[version] = mlflow.sklearn.load_model(source)
        return self._cache[version]


def build_registry(folder: Path, data: Dataset) -> DemoRegistry:
    """Create the registry, register champion (v1), bad candidate (v2) and fallback (v3)."""
    quiet_mlflow()
    folder.mkdir(parents=True, exist_ok=True)
    registry = DemoRegistry(f"sqlite:///{folder / 'mlflow.db'}", folder)
    registry.client.create_registered_model(MODEL_NAME, description="mlresponder demo: tumor classifier")
    v1 = registry.register(train_champion(data), "champion", "logistic regression on ten measurements")
    registry.set_alias(SERVING_ALIAS, v1)
    registry.register(train_bad_candidate(data), "candidate", "retrained candidate (label join changed)")
    fallback = registry.register(train_fallback(data), "fallback", "naive fallback: two robust measurements",
                                 tags={"mlresponder.role": "naive"})
    registry.set_alias(FALLBACK_ALIAS, fallback)
    return registry
