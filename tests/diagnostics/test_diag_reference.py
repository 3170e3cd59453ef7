"""A reference that is training data: the log's feature columns (maybe the label), nothing else.

docs/contracts.md asks of a reference set only the log's feature columns; training data has no
time, version or predictions. It used to be refused ("missing required column 'timestamp'"),
and a reference without predictions would have made every feature look unused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from bot.cli import main
from diagnostics import Categorical, diagnose
from diagnostics.engine import reference_is_adjacent
from diagnostics.loader import LogError, load_log
from diagnostics.reference import complete_reference

START = pd.Timestamp("2026-05-01T00:00:00Z")


def _truth(x: np.ndarray) -> np.ndarray:
    return 10 * np.sin(np.pi * x[:, 0] * x[:, 1]) + 20 * (x[:, 2] - 0.5) ** 2 + 10 * x[:, 3] + 5 * x[:, 4]


def _features(x: np.ndarray) -> dict[str, np.ndarray]:
    return {f"f{i}": x[:, i] for i in range(x.shape[1])}


def _training(tmp_path: Path, *, label: bool = True, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    x = rng.random((5_000, 8))
    frame = pd.DataFrame(_features(x))
    if label:
        frame["label"] = _truth(x) + rng.normal(0, 1.0, x.shape[0])
    path = tmp_path / "training.csv"
    frame.to_csv(path, index=False)
    return path


def _log(tmp_path: Path, *, drift: str | None = None, seed: int = 2) -> Path:
    """Eight hours at one row per 4 s, version v3; `drift` moves a feature from the fourth hour on."""
    rng = np.random.default_rng(seed)
    n = 7_200
    x = rng.random((n, 8))
    if drift is not None:
        col = int(drift[1:])
        x[n // 2 :, col] = 0.5 + 0.5 * x[n // 2 :, col]  # the upstream now sends only the upper half
    frame = pd.DataFrame(
        {
            "timestamp": START + pd.to_timedelta(np.arange(n) * 4.0, unit="s"),
            "model_version": "v3",
            "prediction": _truth(x),
            "label": _truth(x) + rng.normal(0, 1.0, n),
            **_features(x),
        }
    )
    path = tmp_path / "log.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_training_set_loads_as_a_reference_and_is_refused_as_a_log(tmp_path: Path) -> None:
    path = _training(tmp_path)
    ref = load_log(path, reference=True)
    assert len(ref) == 5_000 and set(ref.features) == {f"f{i}" for i in range(8)}
    assert ref.label is not None and not np.isfinite(np.asarray(ref.prediction)).any()
    with pytest.raises(LogError, match="missing required column 'timestamp'"):
        load_log(path)


def test_a_reference_without_feature_columns_is_refused_naming_what_is_there(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    pd.DataFrame({"label": [1.0, 2.0]}).to_csv(path, index=False)
    with pytest.raises(LogError, match=r"labels\.csv: a reference needs the log's feature columns.*found: label"):
        load_log(path, reference=True)


def test_completion_fills_only_what_is_empty_and_stays_non_adjacent(tmp_path: Path) -> None:
    log = load_log(_log(tmp_path))
    ref = complete_reference(load_log(_training(tmp_path), reference=True), log)
    assert isinstance(ref.model_version, Categorical)
    assert set(ref.model_version.to_numpy()) == {"v3"}  # the version live when the log began
    assert np.all(np.diff(ref.timestamp) > 0) and ref.timestamp[-1] < log.timestamp[0] - 86_400
    assert not reference_is_adjacent(ref, log)  # training data is not the previous window
    classes = load_log(_log(tmp_path))
    classes_pred = Categorical(np.zeros(len(classes), dtype=np.int64), np.asarray(["ok"], dtype=object))
    typed = complete_reference(
        load_log(_training(tmp_path), reference=True),
        type(classes)(timestamp=classes.timestamp, model_version=classes.model_version, prediction=classes_pred),
    )
    assert isinstance(typed.prediction, Categorical) and (typed.prediction.codes < 0).all()
    # a full prediction log as the reference is left exactly as it is
    full = load_log(_log(tmp_path, seed=5))
    assert complete_reference(full, log) is full


@pytest.mark.parametrize("label", [True, False])
def test_training_reference_localizes_a_used_feature_and_stays_quiet_on_healthy_and_unused(
    tmp_path: Path, label: bool
) -> None:
    ref = load_log(_training(tmp_path, label=label), reference=True)
    healthy = diagnose(load_log(_log(tmp_path)), reference=ref)
    assert healthy.cause == "none", healthy.summary
    drifted = diagnose(load_log(_log(tmp_path, drift="f3")), reference=ref)
    assert (drifted.cause, drifted.culprit_kind, drifted.culprit_name) == ("data", "feature", "f3"), drifted.summary
    # f6 is not an input of the model: its drift is shown, never the verdict (influence read from the log)
    unused = diagnose(load_log(_log(tmp_path, drift="f6")), reference=ref)
    assert unused.cause == "none", unused.summary
    assert any(f.subject == "f6" and f.cause == "data" for f in unused.findings)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any] | None, str]:
    code = main(["diagnose", *args, "--format", "json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def test_cli_takes_a_training_set_as_reference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(
        capsys, "--log", str(_log(tmp_path, drift="f3")), "--reference", str(_training(tmp_path, label=False))
    )
    assert code == 0, err
    assert out is not None and (out["cause"], out["culprit"]) == ("data", {"kind": "feature", "name": "f3"})


def _catalog(tmp_path: Path, log: Path, reference: str) -> Path:
    entry = {"name": "pricing", "prediction_log": str(log), "reference": reference}
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump({"services": [entry]}), encoding="utf-8")
    return path


def test_service_diagnosis_reads_the_catalogs_reference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The whole log drifted against training: without the catalog's reference there is nothing
    before an onset to compare with; with it the feature is found."""
    rng = np.random.default_rng(4)
    n = 3_600
    x = rng.random((n, 8))
    x[:, 3] = 0.5 + 0.5 * x[:, 3]
    log = tmp_path / "drifted.csv"
    pd.DataFrame(
        {
            "timestamp": START + pd.to_timedelta(np.arange(n) * 4.0, unit="s"),
            "model_version": "v3",
            "prediction": _truth(x),
            **_features(x),
        }
    ).to_csv(log, index=False)
    catalog = _catalog(tmp_path, log, str(_training(tmp_path)))
    code, out, err = _cli(capsys, "--service", "pricing", "--catalog", str(catalog))
    assert code == 0, err
    assert out is not None and (out["cause"], out["culprit"]) == ("data", {"kind": "feature", "name": "f3"})

    unreadable = _catalog(tmp_path, log, str(tmp_path / "gone.parquet"))
    code, out, err = _cli(capsys, "--service", "pricing", "--catalog", str(unreadable))
    assert code == 0, err
    assert out is not None
    note = next(f for f in out["findings"] if f["check"] == "source_unavailable" and f["subject"] == "reference")
    assert "could not be read" in note["evidence"] and "gone.parquet" not in note["evidence"]
