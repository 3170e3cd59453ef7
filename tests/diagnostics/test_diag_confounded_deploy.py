"""A harmless retrain deployed to all traffic at the moment the world moved (issue 12).

Two things change at once and only one of them is the cause. Across windows the new version's
loss against the old one's carries whatever else moved at the onset: labels that turned, or a
daily cycle in what the model gets wrong. The same labelled rows scored by the old version's
answers at the nearest inputs it served say whether the version made the difference, and a
window of a few hours is judged against the same hours of the earlier days.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression

from diagnostics import ChangeRecord, PredictionLog, diagnose

DAY = 86400.0
START = 1_795_000_000.0 - (1_795_000_000.0 % DAY)  # a UTC midnight


def _eta_world(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    distance = rng.lognormal(1.2, 0.6, n)
    traffic = rng.uniform(0.0, 1.0, n)
    items = rng.poisson(3, n).astype(float)
    y = 6 + 3.0 * distance * (1 + 0.8 * traffic) + 0.4 * items + rng.gamma(2, 1.2, n)
    return np.column_stack([distance, traffic, items]), y


def _clicks(rng: np.random.Generator, ts: np.ndarray, *, cycle: float) -> tuple[np.ndarray, np.ndarray]:
    """Ad clicks whose rate follows the hour of the day: inputs (position, bid, hour), clicks."""
    m = ts.size
    position = rng.integers(1, 11, m).astype(float)
    bid = rng.gamma(2.0, 0.5, m)
    hour = (ts % DAY) / 3600.0
    logit = -2.0 - 0.25 * position + 0.9 * bid + cycle * np.sin(2 * np.pi * (hour - 8.0) / 24.0)
    return np.column_stack([position, bid, hour]), (rng.random(m) < 1 / (1 + np.exp(-logit))).astype(float)


def _log(
    ts: np.ndarray, X: np.ndarray, names: list[str], version: np.ndarray, pred: np.ndarray, label: np.ndarray
) -> PredictionLog:
    return PredictionLog(
        timestamp=ts,
        model_version=version,
        prediction=pred,
        label=label,
        features={name: X[:, i] for i, name in enumerate(names)},
    )


def test_a_retrain_deployed_as_the_labels_turned_is_not_blamed_the_concept_is() -> None:
    rng = np.random.default_rng(11)
    X1, y1 = _eta_world(rng, 8000)
    X2, y2 = _eta_world(rng, 8000)
    v1 = HistGradientBoostingRegressor(max_iter=60, random_state=0).fit(X1, y1)
    v2 = HistGradientBoostingRegressor(max_iter=60, random_state=1).fit(X2, y2)  # as good as v1
    n = 12000
    ts = START + np.sort(rng.uniform(0.0, 2 * DAY, n))
    onset = START + 1.6 * DAY
    X, y = _eta_world(rng, n)
    after = ts >= onset
    y = np.where(after, 1.35 * y, y)  # every delivery now takes a third longer: the labels moved
    pred = np.where(after, v2.predict(X), v1.predict(X))
    version = np.where(after, "v2", "v1").astype(object)
    log = _log(ts, X, ["distance_km", "traffic_index", "basket_items"], version, pred, y)
    deploy = ChangeRecord(onset - 60.0, "model_deploy", "eta", "weekly retrain", "v1", "v2")

    d = diagnose(log, changes=[deploy], onset=onset)

    assert (d.cause, d.culprit_kind, d.recommended_mitigation) == ("model", "concept", "retrain")
    version_finding = next(f for f in d.findings if f.check == "version_change")
    assert version_finding.details.get("cleared_by_pairs") is True
    assert "would have done about as well" in version_finding.evidence


def test_a_bad_retrain_deployed_to_all_traffic_is_still_blamed_when_nothing_else_moved() -> None:
    rng = np.random.default_rng(12)
    X1, y1 = _eta_world(rng, 8000)
    v1 = HistGradientBoostingRegressor(max_iter=60, random_state=0).fit(X1, y1)
    X2, y2 = _eta_world(rng, 8000)
    X2[:, 0] = rng.permutation(X2[:, 0])  # trained on a mis-joined distance column
    v2 = HistGradientBoostingRegressor(max_iter=60, random_state=1).fit(X2, y2)
    n = 12000
    ts = START + np.sort(rng.uniform(0.0, 2 * DAY, n))
    onset = START + 1.6 * DAY
    X, y = _eta_world(rng, n)
    after = ts >= onset
    pred = np.where(after, v2.predict(X), v1.predict(X))
    log = _log(
        ts, X, ["distance_km", "traffic_index", "basket_items"], np.where(after, "v2", "v1").astype(object), pred, y
    )

    d = diagnose(log, onset=onset)

    assert (d.cause, d.culprit_kind, d.culprit_name, d.recommended_mitigation) == (
        "model",
        "model_version",
        "v2",
        "rollback",
    )


def test_an_afternoon_with_more_clicks_is_judged_against_earlier_afternoons() -> None:
    """The click rate follows the hour of the day and the model has no hour input: a window of
    the busy hours has a higher Brier score than whole days, and the same as earlier busy hours."""
    rng = np.random.default_rng(13)

    def world(ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X, clicks = _clicks(rng, ts, cycle=1.2)
        return X[:, :2], clicks  # the model has no hour input

    X_train, y_train = world(START - 10 * DAY + rng.uniform(0.0, 7 * DAY, 20000))
    model = LogisticRegression(max_iter=500).fit(X_train, y_train)
    n = 30000
    ts = START + np.sort(rng.uniform(0.0, 4 * DAY, n))
    X, y = world(ts)
    onset = START + 3 * DAY + 10 * 3600.0  # the window is 10:00-24:00, the clickiest hours
    log = _log(ts, X, ["position", "bid"], np.full(n, "lr-3", dtype=object), model.predict_proba(X)[:, 1], y)

    d = diagnose(log, onset=onset)

    concept = next(f for f in d.findings if f.check == "concept_drift")
    assert d.cause == "none", (d.cause, d.culprit_kind, [(f.check, f.score) for f in d.findings[:3]])
    assert concept.score < 0.3


def test_old_rows_served_before_traffic_moved_are_not_a_canary_baseline() -> None:
    """Labels withheld since the deploy; the onset is the deploy's change event, minutes before
    traffic moved, so the current window opens with a few labelled rows of the old version. They
    were served before the new one, not beside it: the new version is judged against the old
    one's answers, not against a 'same window' of forty rows."""
    rng = np.random.default_rng(14)

    def world(m: int) -> tuple[np.ndarray, np.ndarray]:
        position = rng.integers(1, 11, m).astype(float)
        bid = rng.gamma(2.0, 0.5, m)
        age = rng.normal(38.0, 12.0, m)
        logit = -1.0 - 0.25 * position + 1.2 * bid - 0.02 * (age - 38.0)
        return np.column_stack([position, bid, age]), (rng.random(m) < 1 / (1 + np.exp(-logit))).astype(float)

    X_train, y_train = world(12000)
    v1 = LogisticRegression(max_iter=500).fit(X_train, y_train)
    X_bad, y_bad = X_train.copy(), y_train.copy()
    X_bad[:, 1] = rng.permutation(X_bad[:, 1])  # bid mis-joined at training time
    half = rng.random(y_bad.size) < 0.5
    y_bad[half] = rng.permutation(y_bad[half])  # and half the labels of another day
    v2 = LogisticRegression(max_iter=500).fit(X_bad, y_bad)
    n = 30000
    ts = START + np.sort(rng.uniform(0.0, 2 * DAY, n))
    event = START + 1.7 * DAY
    switch = event + 240.0  # a rollout that takes a few minutes
    X, y = world(n)
    moved = ts >= switch
    pred = np.where(moved, v2.predict_proba(X)[:, 1], v1.predict_proba(X)[:, 1])
    label = np.where(moved, np.nan, y)  # no label has arrived since the deploy
    log = _log(ts, X, ["position", "bid", "age"], np.where(moved, "v2", "v1").astype(object), pred, label)
    assert int(((ts >= event) & ~moved).sum()) >= 30  # the spill this test is about

    d = diagnose(log, onset=event)
    exact = diagnose(log, onset=switch)

    verdict = (d.cause, d.culprit_kind, d.culprit_name, d.recommended_mitigation)
    assert verdict == ("model", "model_version", "v2", "rollback")
    judged = next(f for f in d.findings if f.check == "version_change")
    assert judged.details["comparison"] == "predictions_cross_window"
    assert judged.score >= next(f for f in exact.findings if f.check == "version_change").score - 0.05


def test_a_harmless_retrain_is_not_judged_against_the_old_rows_served_before_traffic_moved() -> None:
    """Labels present; the onset is the deploy's change event, minutes before traffic moved. The
    forty old rows at the window's start are no canary baseline for the retrain (their inputs and
    hours are not the new version's), and a comparison against them blamed an equally good model."""
    rng = np.random.default_rng(15)

    def world(ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _clicks(rng, ts, cycle=0.8)

    X1, y1 = world(START - 20 * DAY + rng.uniform(0.0, 7 * DAY, 15000))
    X2, y2 = world(START - 10 * DAY + rng.uniform(0.0, 7 * DAY, 15000))
    v1 = LogisticRegression(max_iter=500).fit(X1, y1)
    v2 = LogisticRegression(max_iter=500).fit(X2, y2)
    n = 40000
    ts = START + np.sort(rng.uniform(0.0, 3 * DAY, n))
    event = START + 2 * DAY + 13 * 3600.0
    switch = event + 240.0
    X, y = world(ts)
    moved = ts >= switch
    pred = np.where(moved, v2.predict_proba(X)[:, 1], v1.predict_proba(X)[:, 1])
    log = _log(ts, X, ["position", "bid", "hour_local"], np.where(moved, "v2", "v1").astype(object), pred, y)
    deploy = ChangeRecord(event, "model_deploy", "ads", "weekly retrain", "v1", "v2")
    assert int(((ts >= event) & ~moved).sum()) >= 30

    d = diagnose(log, changes=[deploy], onset=event)

    assert d.cause == "none", [(f.check, f.subject, round(f.score, 2)) for f in d.findings[:3]]
