"""Fixtures for the runbook tests: one real MLflow registry (SQLite) per session, a fresh
incident store per test, and a fresh registered model (good, bad and naive versions) per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")

from rb_support import make_runtime  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.runtime import Runtime  # noqa: E402


@dataclass
class MlflowStore:
    uri: str
    good_model_uri: str
    naive_model_uri: str
    run_id: str

    def client(self):  # type: ignore[no-untyped-def]
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def new_model(self, name: str | None = None) -> str:
        """v1 good, v2 the bad deploy (serving, alias champion), v3 the naive fallback (alias + tag)."""
        c = self.client()
        name = name or f"fraud-{uuid.uuid4().hex[:8]}"
        c.create_registered_model(name)
        c.create_model_version(name, source=self.good_model_uri, run_id=self.run_id, description="good")
        c.create_model_version(name, source=self.good_model_uri, run_id=self.run_id, description="bad deploy")
        c.create_model_version(name, source=self.naive_model_uri, run_id=self.run_id,
                               tags={"mlresponder.role": "naive"}, description="majority class")
        c.set_registered_model_alias(name, "fallback", "3")
        c.set_registered_model_alias(name, "champion", "2")
        return name

    def serving(self, name: str, alias: str = "champion") -> str:
        return str(self.client().get_registered_model(name).aliases[alias])


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> MlflowStore:
    """Real scikit-learn models logged once; each test registers its own model from them."""
    import mlflow
    import mlflow.sklearn
    import numpy as np
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment("runbook-tests", artifact_location=str(root / "artifacts"))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    y = (x[:, 0] > 0).astype(int)
    with mlflow.start_run(experiment_id=experiment) as run:
        good = mlflow.sklearn.log_model(LogisticRegression().fit(x, y), name="good",
                                        serialization_format="cloudpickle")
        naive = mlflow.sklearn.log_model(DummyClassifier(strategy="most_frequent").fit(x, y), name="naive",
                                         serialization_format="cloudpickle")
    return MlflowStore(uri=uri, good_model_uri=good.model_uri, naive_model_uri=naive.model_uri,
                       run_id=run.info.run_id)


@pytest.fixture
def rb_settings(tmp_path: Path, mlflow_store: MlflowStore) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'mlresponder.db'}",
        scheduler_enabled=True,
        mlflow_registry_uri=mlflow_store.uri,
        postmortem_dir=str(tmp_path / "postmortems"),
        egress_allow="127.0.0.1",  # the local recording servers stand in for serving platforms
    )


@pytest.fixture
def rt(rb_settings: Settings) -> Iterator[Runtime]:
    runtime = make_runtime(rb_settings)
    try:
        yield runtime
    finally:
        runtime.close()
