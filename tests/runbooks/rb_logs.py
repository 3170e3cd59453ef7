"""Synthetic prediction logs for the runbook tests: a history with one incident of a known cause."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

ROWS_PER_MINUTE = 12
COLUMNS = ["timestamp", "model_version", "prediction", "label", "latency_ms", "error", "x1", "x2"]


def _rows(rng: np.random.Generator, start: float, end: float, *, version: str, accuracy: float,
          latency: float = 40.0, error_rate: float = 0.01, x1_shift: float = 0.0) -> list[list[object]]:
    n = int((end - start) / 60.0 * ROWS_PER_MINUTE)
    ts = np.sort(rng.uniform(start, end, n))
    x1 = rng.normal(0.0 + x1_shift, 1.0, n)
    x2 = rng.normal(5.0, 2.0, n)
    label = (x1 + 0.1 * rng.normal(size=n) > 0).astype(int)
    correct = rng.random(n) < accuracy
    pred = np.where(correct, label, 1 - label)
    lat = rng.gamma(8.0, latency / 8.0, n)
    err = (rng.random(n) < error_rate).astype(int)
    return [[f"{t:.3f}", version, int(p), int(y), f"{ms:.2f}", int(e), f"{a:.4f}", f"{b:.4f}"]
            for t, p, y, ms, e, a, b in zip(ts, pred, label, lat, err, x1, x2, strict=True)]


def write_log(path: Path, rows: list[list[object]], *, append: bool = False) -> Path:
    with path.open("a" if append else "w", newline="") as fh:
        w = csv.writer(fh)
        if not append:
            w.writerow(COLUMNS)
        w.writerows(rows)
    return path


def history(kind: str, now: float, seed: int = 7) -> tuple[list[list[object]], float]:
    """Rows from 3 h ago until now with an incident starting 60 min ago; returns (rows, onset)."""
    rng = np.random.default_rng(seed)
    start, onset = now - 3 * 3600, now - 3600
    good = _rows(rng, start, onset, version="1", accuracy=0.95)
    if kind == "bad_deploy":  # version 2 deployed at the onset is worse
        bad = _rows(rng, onset, now, version="2", accuracy=0.6)
    elif kind == "drift":  # same version, the input shifted
        bad = _rows(rng, onset, now, version="2", accuracy=0.65, x1_shift=2.5)
        good = [[*r[:1], "2", *r[2:]] for r in good]
    elif kind == "latency_model":  # version 2 is much slower
        bad = _rows(rng, onset, now, version="2", accuracy=0.95, latency=400.0)
    elif kind == "latency_service":  # same version, the serving side slowed down
        bad = _rows(rng, onset, now, version="2", accuracy=0.95, latency=400.0)
        good = [[*r[:1], "2", *r[2:]] for r in good]
    elif kind == "healthy":  # nothing happened: version 2 serves as well as before
        bad = _rows(rng, onset, now, version="2", accuracy=0.95)
        good = [[*r[:1], "2", *r[2:]] for r in good]
    elif kind == "errors":  # version 2 fails requests
        bad = _rows(rng, onset, now, version="2", accuracy=0.95, error_rate=0.3)
    else:
        raise ValueError(kind)
    return good + bad, onset


def after_mitigation(kind: str, start: float, *, recovered: bool, minutes: int = 15, seed: int = 11,
                     version: str = "1") -> list[list[object]]:
    rng = np.random.default_rng(seed)
    end = start + minutes * 60
    if recovered:
        return _rows(rng, start, end, version=version, accuracy=0.95)
    if kind == "errors":
        return _rows(rng, start, end, version=version, accuracy=0.95, error_rate=0.3)
    if kind.startswith("latency"):
        return _rows(rng, start, end, version=version, accuracy=0.95, latency=400.0)
    return _rows(rng, start, end, version=version, accuracy=0.6)
