"""A small synthetic prediction log with one injectable fault, for monitor tests.

Two hours of traffic from `START`: the first hour is the reference, the second the monitored
window, and a fault (if any) starts at the window. Numbers are chosen so a healthy log sits
well inside the default thresholds and each fault well outside them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

START = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
ONSET = START + timedelta(hours=1)
END = START + timedelta(hours=2)
COUNTRIES = np.array(["de", "fr", "us", "jp"], dtype=object)

FAULTS = ("healthy", "drift", "missing", "accuracy", "bad_version", "latency", "errors", "unseen", "stuck",
          "traffic")


def make_log(fault: str = "healthy", *, rows_per_minute: float = 60.0, seed: int = 7,
             timestamps: str = "datetime", start: datetime = START) -> pd.DataFrame:
    if fault not in FAULTS:
        raise ValueError(fault)
    rng = np.random.default_rng(seed)
    minutes = 120
    rate = np.full(minutes, rows_per_minute)
    if fault == "traffic":
        rate[60:] *= 0.2
    counts = rng.poisson(rate)
    minute = np.repeat(np.arange(minutes), counts)
    seconds = np.sort(minute * 60.0 + rng.uniform(0, 60, size=minute.size))
    n = seconds.size
    after = seconds >= 3600.0
    amount = rng.lognormal(3.0, 0.5, size=n)
    age = rng.normal(40, 10, size=n)
    country = rng.choice(COUNTRIES, size=n, p=[0.4, 0.3, 0.2, 0.1])
    # the model has learned that fraud rates differ by country: the feature matters to it
    fraud_rate = np.select([country == c for c in COUNTRIES], [0.1, 0.15, 0.3, 0.45])
    truth = np.where(rng.random(n) < fraud_rate, "fraud", "ok").astype(object)
    flip = rng.random(n) < 0.08
    version = np.full(n, "v1", dtype=object)
    latency = rng.lognormal(np.log(30), 0.3, size=n)
    error = rng.random(n) < 0.002
    if fault == "drift":
        amount[after] = amount[after] * 4.0 + 50.0
    elif fault == "missing":
        age[after & (rng.random(n) < 0.3)] = np.nan
    elif fault == "accuracy":
        flip[after] = rng.random(int(after.sum())) < 0.35
    elif fault == "bad_version":
        canary = after & (rng.random(n) < 0.5)
        version[canary] = "v2"
        flip[canary] = rng.random(int(canary.sum())) < 0.45
    elif fault == "latency":
        latency[after] *= 3.0
    elif fault == "errors":
        error[after] = rng.random(int(after.sum())) < 0.10
    elif fault == "unseen":
        country[after & (rng.random(n) < 0.25)] = "xx"
    elif fault == "stuck":
        age[after] = 0.0
    prediction = np.where(flip, np.where(truth == "fraud", "ok", "fraud"), truth).astype(object)
    prediction[error] = None
    label = truth.copy()
    label[rng.random(n) < 0.1] = None
    ts = pd.to_datetime(start) + pd.to_timedelta(seconds, unit="s")
    frame = pd.DataFrame({
        "timestamp": ts if timestamps == "datetime" else ts.astype("int64") / 1e9,
        "model_version": version,
        "prediction": prediction,
        "label": label,
        "latency_ms": np.round(latency, 2),
        "error": error.astype(int),
        "amount": amount,
        "age": age,
        "country": country,
    })
    return frame
