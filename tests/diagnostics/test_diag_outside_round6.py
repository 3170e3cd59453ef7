"""Classes of misses found by the sixth outside-style check (docs/diagnostics.md, "Outside-style checks").

Each log is written as a user writes one (docs/contracts.md columns, a file read by the loader)
from data that ships with scikit-learn and a model fitted here; each test asserts the answer a
person on call would want, and failed before its fix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from diagnostics import diagnose
from diagnostics.loader import frame_to_log, load_log
from diagnostics.onset import seasonal_step

START = pd.Timestamp("2026-10-05T06:00:00Z").timestamp()


def _daily_arrivals(rng: np.random.Generator, n: int, hours: float, amplitude: float = 0.35) -> np.ndarray:
    """Arrival times whose rate follows the clock: lowest at 03:00 UTC, highest at 15:00."""
    grid = np.arange(0.0, hours * 3600.0 + 30.0, 30.0)
    rate = 1.0 + amplitude * np.cos(2 * np.pi * (((START + grid) / 3600.0) % 24 - 15.0) / 24.0)
    cum = np.cumsum(rate) / rate.sum()
    return START + np.interp(np.sort(rng.uniform(size=n)), cum, grid)


def _write(df: pd.DataFrame, ts: np.ndarray, path: Path) -> Path:
    out = df.copy()
    out.insert(0, "timestamp", pd.to_datetime(ts, unit="s", utc=True).tz_convert("Europe/Berlin"))
    out = out.sample(frac=1.0, random_state=0)  # rows arrive unordered
    if path.suffix == ".csv":
        out.to_csv(path, index=False)
    else:
        out.to_parquet(path, index=False)
    return path


def test_a_daily_traffic_hump_is_not_an_onset() -> None:
    """Over 16 hours traffic rises to its afternoon peak and falls again; a line leaves the hump
    to a step, which scored 11 at 15% of the log. Against a daily cycle it is no step, while a
    real change of rate on top of the same hump still is."""
    rng = np.random.default_rng(4)
    bins = 400
    centres = START + (np.arange(bins) + 0.5) * (16 * 3600.0 / bins)
    hump = 40.0 * (1.0 + 0.35 * np.cos(2 * np.pi * (((centres / 3600.0) % 24) - 15.0) / 24.0))
    quiet = rng.poisson(hump).astype(float)
    assert seasonal_step(quiet, centres, 0.15, 0.95)[1] < 4.0
    stepped = rng.poisson(hump * np.where(np.arange(bins) >= 240, 1.3, 1.0)).astype(float)
    at, z, _ = seasonal_step(stepped, centres, 0.15, 0.95)
    assert z >= 6.0 and abs(at - 240) <= 3


def test_a_bad_version_on_one_segment_is_dated_under_a_daily_traffic_hump(tmp_path: Path) -> None:
    """A routing rule sends one country to a worse model 8.8 h into a 16-hour log whose traffic
    follows the clock: the onset was read off the traffic hump (2.4 h in), six hours early."""
    rng = np.random.default_rng(7)
    n = 16000
    X, y = make_classification(n + 4000, n_features=5, n_informative=4, n_redundant=0, random_state=7)
    good = LogisticRegression().fit(X[:4000], y[:4000])
    bad = LogisticRegression().fit(X[:300], np.where(rng.uniform(size=300) < 0.4, 1 - y[:300], y[:300]))
    Xl, yl = X[4000:], y[4000:]
    ts = _daily_arrivals(rng, n, 16.0)
    onset = START + 0.55 * 16 * 3600.0
    country = rng.choice(["US", "CA", "MX", "UK"], n, p=[0.45, 0.25, 0.15, 0.15])
    routed = (ts >= onset) & (country == "MX")
    score = np.where(routed, bad.predict_proba(Xl)[:, 1], good.predict_proba(Xl)[:, 1])
    df = pd.DataFrame({"model_version": np.where(routed, "lr-3-mx", "lr-2"), "prediction": np.round(score, 4),
                       "label": yl, "country": country})
    for i in range(5):
        df[f"f{i}"] = np.round(Xl[:, i], 4)
    d = diagnose(load_log(_write(df, ts, tmp_path / "log.parquet")))
    assert d.onset_detected
    assert abs(d.onset - onset) <= 900.0, (d.onset - onset) / 60.0
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("model", "model_version", "lr-3-mx")


def _cancer_rows(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    data = load_breast_cancer(as_frame=True)
    idx = rng.integers(0, len(data.frame), n)
    X = data.data.iloc[idx, :8].reset_index(drop=True)
    X = X * (1.0 + rng.normal(0.0, 0.03, X.shape))
    X.columns = [c.replace(" ", "_") for c in X.columns]
    return X.round(4), data.target.to_numpy()[idx]


def test_missing_values_written_as_minus_one_are_a_data_fault(tmp_path: Path) -> None:
    """Since the onset an upstream job writes a missing `mean_area` as -1 instead of an empty
    cell, and the gaps grew to a third of the rows. No value moved far, the missing rate fell,
    the model reads -1 as a tiny tumour: the verdict was "none" or concept drift."""
    rng = np.random.default_rng(11)
    Xtr, ytr = _cancer_rows(rng, 3000)
    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(Xtr, ytr)
    n = 9000
    X, y = _cancer_rows(rng, n)
    ts = START + np.sort(rng.uniform(0.0, 10 * 3600.0, n))
    onset = START + 6 * 3600.0
    gap = rng.uniform(size=n) < 0.05
    X.loc[gap, "mean_area"] = np.nan
    after = ts >= onset
    X.loc[after & (gap | (rng.uniform(size=n) < 0.3)), "mean_area"] = -1.0
    df = X.copy()
    df.insert(0, "model_version", "lr-9")
    df.insert(1, "prediction", np.round(model.predict_proba(X)[:, 1], 4))
    df.insert(2, "label", y)
    d = diagnose(load_log(_write(df, ts, tmp_path / "log.csv")), onset=onset)
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("data", "feature", "mean_area")
    top = d.findings[0]
    assert top.check == "stuck_values" and top.details["placeholder_value"] == -1.0


def test_hours_of_a_later_window_are_neither_drift_nor_a_placeholder() -> None:
    """An hour-of-day input takes values in the afternoon window that the morning never had,
    each a large share of the rows: the whole column moved with the clock, no value is a fill,
    and no drift either (it was reported as drift and out-of-range at 0.2-0.28 on healthy logs)."""
    rng = np.random.default_rng(5)
    n = 8000
    ts = START + np.sort(rng.uniform(0.0, 12 * 3600.0, n))
    X, y = make_classification(n, n_features=3, n_informative=3, n_redundant=0, random_state=5)
    hour = (((ts / 3600.0) + 1) % 24).astype(int).astype(float)
    model = LogisticRegression().fit(X, y)
    score = np.round(model.predict_proba(X)[:, 1], 4)
    df = pd.DataFrame({"timestamp": ts, "model_version": "lr-1", "prediction": score, "label": y,
                       "hour": hour, "f0": X[:, 0], "f1": X[:, 1], "f2": X[:, 2]})
    d = diagnose(frame_to_log(df, name="hours"), onset=START + 7 * 3600.0)
    assert not [f for f in d.findings if f.subject == "hour"], [(f.check, f.score) for f in d.findings]
    assert d.cause == "none"


@pytest.mark.parametrize("seed", [21, 39])
def test_a_campaign_code_in_an_unused_column_against_training_data_is_no_fault(tmp_path: Path, seed: int) -> None:
    """The reference is training data (features and labels, no predictions), so it has no loss;
    the rows carrying a never-seen campaign code were then never compared with anything and a
    60% share put a floor of 0.4 under a column the model does not read. Those rows do as well
    as the other rows of the same window: no fault. With seed 39 they are worse by chance
    (z 2.2, under the bar of 3 that harm is held to), which also put the floor under them."""
    rng = np.random.default_rng(seed)
    X, y = make_classification(12000, n_features=4, n_informative=4, n_redundant=0, random_state=seed)
    model = LogisticRegression().fit(X[:4000], y[:4000])
    promo = rng.choice(["NONE", "SAVE10", "FREESHIP"], 12000, p=[0.7, 0.2, 0.1]).astype(object)
    ref = pd.DataFrame({f"f{i}": X[:4000, i] for i in range(4)})
    ref["promo_code"] = promo[:4000]
    ref["label"] = y[:4000]
    n = 8000
    ts = START + np.sort(rng.uniform(0.0, 10 * 3600.0, n))
    onset = START + 5 * 3600.0
    promo_log = promo[4000:].copy()
    promo_log[(ts >= onset) & (rng.uniform(size=n) < 0.6)] = "BLACKFRIDAY"
    df = pd.DataFrame({"model_version": "lr-1", "prediction": np.round(model.predict_proba(X[4000:])[:, 1], 4),
                       "label": y[4000:], "promo_code": promo_log})
    for i in range(4):
        df[f"f{i}"] = X[4000:, i]
    log = load_log(_write(df, ts, tmp_path / "log.parquet"))
    ref.to_parquet(tmp_path / "train.parquet", index=False)
    reference = load_log(tmp_path / "train.parquet", reference=True)
    d = diagnose(log, reference=reference, onset=onset)
    assert d.cause == "none", [(f.check, f.subject, f.score) for f in d.findings[:3]]
    unseen = [f for f in d.findings if f.check == "unseen_categories"]
    assert unseen and unseen[0].score < 0.3 and "loss_z" in unseen[0].details


def _classifier_log(rng: np.random.Generator, n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, object]:
    X, y = make_classification(n + 3000, n_features=4, n_informative=4, n_redundant=0, class_sep=1.5,
                               random_state=seed)
    model = LogisticRegression().fit(X[:3000], y[:3000])
    df = pd.DataFrame({f"f{i}": np.round(X[3000:, i], 4) for i in range(4)})
    return df, y[3000:], model


def test_a_staged_rollout_is_dated_at_its_first_request(tmp_path: Path) -> None:
    """A worse version serves 1% of requests, then 20% after two hours, then everyone after four:
    its share steps where it takes over, and the onset was put there, four hours after its first
    bad answer."""
    rng = np.random.default_rng(13)
    n = 14000
    X, y, good = _classifier_log(rng, n, 13)
    bad = LogisticRegression().fit(X.to_numpy()[:400], np.where(rng.uniform(size=400) < 0.35, 1 - y[:400], y[:400]))
    ts = START + np.sort(rng.uniform(0.0, 14 * 3600.0, n))
    start = START + 5 * 3600.0
    share = np.select([ts < start, ts < start + 2 * 3600.0, ts < start + 4 * 3600.0], [0.0, 0.01, 0.2], 1.0)
    new = rng.uniform(size=n) < share
    Xa = X.to_numpy()
    score = np.where(new, bad.predict_proba(Xa)[:, 1], good.predict_proba(Xa)[:, 1])  # type: ignore[attr-defined]
    df = X.assign(model_version=np.where(new, "v8", "v7"), prediction=np.round(score, 4), label=y)
    d = diagnose(load_log(_write(df, ts, tmp_path / "log.parquet")))
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("model", "model_version", "v8")
    first = float(ts[new].min())
    assert abs(d.onset - first) <= 900.0, (d.onset - first) / 60.0


def test_an_input_drifting_over_hours_is_dated_at_the_foot_of_its_drift(tmp_path: Path) -> None:
    """A sensor's offset grows over 3 hours: the errors rise above their noise only half-way
    up, and the onset read off the loss was 97 minutes late; the input's own mean shows the
    foot of the ramp."""
    rng = np.random.default_rng(23)
    n = 12000
    X, y, model = _classifier_log(rng, n, 23)
    ts = START + np.sort(rng.uniform(0.0, 10 * 3600.0, n))
    onset = START + 5 * 3600.0
    X["f0"] = np.round(X["f0"] + 1.5 * np.clip((ts - onset) / (3 * 3600.0), 0.0, 1.0), 4)
    score = model.predict_proba(X.to_numpy())[:, 1]  # type: ignore[attr-defined]
    df = X.assign(model_version="v1", prediction=np.round(score, 4), label=y)
    d = diagnose(load_log(_write(df, ts, tmp_path / "log.csv")))
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("data", "feature", "f0")
    assert d.onset_detected and abs(d.onset - onset) <= 900.0, (d.onset - onset) / 60.0


def test_an_hour_of_day_input_joined_in_another_time_zone_is_a_data_fault(tmp_path: Path) -> None:
    """Since the onset the hour-of-day input is computed in UTC-4 instead of UTC+1. Its values
    are still hours, its range the range of the day: the loss rose and the verdict was concept
    drift (retrain, which would learn the wrong hours). It no longer matches the request time."""
    rng = np.random.default_rng(29)
    n = 12000
    from sklearn.datasets import make_regression
    from sklearn.ensemble import HistGradientBoostingRegressor

    X, base = make_regression(n + 4000, n_features=3, noise=5.0, random_state=29)
    t_train = START + rng.uniform(0.0, 7 * 86400.0, 4000)
    ts = START + np.sort(rng.uniform(0.0, 12 * 3600.0, n))
    all_t = np.concatenate([t_train, ts])
    hour = np.floor((all_t / 3600.0 + 1.0) % 24.0)
    y = base + 60.0 * np.isin(hour, [8, 9, 12, 13, 17, 18])
    cols = np.column_stack([X, hour])
    model = HistGradientBoostingRegressor(max_iter=80, random_state=0).fit(cols[:4000], y[:4000])
    onset = START + 7 * 3600.0
    logged = cols[4000:].copy()
    after = ts >= onset
    logged[after, 3] = (logged[after, 3] - 5.0) % 24.0
    df = pd.DataFrame({"model_version": "hgb-2", "prediction": np.round(model.predict(logged), 3),
                       "label": np.round(y[4000:], 3), "f0": logged[:, 0], "f1": logged[:, 1], "f2": logged[:, 2],
                       "hour": logged[:, 3].astype(int)})
    d = diagnose(load_log(_write(df, ts, tmp_path / "log.csv")))
    assert (d.cause, d.culprit_kind, d.culprit_name) == ("data", "feature", "hour")
    assert d.onset_detected and abs(d.onset - onset) <= 900.0
    assert d.findings[0].details["clock_offset_current_h"] == -4.0
