"""Outside-style prediction logs with real-world cycles (issue-12s), healthy or with a service fault.

Written outside the engine's tuning: each log is what a team's serving would write — a model fitted
here (linear, gradient boosting, random forest, logistic) on a bundled scikit-learn set or on data
generated with its own clock (bike counts, a building's energy, card payments, ride demand), served
for 6 hours to 14 days in a local time zone, with a daily wave of traffic (one or two peaks), weekends,
a holiday (more or less traffic), closed hours, night lulls, inputs that follow the clock
(temperature, drizzle, occupancy, the hour), harmless redeploys, labels present or withheld after
the alert, and a reference that is either the log's own early part or a separate training file.

A fifth of the logs carry a real service fault on top of the cycles (traffic down to 10–60%, an
outage, an error spike) so that a fix for false alarms can be checked not to blind the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sklearn import datasets as skd
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge

ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "Asia/Kolkata", "America/Los_Angeles",
         "Australia/Sydney", "America/Sao_Paulo", "UTC", "Europe/London", "America/Chicago")
HOURS = (6, 8, 10, 12, 16, 20, 24, 36, 48, 72, 120, 168, 240, 336)
DATASETS = ("bike", "energy", "payments", "rides", "diabetes", "breast_cancer", "wine", "friedman")
FAULTS = ("traffic_drop", "outage", "error_spike")


@dataclass
class Spec:
    seed: int
    dataset: str
    model: str
    hours: int
    zone: str
    start: datetime
    shape: str  # traffic shape: wave, two_peaks, closed, night_lull
    weekend: float  # traffic factor on Saturday/Sunday
    holiday: float  # traffic factor on the holiday (1 = none)
    labels: str  # present | withheld
    reference: str  # own | training
    redeploy: bool
    fault: str  # "" (healthy) or one of FAULTS
    fault_size: float
    onset_share: float
    prob_scores: bool
    notes: dict[str, Any] = field(default_factory=dict)


def make_spec(seed: int) -> Spec:
    rng = np.random.default_rng(seed)
    hours = int(rng.choice(HOURS))
    start_day = datetime(2026, 3, 2, tzinfo=UTC).timestamp() + 86400 * int(rng.integers(0, 240))
    start = datetime.fromtimestamp(start_day + 3600 * float(rng.choice([0, 0, 5, 9, 13, 17.5])), tz=UTC)
    dataset = str(rng.choice(DATASETS))
    classifier = dataset in ("payments", "breast_cancer", "wine")
    model = str(rng.choice(["logistic", "gbm", "forest"] if classifier else ["linear", "gbm", "forest"]))
    shape = str(rng.choice(["wave", "wave", "two_peaks", "closed", "night_lull"], p=[0.3, 0.1, 0.25, 0.15, 0.2]))
    if shape == "closed" and hours < 48:  # a short log of a closed service may hold no open hour
        shape = "wave"
    fault = str(rng.choice(FAULTS)) if rng.random() < 0.2 else ""
    size = {"traffic_drop": float(rng.uniform(0.1, 0.6)), "outage": float(rng.uniform(20, 90)),
            "error_spike": float(rng.uniform(0.08, 0.3))}.get(fault, 0.0)
    return Spec(
        seed=seed, dataset=dataset, model=model, hours=hours, zone=str(rng.choice(ZONES)), start=start,
        shape=shape, weekend=float(rng.uniform(0.55, 1.0)),
        holiday=float(rng.choice([1.0, 1.0, 1.8, 2.5, 0.6])) if hours >= 48 else 1.0,
        labels=str(rng.choice(["present", "withheld"])), reference=str(rng.choice(["own", "own", "training"])),
        redeploy=bool(rng.random() < 0.4), fault=fault, fault_size=size,
        onset_share=float(rng.uniform(0.3, 0.9)), prob_scores=bool(rng.random() < 0.5),
    )


def _local(ts: np.ndarray, zone: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local hour (fractional), weekday (0 = Monday) and local day index, daylight saving included."""
    idx = pd.to_datetime(ts, unit="s", utc=True).tz_convert(ZoneInfo(zone))
    hour = np.asarray(idx.hour + idx.minute / 60.0, dtype=float)
    weekday = np.asarray(idx.weekday, dtype=int)
    day = np.asarray((idx.normalize().tz_localize(None) - pd.Timestamp("2026-01-01")).days, dtype=int)
    return hour, weekday, day


def traffic(spec: Spec, rng: np.random.Generator, base_per_min: float) -> np.ndarray:
    """Row timestamps: a Poisson count per minute following the day, the week and the holiday."""
    t0 = spec.start.timestamp()
    minutes = t0 + 60.0 * np.arange(spec.hours * 60)
    hour, weekday, day = _local(minutes, spec.zone)
    if spec.shape == "two_peaks":
        rate = 0.35 + np.exp(-0.5 * ((hour - 8.5) / 1.3) ** 2) + 1.1 * np.exp(-0.5 * ((hour - 18) / 1.8) ** 2)
    else:
        amp = rng.uniform(0.4, 0.85)
        rate = 1 + amp * np.cos(2 * np.pi * (hour - rng.uniform(13, 20)) / 24)
    if spec.shape == "night_lull":
        rate = np.where((hour >= 1) & (hour < 6), rate.mean() * 0.4, rate)
    weekend = weekday >= 5
    rate = rate * np.where(weekend, spec.weekend, 1.0)
    if spec.shape == "closed" and bool(((hour >= 8) & (hour < 19) & ~weekend).any()):
        rate = np.where((hour >= 8) & (hour < 19) & ~weekend, rate, 0.0)
    if spec.holiday != 1.0:
        days = np.unique(day)
        hol = days[len(days) // 2] if len(days) > 2 else -1
        rate = rate * np.where(day == hol, spec.holiday, 1.0)
    counts = rng.poisson(base_per_min * rate / rate.mean())
    ts = np.repeat(minutes, counts) + rng.uniform(0, 60, counts.sum())
    return np.sort(ts)


def _weather(ts: np.ndarray, spec: Spec, rng: np.random.Generator) -> dict[str, np.ndarray]:
    hour, _, day = _local(ts, spec.zone)
    days = day - day.min()
    # day-to-day weather: a mean-reverting walk (a warm spell lasts a few days, then passes)
    walk = np.zeros(days.max() + 2)
    for i in range(1, len(walk)):
        walk[i] = 0.7 * walk[i - 1] + rng.normal(0, 1.5)
    climate = 14 + np.random.default_rng(spec.seed + 99).uniform(-6, 10)  # the season: the same for every file
    temp = climate + walk[days] + rng.uniform(3, 7) * np.cos(2 * np.pi * (hour - 15) / 24)
    temp = temp + rng.normal(0, 0.6, len(ts))
    humid = np.clip(70 - 2.0 * (temp - temp.mean()) + rng.normal(0, 6, len(ts)), 10, 100)
    # drizzle: spells of light rain, mostly 0, small values rounded to 0.1 mm
    hours_idx = ((ts - ts[0]) // 3600).astype(int)
    wet = rng.random(hours_idx.max() + 1) < rng.uniform(0.05, 0.3)
    wet = wet | np.roll(wet, 1)
    amount = np.round(rng.exponential(0.4, len(ts)) * wet[hours_idx], 1)
    return {"temperature": np.round(temp, 1), "humidity": np.round(humid, 0), "rain_mm": amount}


def inputs_and_target(
    spec: Spec, ts: np.ndarray, rng: np.random.Generator, part: int = 1
) -> tuple[pd.DataFrame, np.ndarray]:
    """The model's inputs at each row's time and the true outcome (`part` 0: a bundled set's training half)."""
    hour, weekday, day = _local(ts, spec.zone)
    n = len(ts)
    cal = {"hour": np.floor(hour), "day_name": np.array(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])[weekday]}
    d = spec.dataset
    if d == "bike":
        w = _weather(ts, spec, rng)
        commute = np.exp(-0.5 * ((hour - 8) / 1.2) ** 2) + np.exp(-0.5 * ((hour - 17.5) / 1.5) ** 2)
        commute = np.where(weekday >= 5, 0.4 * np.exp(-0.5 * ((hour - 14) / 3) ** 2), commute)
        mu = np.exp(1.5 + 1.2 * commute + 0.04 * w["temperature"] - 0.5 * np.minimum(w["rain_mm"], 2))
        y = rng.poisson(mu).astype(float)
        X = pd.DataFrame({**w, "hour": cal["hour"], "workday": (weekday < 5).astype(float)})
    elif d == "energy":
        w = _weather(ts, spec, rng)
        occ = np.where((weekday < 5) & (hour >= 8) & (hour < 18), rng.uniform(0.5, 1.0, n), rng.uniform(0, 0.1, n))
        y = 40 + 3.0 * np.abs(w["temperature"] - 18) + 60 * occ + rng.normal(0, 5, n)
        X = pd.DataFrame({"outdoor_temp": w["temperature"], "occupancy": np.round(occ, 2), "hour": cal["hour"],
                          "day_name": cal["day_name"]})
    elif d == "payments":
        amount = np.exp(3 + 0.4 * np.sin(2 * np.pi * (hour - 14) / 24) + rng.normal(0, 0.9, n))
        session = np.exp(4 + 0.3 * np.cos(2 * np.pi * (hour - 21) / 24) + rng.normal(0, 0.6, n))
        country = rng.choice(["DE", "FR", "US", "BR", "IN"], n, p=[0.3, 0.2, 0.25, 0.15, 0.1])
        night = ((hour < 5) | (hour > 23)).astype(float)
        logit = -3.2 + 0.5 * np.log(amount) - 0.4 * np.log(session) + 0.8 * night + 0.6 * (country == "BR")
        y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
        X = pd.DataFrame({"amount": np.round(amount, 2), "session_s": np.round(session, 0), "country": country,
                          "hour": cal["hour"]})
    elif d == "rides":
        w = _weather(ts, spec, rng)
        demand = 20 + 15 * np.exp(-0.5 * ((hour - 18) / 2.5) ** 2) + 5 * (weekday >= 5) + rng.normal(0, 3, n)
        y = 5 + 0.3 * demand + 0.8 * w["rain_mm"] + 0.05 * w["temperature"] + rng.normal(0, 2, n)
        X = pd.DataFrame({"demand": np.round(demand, 1), "rain_mm": w["rain_mm"], "temperature": w["temperature"],
                          "day_name": cal["day_name"]})
    else:
        X0, y0 = _bundled(d, np.random.default_rng(spec.seed + 5))
        half = np.random.default_rng(spec.seed + 6).permutation(len(X0)) % 2 == part  # rows never trained on
        X0, y0 = X0.iloc[np.flatnonzero(half)].reset_index(drop=True), y0[half]
        # rows follow the clock: the first input's rank is tilted towards the evening
        order = np.argsort(np.argsort(X0.iloc[:, 0].to_numpy())) / len(X0)
        tilt = 0.5 + 0.5 * np.cos(2 * np.pi * (hour - 19) / 24)
        pick = np.clip((0.35 * tilt + 0.65 * rng.random(n)) * len(X0), 0, len(X0) - 1).astype(int)
        rows = np.argsort(order)[pick]
        X = X0.iloc[rows].reset_index(drop=True)
        X = X.assign(hour=cal["hour"])
        y = y0[rows].astype(float)
    return X, y


def _bundled(name: str, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    if name == "diabetes":
        b = skd.load_diabetes(as_frame=True)
        return b.frame.drop(columns="target").iloc[:, :6], b.target.to_numpy()
    if name == "breast_cancer":
        b = skd.load_breast_cancer(as_frame=True)
        return b.frame.iloc[:, :8], b.target.to_numpy()
    if name == "wine":
        b = skd.load_wine(as_frame=True)
        return b.frame.drop(columns="target"), (b.target.to_numpy() == 0).astype(float)
    X, y = skd.make_friedman1(n_samples=3000, noise=1.0, random_state=int(rng.integers(1 << 30)))
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(10)]), y


def fit(spec: Spec, X: pd.DataFrame, y: np.ndarray, seed: int) -> Any:
    classifier = spec.dataset in ("payments", "breast_cancer", "wine")
    Xn = pd.get_dummies(X, dtype=float)
    if classifier:
        model = {"logistic": LogisticRegression(max_iter=2000, C=0.5),
                 "gbm": HistGradientBoostingClassifier(max_iter=80, random_state=seed),
                 "forest": RandomForestClassifier(60, min_samples_leaf=5, random_state=seed, n_jobs=1)}[spec.model]
    else:
        model = {"linear": Ridge(1.0), "gbm": HistGradientBoostingRegressor(max_iter=80, random_state=seed),
                 "forest": RandomForestRegressor(60, min_samples_leaf=5, random_state=seed, n_jobs=1)}[spec.model]
    model.fit(Xn, y)
    return model, list(Xn.columns)


def predict(spec: Spec, fitted: Any, X: pd.DataFrame) -> np.ndarray:
    model, cols = fitted
    Xn = pd.get_dummies(X, dtype=float).reindex(columns=cols, fill_value=0.0)
    if spec.dataset in ("payments", "breast_cancer", "wine"):
        if spec.prob_scores:
            return np.round(model.predict_proba(Xn)[:, 1], 4)
        return model.predict(Xn).astype(float)
    return np.round(model.predict(Xn), 3)


@dataclass
class Built:
    spec: Spec
    log: Path
    reference: Path | None
    changes: list[dict[str, Any]]
    onset: float  # the alert's time (epoch seconds)
    expected: str  # "none" or the fault's culprit kind


def build(spec: Spec, folder: Path) -> Built:
    rng = np.random.default_rng(spec.seed + 7)
    base = float(rng.choice([2.0, 5.0, 12.0, 25.0])) if spec.hours >= 48 else float(rng.choice([3.0, 8.0, 20.0]))
    base = min(base, 60000 / (spec.hours * 60))
    ts = traffic(spec, rng, base)
    t0, t1 = spec.start.timestamp(), spec.start.timestamp() + spec.hours * 3600
    onset = t0 + spec.onset_share * (t1 - t0)
    if spec.fault == "traffic_drop":
        after = ts >= onset
        ts = ts[~after | (rng.random(len(ts)) < spec.fault_size)]
    elif spec.fault == "outage":
        ts = ts[(ts < onset) | (ts >= onset + 60 * spec.fault_size)]
    X, y = inputs_and_target(spec, ts, rng)
    # the model is trained on three earlier days; the reference is the log's own early part, or a
    # validation file of the following days scored out of sample (what a team keeps beside its model)
    hist = traffic(Spec(**{**spec.__dict__, "start": datetime.fromtimestamp(t0 - 7 * 86400, tz=UTC),
                           "hours": 144}), rng, 4.0)
    k = len(hist) // 2
    Xt, yt = inputs_and_target(spec, hist[:k], rng, part=0)
    train_ts = hist[k:]
    fitted = fit(spec, Xt, yt, spec.seed)
    pred = predict(spec, fitted, X)
    versions = np.full(len(ts), "v7", dtype=object)
    changes: list[dict[str, Any]] = []
    if spec.redeploy:
        # a harmless redeploy: the same recipe refitted on a fresh sample of the same rows
        at = t0 + float(rng.uniform(0.2, 0.95)) * (t1 - t0)
        keep = rng.random(len(Xt)) < 0.9  # 90% of the same training rows, another seed
        refit = fit(spec, Xt[keep], np.asarray(yt)[keep], spec.seed + 1)
        later = ts >= at
        if later.any():
            pred[later] = predict(spec, refit, X[later])
        versions[later] = "v8"
        changes.append({"timestamp": datetime.fromtimestamp(at, tz=UTC).isoformat(), "kind": "model_deploy",
                        "service": "scorer", "description": "redeploy v8", "from_version": "v7", "to_version": "v8"})
    hour, _, _ = _local(ts, spec.zone)
    load = 1 + 0.3 * np.cos(2 * np.pi * (hour - 18) / 24)
    latency = np.round(rng.lognormal(np.log(35 * load), 0.3), 1)
    err_p = np.full(len(ts), 0.003)
    if spec.fault == "error_spike":
        err_p[ts >= onset] = spec.fault_size
    error = (rng.random(len(ts)) < err_p).astype(float)
    label = y.copy()
    if spec.labels == "withheld":
        label[ts >= onset] = np.nan
    frame = pd.DataFrame({"timestamp": pd.to_datetime(ts, unit="s", utc=True), "model_version": versions,
                          "prediction": pred, "label": label, "latency_ms": latency, "error": error})
    frame = pd.concat([frame, X.reset_index(drop=True)], axis=1)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"log_{spec.seed}.parquet"
    frame.to_parquet(path, index=False)
    ref_path = None
    if spec.reference == "training":
        Xv, yv = inputs_and_target(spec, train_ts, rng)
        ref = pd.DataFrame({"timestamp": pd.to_datetime(train_ts, unit="s", utc=True), "model_version": "v7",
                            "prediction": predict(spec, fitted, Xv), "label": np.asarray(yv, dtype=float)})
        ref = pd.concat([ref, Xv], axis=1)
        ref_path = folder / f"ref_{spec.seed}.parquet"
        ref.to_parquet(ref_path, index=False)
    expected = {"traffic_drop": "traffic", "outage": "traffic", "error_spike": "errors"}.get(spec.fault, "none")
    return Built(spec, path, ref_path, changes, onset, expected)
