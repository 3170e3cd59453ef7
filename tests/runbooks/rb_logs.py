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


def _score_rows(rng: np.random.Generator, start: float, end: float, *, version: str, sharp: float,
                labelled: bool = True) -> list[list[object]]:
    """A binary scorer logging P(positive): labels follow sigmoid(4 x1); the model's score is
    sigmoid(sharp x1) plus noise when it is bad, so a good model (sharp 4) is calibrated."""
    n = int((end - start) / 60.0 * ROWS_PER_MINUTE)
    ts = np.sort(rng.uniform(start, end, n))
    x1 = rng.normal(0.0, 1.0, n)
    x2 = rng.normal(5.0, 2.0, n)
    label = (rng.random(n) < 1.0 / (1.0 + np.exp(-4.0 * x1))).astype(int)
    wobble = 0.0 if sharp >= 4.0 else rng.normal(0.0, 1.0, n)
    score = 1.0 / (1.0 + np.exp(-(sharp * x1 + wobble)))
    lat = rng.gamma(8.0, 5.0, n)
    return [[f"{t:.3f}", version, f"{p:.5f}", int(y) if labelled else "", f"{ms:.2f}", 0, f"{a:.4f}", f"{b:.4f}"]
            for t, p, y, ms, a, b in zip(ts, score, label, lat, x1, x2, strict=True)]


def score_history(now: float, seed: int = 7) -> tuple[list[list[object]], float]:
    """A probability-scoring model; version 2, deployed 60 min ago, is worse (and unsure)."""
    rng = np.random.default_rng(seed)
    start, onset = now - 3 * 3600, now - 3600
    return (_score_rows(rng, start, onset, version="1", sharp=4.0)
            + _score_rows(rng, onset, now, version="2", sharp=0.4)), onset


def score_after_mitigation(start: float, *, recovered: bool, minutes: int = 15, seed: int = 11) -> list[list[object]]:
    """Rows served after the mitigation whose labels have not arrived yet."""
    rng = np.random.default_rng(seed)
    return _score_rows(rng, start, start + minutes * 60, version="1" if recovered else "2",
                       sharp=4.0 if recovered else 0.4, labelled=False)


def unlabelled_after_mitigation(start: float, minutes: int = 15, seed: int = 11,
                                accuracy: float = 0.95) -> list[list[object]]:
    """Class predictions served after the mitigation, none labelled yet."""
    rows = _rows(np.random.default_rng(seed), start, start + minutes * 60, version="1", accuracy=accuracy)
    return [[*r[:3], "", *r[4:]] for r in rows]
