"""Loader typing per docs/contracts.md: timestamps, categoricals, mixed types, change events."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from diagnostics import Categorical
from diagnostics.loader import LogError, frame_to_log, load_changes, load_log


def _write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_typing(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "log.csv",
        "timestamp,model_version,prediction,label,latency_ms,error,age,plan\n"
        "2026-11-27T03:00:00Z,v1,spam,spam,12.5,false,31,gold\n"
        "2026-11-27T04:00:00+01:00,v1,ham,,13.0,true,,silver\n"
        "1795748400,7,ham,spam,14.0,0,40.5,\n",
    )
    log = load_log(path)
    assert log.timestamp.tolist() == [1795748400.0, 1795748400.0, 1795748400.0]
    assert isinstance(log.model_version, Categorical)
    assert log.model_version.to_numpy().tolist() == ["v1", "v1", "7"]
    assert isinstance(log.prediction, Categorical) and isinstance(log.label, Categorical)
    assert log.label.to_numpy().tolist() == ["spam", None, "spam"]
    assert log.error is not None and log.error.tolist() == [0.0, 1.0, 0.0]
    age = log.features["age"]
    assert isinstance(age, np.ndarray) and np.isnan(age[1]) and age[2] == 40.5
    plan = log.features["plan"]
    assert isinstance(plan, Categorical) and plan.to_numpy().tolist() == ["gold", "silver", None]


def test_mixed_types_are_numeric_with_invalid_rows(tmp_path: Path) -> None:
    rows = ["timestamp,model_version,prediction,size"]
    rows += [f"{1795740000 + i},v1,{i % 2},{i}.5" for i in range(20)]
    rows[5] = "1795740004,v1,0,12 mm"  # data row 5, file line 6
    log = load_log(_write_csv(tmp_path / "mixed.csv", "\n".join(rows) + "\n"))
    size = log.features["size"]
    assert isinstance(size, np.ndarray) and np.isnan(size[4]) and size[5] == 5.5
    assert log.invalid["size"].tolist() == [i == 4 for i in range(20)]
    assert any("'size' mixes types" in note and "row 5 (line 6)" in note for note in log.notes)


def test_sqlite_dynamic_types_and_query(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE preds (timestamp TEXT, model_version TEXT, prediction REAL, dose)")
        conn.executemany(
            "INSERT INTO preds VALUES (?, ?, ?, ?)",
            [(f"2026-11-27T03:{i:02d}:00Z", "v1", 0.1 * i, i if i != 7 else "seven") for i in range(30)],
        )
    log = load_log(f"sqlite:///{db}?table=preds")
    dose = log.features["dose"]
    assert isinstance(dose, np.ndarray) and np.isnan(dose[7]) and dose[8] == 8.0
    assert int(log.invalid["dose"].sum()) == 1
    part = load_log(f"sqlite:///{db}", query="SELECT * FROM preds WHERE prediction > 1.5")
    assert len(part) == 14
    with pytest.raises(LogError, match="query failed"):
        load_log(f"sqlite:///{db}", query="SELECT * FROM nowhere")


def test_parquet_categories_and_from_pandas(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2026-11-27", periods=6, freq="min", tz="UTC"),
            "model_version": pd.Categorical(["v1", "v1", "v2", "v2", "v2", "v1"]),
            "prediction": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
            "region": pd.Categorical(["eu", "us", None, "eu", "us", "eu"]),
            "flag": [True, False, True, True, False, False],
        }
    )
    path = tmp_path / "log.parquet"
    frame.to_parquet(path)
    for log in (load_log(path), frame_to_log(frame)):
        assert log.timestamp[1] - log.timestamp[0] == 60.0
        region = log.features["region"]
        assert isinstance(region, Categorical) and region.to_numpy().tolist() == ["eu", "us", None, "eu", "us", "eu"]
        flag = log.features["flag"]
        assert isinstance(flag, np.ndarray) and flag.tolist() == [1.0, 0.0, 1.0, 1.0, 0.0, 0.0]


def test_parquet_columns_are_read_through_the_system_allocator(tmp_path: Path) -> None:
    """A Parquet log's reads allocate from malloc (mimalloc cost a 1M-row load twice the kernel time);
    the process's default pool is left as it was, and the log holds the file's values."""
    import pyarrow as pa

    from diagnostics.loader import _parquet_file

    n = 50_000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"timestamp": pd.date_range("2026-11-27", periods=n, freq="s", tz="UTC"),
                          "model_version": "v1", "prediction": rng.normal(size=n), "x": rng.normal(size=n)})
    path = tmp_path / "log.parquet"
    frame.to_parquet(path)
    default = pa.default_memory_pool().backend_name
    before = pa.system_memory_pool().bytes_allocated()
    column = _parquet_file(path).read(columns=["x"]).column(0)
    assert pa.system_memory_pool().bytes_allocated() - before >= 8 * n
    assert pa.default_memory_pool().backend_name == default
    assert np.array_equal(column.to_numpy(), frame["x"].to_numpy())
    log = load_log(path)
    assert pa.default_memory_pool().backend_name == default
    assert np.array_equal(log.features["x"], frame["x"].to_numpy())


def test_timestamp_errors_name_column_and_row(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "ts.csv", "timestamp,model_version,prediction\n2026-11-27T03:00:00Z,v1,1\n,v1,2\n")
    with pytest.raises(LogError, match=r"ts\.csv: column 'timestamp' is empty at row 2 \(line 3\)"):
        load_log(path)


@pytest.mark.parametrize(
    ("first", "cell", "shown", "unit"),
    [
        ("1795748400", "1795748400000", "1795748400000", "milliseconds"),
        ("2026-11-27T03:00:00Z", "1795748400000000", "'1795748400000000'", "microseconds"),
        ("1795748400", "99999999999", "99999999999", ""),
    ],
)
def test_epoch_outside_range_is_refused_by_name(tmp_path: Path, first: str, cell: str, shown: str, unit: str) -> None:
    """Epoch milliseconds loaded as seconds would be the year 58,000 and crash far away (the onset's ISO text)."""
    path = _write_csv(tmp_path / "ms.csv", f"timestamp,model_version,prediction\n{first},v1,1\n{cell},v1,2\n")
    hint = rf" \(epoch {unit}\? divide to seconds\)" if unit else ""
    expected = rf"ms\.csv: column 'timestamp' has {shown} at row 2 \(line 3\), outside 1900-2200 as epoch "
    expected += rf"seconds{hint};"
    with pytest.raises(LogError, match=expected):
        load_log(path)


def test_change_events(tmp_path: Path) -> None:
    path = tmp_path / "changes.jsonl"
    path.write_text(
        '{"timestamp": "2026-11-27T03:01:00Z", "kind": "model_deploy", "service": "scorer",'
        ' "description": "v7", "from_version": "v6", "to_version": 7}\n'
        "\n"
        '{"timestamp": 1795748400, "kind": "weird"}\n'
    )
    first, second = load_changes(path)
    assert (first.kind, first.from_version, first.to_version) == ("model_deploy", "v6", "7")
    assert first.timestamp == 1795748460.0
    assert (second.kind, second.timestamp) == ("other", 1795748400.0)
    path.write_text("not json\n")
    with pytest.raises(LogError, match="line 1: not valid JSON"):
        load_changes(path)
