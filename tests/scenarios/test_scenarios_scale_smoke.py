"""The scale benchmark runs end to end on a small log (figures are printed, never asserted: it is a
benchmark, not a timed test), and the engine finds the bad canary the benchmark plants."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("diagnose_scale", ROOT / "benchmarks" / "diagnose_scale.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["diagnose_scale"] = module
    spec.loader.exec_module(module)
    return module


def test_scale_benchmark_measures_every_baseline(tmp_path: Path) -> None:
    pytest.importorskip("diagnostics.engine")
    bench = load_benchmark()
    path = tmp_path / "log.parquet"
    meta = bench.write_log(path, rows=20_000, features=12)
    changes = Path(meta["changes"])
    floor = bench.run_child("floor", path, meta["onset"], None)
    ks = bench.run_child("ks", path, meta["onset"], None)
    diag = bench.run_child("diagnose", path, meta["onset"], changes)
    assert ks["columns"] == 10  # the numeric features, not latency
    assert floor["data_bytes"] > 20_000 * 10 * 8
    assert diag["cause"] == "model" and diag["culprit"] == {"kind": "model_version", "name": "v2"}
    runs = {k: bench._median_run([v]) for k, v in (("f", floor), ("k", ks), ("d", diag))}
    text = bench.report(20_000, 12, runs["f"], runs["k"], runs["d"], None, True, 1)
    assert "| mlresponder diagnosis" in text and "Targets:" in text
