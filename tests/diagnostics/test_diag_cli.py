"""`mlresponder diagnose` end to end: files on disk, the JSON contract, markdown, bad input."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from diag_synth import make_case

from bot.cli import main
from diagnostics import Categorical, PredictionLog
from diagnostics.findings import iso_utc
from tests.support.contract import DIAGNOSIS_KEYS, FINDING_KEYS


def _column(values: np.ndarray | Categorical | None) -> np.ndarray:
    assert values is not None
    return values.to_numpy() if isinstance(values, Categorical) else values


def _frame(log: PredictionLog) -> pd.DataFrame:
    cols: dict[str, object] = {
        "timestamp": pd.to_datetime(log.timestamp, unit="s", utc=True),
        "model_version": _column(log.model_version),
        "prediction": _column(log.prediction),
        "label": _column(log.label),
        "latency_ms": log.latency_ms,
        "error": np.asarray(log.error) > 0,
    }
    for name, values in log.features.items():
        cols[name] = _column(values)
    return pd.DataFrame(cols)


@dataclass(frozen=True)
class Files:
    parquet: Path
    csv: Path
    changes: Path
    db: Path
    onset: str


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    base = tmp_path_factory.mktemp("diag_cli")
    case = make_case("bad_version", seed=7)
    frame = _frame(case.log)
    parquet = base / "predictions.parquet"
    frame.to_parquet(parquet)
    csv = base / "predictions.csv"
    out = frame.copy()
    out["timestamp"] = out["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    out.to_csv(csv, index=False)
    changes = base / "changes.jsonl"
    event = {"timestamp": iso_utc(case.onset - 4000), "kind": "infra", "service": "ml", "description": "certs"}
    changes.write_text(json.dumps(event) + "\n")
    db = base / "log.db"
    with sqlite3.connect(db) as conn:
        out.to_sql("predictions", conn, index=False)
    return Files(parquet=parquet, csv=csv, changes=changes, db=db, onset=iso_utc(case.onset))


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _check_contract(payload: dict[str, Any]) -> None:
    assert set(payload) == DIAGNOSIS_KEYS
    assert set(payload["culprit"]) == {"kind", "name"}
    for finding in payload["findings"]:
        assert set(finding) == FINDING_KEYS


@pytest.mark.parametrize("fmt_source", ["parquet", "csv", "sqlite"])
def test_json_contract_from_each_source(fmt_source: str, files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    sources = {
        "parquet": str(files.parquet),
        "csv": str(files.csv),
        "sqlite": f"sqlite:///{files.db}?table=predictions",
    }
    log = sources[fmt_source]
    code, out, err = _run(
        [
            "diagnose",
            "--log",
            log,
            "--changes",
            str(files.changes),
            "--onset",
            str(files.onset),
            "--format",
            "json",
        ],
        capsys,
    )
    assert code == 0, err
    payload = json.loads(out)
    _check_contract(payload)
    assert (payload["cause"], payload["culprit"], payload["recommended_mitigation"]) == (
        "model",
        {"kind": "model_version", "name": "v2"},
        "rollback",
    )
    assert payload["onset"] == files.onset
    assert out.count("\n") == 1  # exactly one JSON object


def test_sql_query_and_detected_onset(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(
        ["diagnose", "--log", f"sqlite:///{files.db}", "--query", "SELECT * FROM predictions WHERE latency_ms > 0"],
        capsys,
    )
    assert code == 0, err
    payload = json.loads(out)
    _check_contract(payload)
    assert payload["cause"] == "model"


def test_markdown_report(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        ["diagnose", "--log", str(files.parquet), "--onset", str(files.onset), "--format", "markdown"], capsys
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "# Diagnosis"
    assert "**Cause: model**" in lines[2] and "`v2`" in lines[2] and "**rollback**" in lines[2]
    assert "| # | cause | check | subject | score | severity | evidence |" in lines
    assert any(line.startswith("| 1 | model | version_change | v2 |") for line in lines)


def test_healthy_log_exits_zero_with_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = make_case("healthy", seed=2)
    path = tmp_path / "healthy.parquet"
    _frame(case.log).to_parquet(path)
    code, out, _ = _run(["diagnose", "--log", str(path)], capsys)
    assert code == 0
    payload = json.loads(out)
    assert (payload["cause"], payload["recommended_mitigation"]) == ("none", "none")


def _expect_error(argv: list[str], capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    code, out, err = _run(argv, capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


def test_missing_required_column(files: Files, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nopred.csv"
    pd.read_csv(files.csv).drop(columns=["prediction"]).to_csv(path, index=False)
    _expect_error(["diagnose", "--log", str(path)], capsys, str(path), "'prediction'", "missing required column")


def test_unparseable_timestamp_names_the_row(files: Files, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = pd.read_csv(files.csv)
    frame.loc[41, "timestamp"] = "yesterday-ish"
    path = tmp_path / "badts.csv"
    frame.to_csv(path, index=False)
    _expect_error(
        ["diagnose", "--log", str(path)], capsys, str(path), "'timestamp'", "row 42", "line 43", "yesterday-ish"
    )


def test_empty_log_and_empty_window(files: Files, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("timestamp,model_version,prediction\n")
    _expect_error(["diagnose", "--log", str(path)], capsys, str(path), "no rows")
    _expect_error(
        ["diagnose", "--log", str(files.parquet), "--onset", "2099-01-01T00:00:00Z"],
        capsys,
        str(files.parquet),
        "no rows at or after the onset",
    )
    _expect_error(["diagnose", "--log", str(tmp_path / "absent.parquet")], capsys, "absent.parquet", "no such file")
    _expect_error(["diagnose", "--log", str(files.parquet), "--onset", "not-a-time"], capsys, "not-a-time")


def test_bad_change_log_names_the_line(files: Files, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "changes.jsonl"
    path.write_text('{"timestamp": "2026-11-27T03:00:00Z", "kind": "model_deploy"}\n{"kind": "infra"}\n')
    _expect_error(
        ["diagnose", "--log", str(files.parquet), "--changes", str(path)], capsys, str(path), "line 2", "'timestamp'"
    )


def test_sql_errors_are_one_line(files: Files, capsys: pytest.CaptureFixture[str]) -> None:
    _expect_error(["diagnose", "--log", f"sqlite:///{files.db}?table=nope"], capsys, "'nope'")
    _expect_error(["diagnose", "--log", f"sqlite:///{files.db}"], capsys, "?table=")


def test_messy_columns_become_findings(files: Files, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = pd.read_csv(files.csv)
    n = len(frame)
    frame["all_nan"] = np.nan
    frame["request_id"] = [f"req-{i}" for i in range(n)]
    mixed = frame["x1"].round(3).astype(object)
    mixed.iloc[::97] = "broken"
    frame["x1"] = mixed
    path = tmp_path / "messy.csv"
    frame.to_csv(path, index=False)
    code, out, err = _run(["diagnose", "--log", str(path), "--onset", str(files.onset), "--details"], capsys)
    assert code == 0, err
    payload = json.loads(out)
    assert payload["cause"] == "model"
    checks = {(f["check"], f["subject"]) for f in payload["findings"]}
    assert ("input_quality", "all_nan") in checks
    assert ("high_cardinality", "request_id") in checks
    notes = [f["evidence"] for f in payload["findings"] if f["check"] == "input_quality" and f["subject"] == "log"]
    assert any("'x1' mixes types" in note and "row 1 " in note and "'broken'" in note for note in notes), notes


def test_console_script_never_prints_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    script = Path(sys.executable).parent / "mlresponder"
    proc = subprocess.run([str(script), "diagnose", "--log", str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert str(path) in proc.stderr and proc.stderr.count("\n") == 1


def test_database_password_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    err = _expect_error(
        ["diagnose", "--log", "nosuchdialect://user:hunter2@db.invalid/x?table=t"],
        capsys,
        "user:***@db.invalid",
        "cannot open the database",
    )
    assert "hunter2" not in err


def test_an_internal_error_is_one_line_too(
    files: Files, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import diagnostics

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(diagnostics, "diagnose", broken)  # a stand-in for a bug in a check
    monkeypatch.delenv("MLRESPONDER_DEBUG", raising=False)
    code, out, err = _run(["diagnose", "--log", str(files.parquet)], capsys)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "RuntimeError: boom" in err and "MLRESPONDER_DEBUG" in err
