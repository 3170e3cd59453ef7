"""The generator injects what it says, and nothing else: checked on the logs it writes, with plain
pandas/scipy computations independent of the diagnostics engine."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmarks.scenarios.faults import FAULTS
from benchmarks.scenarios.generate import KINDS, Scenario, generate_scenario, suite_specs
from benchmarks.scenarios.judge import judge
from benchmarks.scenarios.simulate import UNUSED_FEATURE

REQUIRED = ("timestamp", "model_version", "prediction", "label", "latency_ms", "error")
SERVICE_COLUMNS = {*REQUIRED}


def frame_of(sc: Scenario) -> pd.DataFrame:
    return pd.read_parquet(sc.path_log)


def split(sc: Scenario) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(before onset, from onset) of the same log, or (reference file, log) where they are split."""
    log = frame_of(sc)
    if sc.path_reference is not None:
        return pd.read_parquet(sc.path_reference), log
    after = log["timestamp"] >= pd.Timestamp(sc.onset)
    return log.loc[~after], log.loc[after]


def performance(frame: pd.DataFrame) -> float:
    """Accuracy (classification) or negative MAE (regression): higher is better in both."""
    rows = frame[frame["label"].notna() & frame["prediction"].notna()]
    if pd.api.types.is_numeric_dtype(rows["prediction"]):
        return -float((rows["prediction"].astype(float) - rows["label"].astype(float)).abs().mean())
    return float((rows["prediction"] == rows["label"]).mean())


def relative_drop(before: float, after: float) -> float:
    return (before - after) / abs(before)


def numeric_features(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in SERVICE_COLUMNS and pd.api.types.is_numeric_dtype(frame[c])]


def max_ks(before: pd.DataFrame, after: pd.DataFrame, columns: list[str]) -> tuple[str, float]:
    worst = ("", 0.0)
    for col in columns:
        d = stats.ks_2samp(before[col].dropna(), after[col].dropna()).statistic
        if d > worst[1]:
            worst = (col, float(d))
    return worst


def rate_per_minute(frame: pd.DataFrame) -> float:
    span = (frame["timestamp"].max() - frame["timestamp"].min()).total_seconds() / 60.0
    return len(frame) / max(span, 1.0)


def test_every_kind_writes_a_log_the_contract_accepts(quick_scenarios: dict[str, Scenario]) -> None:
    assert set(quick_scenarios) == set(KINDS)
    for kind, sc in quick_scenarios.items():
        log = frame_of(sc)
        assert set(REQUIRED) <= set(log.columns), kind
        assert str(log["timestamp"].dtype) == "datetime64[ns, UTC]"
        assert log["timestamp"].is_monotonic_increasing
        assert 1000 < len(log) < 20000, (kind, len(log))
        assert "region" in log.columns and not pd.api.types.is_numeric_dtype(log["region"])
        for line in sc.path_changes.read_text().splitlines():
            event = json.loads(line)
            assert {"timestamp", "kind", "service", "description"} <= set(event)
            pd.Timestamp(event["timestamp"])
        written = json.loads((sc.path_log.parent / "scenario.json").read_text())
        assert written["expected"] == sc.expected.to_dict()


def test_generation_is_deterministic(tmp_path: Any) -> None:
    a = generate_scenario("feature_drift", 4, "wine", tmp_path / "a", rows_per_minute=5.0, fmt="parquet")
    b = generate_scenario("feature_drift", 4, "wine", tmp_path / "b", rows_per_minute=5.0, fmt="parquet")
    pd.testing.assert_frame_equal(frame_of(a), frame_of(b))
    assert a.path_changes.read_text() == b.path_changes.read_text()


def test_suite_is_large_enough_for_the_figures_to_mean_something() -> None:
    specs = suite_specs()
    assert len(specs) >= 100
    assert sum(s.kind in ("healthy", "healthy_deploy") for s in specs) >= 30
    for kind in KINDS:
        mine = [s for s in specs if s.kind == kind]
        assert len({s.dataset for s in mine}) >= 2, kind
        assert len({s.variant for s in mine}) >= min(2, len(FAULTS[kind].variants)), kind


def test_healthy_log_is_stationary(quick_scenarios: dict[str, Scenario]) -> None:
    before, after = split(quick_scenarios["healthy"])
    _, d = max_ks(before, after, numeric_features(before))
    assert d < 0.1
    assert abs(relative_drop(performance(before), performance(after))) < 0.1
    assert 0.8 < after["latency_ms"].quantile(0.95) / before["latency_ms"].quantile(0.95) < 1.25
    assert after["error"].mean() < 0.01
    assert 0.6 < rate_per_minute(after) / rate_per_minute(before) < 1.6
    assert before["model_version"].nunique() == after["model_version"].nunique() == 1


@pytest.mark.parametrize("kind", ["feature_drift", "confounded_deploy_during_drift"])
def test_feature_drift_moves_an_important_feature(quick_scenarios: dict[str, Scenario], kind: str) -> None:
    sc = quick_scenarios[kind]
    before, after = split(sc)
    feat = sc.truth["feature"]
    shift = (after[feat].mean() - before[feat].mean()) / before[feat].std()
    assert shift == pytest.approx(sc.truth["shift_std"], abs=0.25)
    others = [c for c in numeric_features(before) if c != feat]
    assert max_ks(before, after, others)[1] < 0.1  # only the named feature moved


def test_missing_spike_empties_the_feature(quick_scenarios: dict[str, Scenario]) -> None:
    sc = quick_scenarios["missing_spike"]
    before, after = split(sc)
    feat = sc.truth["feature"]
    assert before[feat].isna().mean() == 0.0
    assert after[feat].isna().mean() == pytest.approx(sc.truth["missing_share"], abs=0.05)


def test_schema_change_drops_the_column_from_the_current_log(quick_scenarios: dict[str, Scenario]) -> None:
    sc = quick_scenarios["schema_change"]
    assert sc.path_reference is not None and sc.truth["change"] == "missing_column"
    reference, current = split(sc)
    assert sc.truth["feature"] in reference.columns
    assert sc.truth["feature"] not in current.columns
    assert current["timestamp"].min() >= pd.Timestamp(sc.onset) > reference["timestamp"].max()


@pytest.mark.parametrize("variant", [1, 2])
def test_schema_change_variants(tmp_path: Any, variant: int) -> None:
    sc = generate_scenario("schema_change", 2, "breast_cancer", tmp_path, variant=variant, rows_per_minute=5.0)
    before, after = split(sc)
    feat = sc.truth["feature"]
    if sc.truth["change"] == "type_change":
        assert pd.api.types.is_numeric_dtype(before[feat])
        assert not pd.api.types.is_numeric_dtype(after[feat])
        np.testing.assert_allclose(after[feat].dropna().astype(float).mean(), before[feat].mean(), rtol=0.2)
    else:
        assert sc.truth["change"] == "null_column" and sc.path_reference is None
        assert after[feat].isna().all() and before[feat].notna().all()


def test_unit_change_scales_by_the_factor(quick_scenarios: dict[str, Scenario]) -> None:
    sc = quick_scenarios["unit_change"]
    before, after = split(sc)
    feat = sc.truth["feature"]
    ratio = after[feat].median() / before[feat].median()
    assert ratio == pytest.approx(sc.truth["factor"], rel=0.2)


def test_stuck_feature_repeats_one_value(quick_scenarios: dict[str, Scenario]) -> None:
    sc = quick_scenarios["stuck_feature"]
    before, after = split(sc)
    feat = sc.truth["feature"]
    assert after[feat].nunique() == 1 and before[feat].nunique() > 50


def test_unseen_categories_appear_only_after_onset(quick_scenarios: dict[str, Scenario]) -> None:
    sc = quick_scenarios["unseen_categories"]
    before, after = split(sc)
    known = set(before["tier"].unique())
    assert len(known) == 4
    assert (~after["tier"].isin(known)).mean() > 0.3


@pytest.mark.parametrize("kind", ["bad_version_event", "bad_version_silent", "confounded_drift_during_bad_deploy"])
def test_bad_version_is_really_worse(quick_scenarios: dict[str, Scenario], kind: str) -> None:
    sc = quick_scenarios[kind]
    before, after = split(sc)
    bad, good = sc.truth["bad_version"], sc.truth["good_version"]
    assert set(before["model_version"]) == {good}
    worse = relative_drop(performance(before), performance(after[after["model_version"] == bad]))
    assert worse > 0.1
    deploys = [json.loads(x) for x in sc.path_changes.read_text().splitlines()]
    announced = any(e["kind"] == "model_deploy" and e.get("to_version") == bad for e in deploys)
    assert announced == (kind != "bad_version_silent")


def test_bad_version_canary_is_worse_on_the_same_window(tmp_path: Any) -> None:
    sc = generate_scenario("bad_version_event", 3, "breast_cancer", tmp_path, variant=3, rows_per_minute=10.0)
    _, after = split(sc)
    assert sc.truth["share"] < 1.0
    good = performance(after[after["model_version"] == sc.truth["good_version"]])
    bad = performance(after[after["model_version"] == sc.truth["bad_version"]])
    assert relative_drop(good, bad) > 0.05


def test_drift_during_bad_deploy_moves_only_the_unused_feature(quick_scenarios: dict[str, Scenario]) -> None:
    before, after = split(quick_scenarios["confounded_drift_during_bad_deploy"])
    col, d = max_ks(before, after, numeric_features(before))
    assert col == UNUSED_FEATURE and d > 0.3
    assert max_ks(before, after, [c for c in numeric_features(before) if c != UNUSED_FEATURE])[1] < 0.1


def test_concept_drift_changes_labels_not_inputs(quick_scenarios: dict[str, Scenario]) -> None:
    before, after = split(quick_scenarios["concept_drift"])
    assert relative_drop(performance(before), performance(after)) > 0.1
    assert max_ks(before, after, numeric_features(before))[1] < 0.1
    assert (
        before["prediction"].value_counts(normalize=True) - after["prediction"].value_counts(normalize=True)
    ).abs().max() < 0.08
    assert after["model_version"].nunique() == 1


def test_underperforming_segment_concentrates_the_drop(quick_scenarios: dict[str, Scenario]) -> None:
    sc = quick_scenarios["underperforming_segment"]
    before, after = split(sc)
    region = sc.truth["segment_value"]
    inside = relative_drop(performance(before[before.region == region]), performance(after[after.region == region]))
    outside = relative_drop(performance(before[before.region != region]), performance(after[after.region != region]))
    assert inside > 0.2 and abs(outside) < 0.05


def test_latency_regression(quick_scenarios: dict[str, Scenario]) -> None:
    before, after = split(quick_scenarios["latency_regression"])
    assert after["latency_ms"].quantile(0.95) / before["latency_ms"].quantile(0.95) > 1.5
    assert relative_drop(performance(before), performance(after)) < 0.1  # predictions no worse


def test_error_spike(quick_scenarios: dict[str, Scenario]) -> None:
    before, after = split(quick_scenarios["error_spike"])
    assert after["error"].mean() > 0.03 > 0.01 > before["error"].mean()
    assert after.loc[after["error"], "prediction"].isna().all()


def test_traffic_drop(quick_scenarios: dict[str, Scenario]) -> None:
    before, after = split(quick_scenarios["traffic_drop"])
    assert rate_per_minute(after) < 0.5 * rate_per_minute(before)


def test_healthy_deploy_ships_an_equivalent_model(quick_scenarios: dict[str, Scenario]) -> None:
    sc = quick_scenarios["healthy_deploy"]
    log = frame_of(sc)
    new = log[log["model_version"] == sc.truth["harmless_version"]]
    old = log[log["model_version"] != sc.truth["harmless_version"]]
    assert len(new) > 100
    assert abs(relative_drop(performance(old), performance(new))) < 0.08


def test_judge_matches_culprit_names_leniently_but_not_wrongly(quick_scenarios: dict[str, Scenario]) -> None:
    seg = quick_scenarios["underperforming_segment"].expected
    value = seg.culprit_name.split("=")[1]
    answer = {
        "cause": "model",
        "culprit": {"kind": "segment", "name": f"region == '{value}'"},
        "recommended_mitigation": "retrain",
    }
    assert judge(seg, answer).all
    answer["culprit"] = {"kind": "segment", "name": "region=nowhere"}
    assert not judge(seg, answer).culprit
    feat = quick_scenarios["feature_drift"].expected
    ok = {
        "cause": "data",
        "culprit": {"kind": "feature", "name": feat.culprit_name},
        "recommended_mitigation": "naive_model",
    }
    assert judge(feat, ok).all
    ok["culprit"] = {"kind": "feature", "name": "some_other_feature"}
    assert not judge(feat, ok).culprit


def test_gradual_drift_ramps_from_the_onset(quick_scenarios: dict[str, Scenario]) -> None:
    sc = quick_scenarios["gradual_drift"]
    before, after = split(sc)
    feat, std = sc.truth["feature"], before[sc.truth["feature"]].std()
    minutes = (after["timestamp"] - pd.Timestamp(sc.onset)).dt.total_seconds() / 60.0
    early = after.loc[minutes < 10, feat].mean() - before[feat].mean()
    late = after.loc[minutes > sc.truth["ramp_minutes"], feat].mean() - before[feat].mean()
    assert abs(early) < 0.6 * std < late  # the first ten minutes have barely moved
    assert late / std == pytest.approx(sc.truth["shift_std"], abs=0.3)


@pytest.mark.parametrize("seed", [4, 9])  # ISO timestamps, epoch seconds
def test_csv_log_holds_the_same_rows_as_parquet(tmp_path: Any, seed: int) -> None:
    csv = generate_scenario("feature_drift", seed, "iris", tmp_path / "c", fmt="csv", rows_per_minute=4.0)
    pq = generate_scenario("feature_drift", seed, "iris", tmp_path / "p", fmt="parquet", rows_per_minute=4.0)
    assert csv.path_log.suffix == ".csv" and pq.path_log.suffix == ".parquet"
    a, b = pd.read_csv(csv.path_log), frame_of(pq)
    ts = pd.to_datetime(a["timestamp"], unit="s", utc=True) if seed % 2 else pd.to_datetime(a["timestamp"])
    assert (ts - b["timestamp"]).abs().max() < pd.Timedelta(milliseconds=1)
    assert a["error"].isin([0, 1]).all() and (a["error"] == b["error"].astype(int)).all()
    np.testing.assert_allclose(a[csv.truth["feature"]], b[csv.truth["feature"]])
    assert (a["label"].isna() == b["label"].isna()).all()
