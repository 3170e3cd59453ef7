"""Monitors over real SQLite and PostgreSQL tables catch each injected fault and stay quiet when healthy.

A breach must arrive the way an external alert does: an incident opened through intake, with
the monitor's diagnosis attached (the contract of docs/contracts.md), so runbooks and chat see no difference.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from mon_helpers import monitor_doc, write_config
from mon_synth import END, FAULTS, ONSET, START, make_log

from bot.config import Settings
from bot.db import transaction
from bot.incidents import incident_to_dict, list_incidents
from bot.monitors.runner import MonitorService
from bot.monitors.sources import SourceSpec, Window, open_source
from bot.runtime import Runtime
from bot.wiring import create_runtime

EXPECTED: dict[str, tuple[str, str, str, str]] = {
    # fault: (cause, culprit kind, culprit name, recommended mitigation)
    "drift": ("data", "feature", "amount", "naive_model"),
    "missing": ("data", "feature", "age", "naive_model"),
    "stuck": ("data", "feature", "age", "naive_model"),
    "unseen": ("data", "feature", "country", "naive_model"),
    "accuracy": ("model", "concept", "concept", "retrain"),
    "bad_version": ("model", "model_version", "v2", "rollback"),
    "latency": ("service", "latency", "latency_ms", "escalate_service"),
    "errors": ("service", "errors", "error", "escalate_service"),
    "traffic": ("service", "traffic", "traffic", "escalate_service"),
}


# The full diagnostics engine behind a monitor (engine: diagnostics): its own verdicts.
ENGINE_EXPECTED: dict[str, tuple[str, str, str]] = {
    "healthy": ("none", "none", ""),
    "drift": ("data", "feature", "amount"),
    "bad_version": ("model", "model_version", "v2"),
    "latency": ("service", "latency", "latency_ms"),
}


def _load_tables(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        for fault in FAULTS:
            make_log(fault).to_sql(f"log_{fault}", engine, index=False, if_exists="replace")
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def sqlite_source(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('src') / 'predictions.db'}"
    _load_tables(url)
    return url


@pytest.fixture(scope="module")
def pg_source(postgres_server: Any) -> str:
    url = postgres_server.new_database()
    _load_tables(url)
    return str(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def source_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("sqlite_source" if request.param == "sqlite" else "pg_source"))


@pytest.fixture
def monitored(tmp_path: Path, settings: Settings, source_url: str) -> Iterator[Runtime]:
    docs = [monitor_doc(f"m-{fault}", source_url, f"log_{fault}") for fault in FAULTS]
    docs.append(monitor_doc("m-drift-load", source_url, "log_drift", mode="load"))
    for fault in ENGINE_EXPECTED:
        docs.append({**monitor_doc(f"engine-{fault}", source_url, f"log_{fault}"), "engine": "diagnostics",
                     "checks": {}})
    rt = create_runtime(settings.with_(monitors=write_config(tmp_path / "monitors.yaml", docs)))
    try:
        yield rt
    finally:
        rt.close()


@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_fault_opens_incident_with_diagnosis(monitored: Runtime, fault: str) -> None:
    outcome = monitored.parts[MonitorService].run(f"m-{fault}", now=END)
    assert outcome.status == "breach", outcome.to_dict()
    cause, kind, name, mitigation = EXPECTED[fault]
    with transaction(monitored.sessions) as session:
        incidents = list_incidents(session)
        assert len(incidents) == 1
        data = incident_to_dict(session, incidents[0])
    assert data["source"] == "monitor" and data["service"] == "fraud-scorer" and data["severity"] == "sev2"
    assert data["labels"]["alertname"] == f"m-{fault}"
    diagnosis = data["diagnosis"]
    assert (diagnosis["cause"], diagnosis["culprit"]["kind"], diagnosis["culprit"]["name"],
            diagnosis["recommended_mitigation"]) == (cause, kind, name, mitigation)
    assert set(diagnosis) == {"cause", "culprit", "trigger", "confidence", "onset", "recommended_mitigation",
                              "findings", "runtime_ms"}  # the diagnose contract, exactly
    assert diagnosis["onset"] == ONSET.isoformat().replace("+00:00", "Z")
    top = diagnosis["findings"][0]
    assert set(top) == {"cause", "check", "subject", "score", "severity", "evidence"} and top["evidence"]
    assert [e["kind"] for e in data["timeline"]][:3] == ["incident_opened", "alert_fired", "diagnosis"]


def test_healthy_stream_stays_quiet(monitored: Runtime) -> None:
    service = monitored.parts[MonitorService]
    for _ in range(2):  # a second look at the same healthy window stays quiet too
        outcome = service.run("m-healthy", now=END)
        assert outcome.status == "ok", outcome.to_dict()
        assert outcome.diagnosis is not None and outcome.diagnosis["cause"] == "none"
        assert outcome.metrics["drift"]["amount"] < 0.05 and outcome.metrics["rows"] > 3000
    with transaction(monitored.sessions) as session:
        assert list_incidents(session) == []


def test_load_mode_agrees_with_the_sampled_read(monitored: Runtime) -> None:
    service = monitored.parts[MonitorService]
    pushed = service.judge(service.spec("m-drift"), END)
    loaded = service.judge(service.spec("m-drift-load"), END)
    assert pushed.diagnosis is not None and loaded.diagnosis is not None
    assert pushed.evaluation is not None and loaded.evaluation is not None
    assert _rounded(pushed.evaluation.metrics) == _rounded(loaded.evaluation.metrics)
    evidence = [f["evidence"] for f in pushed.diagnosis["findings"]]
    assert evidence == [f["evidence"] for f in loaded.diagnosis["findings"]]


def _rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, float):
        return float(f"{value:.9g}")
    return value


@pytest.mark.parametrize("table", ["log_healthy", "log_missing", "log_bad_version"])
def test_source_counts_the_rows_it_reads_and_samples_at_the_share(source_url: str, table: str) -> None:
    """The exact count sizes the sample; the database keeps about the asked share of the rows."""
    source = open_source(SourceSpec(url=source_url, table=table))
    layout = source.probe(None)
    for window in (Window(START, ONSET), Window(ONSET, END)):
        rows = source.count(layout, window)
        assert rows > 3000 and rows == len(source.frame(layout, window))
        sampled = len(source.frame(layout, window, 0.25))
        assert abs(sampled - 0.25 * rows) < 5 * (0.25 * 0.75 * rows) ** 0.5


def test_file_source_counts_a_window_and_a_whole_training_set(tmp_path: Path) -> None:
    frame = make_log("healthy")
    half = len(frame) // 2
    frame.iloc[:half].to_parquet(tmp_path / "part-0.parquet")
    frame.iloc[half:].to_parquet(tmp_path / "part-1.parquet")
    source = open_source(SourceSpec(path=str(tmp_path / "*.parquet")))
    layout = source.probe(None)
    inside = int(((frame["timestamp"] >= ONSET) & (frame["timestamp"] < END)).sum())
    assert source.count(layout, Window(ONSET, END)) == inside == len(source.frame(layout, Window(ONSET, END)))
    assert source.count(layout, None) == len(frame)


@pytest.mark.parametrize("fault", ["healthy", "drift", "bad_version", "missing"])
def test_gauges_agree_with_the_engine_and_an_independent_computation(monitored: Runtime, source_url: str,
                                                                     fault: str) -> None:
    """Gauges come from the rows the engine judged: its drift PSI, and accuracy/missing as pandas counts them."""
    judgement = monitored.parts[MonitorService].judge(monitored.parts[MonitorService].spec(f"m-{fault}"), END)
    assert judgement.evaluation is not None and judgement.evaluation.diagnosis is not None
    m = judgement.evaluation.metrics
    frame = pd.read_sql_table(f"log_{fault}", sa.create_engine(source_url))
    stamps = pd.to_datetime(frame["timestamp"], utc=True)
    cur = frame[(stamps >= ONSET) & (stamps < END)]
    assert m["rows"] == len(cur) and m["reference_rows"] == int(((stamps >= START) & (stamps < ONSET)).sum())
    assert m["sample_fraction"] == 1.0 and m["judged_rows"] == len(cur)
    labelled = cur[cur["label"].notna() & cur["prediction"].notna()]
    assert m["quality"]["metric"] == "accuracy"
    assert m["quality"]["value"] == pytest.approx((labelled["label"] == labelled["prediction"]).mean())
    for version, part in labelled.groupby("model_version"):
        assert m["quality"]["per_version"][version] == pytest.approx((part["label"] == part["prediction"]).mean())
    assert m["missing"]["age"] == pytest.approx(cur["age"].isna().mean(), abs=1e-6)
    assert m["error_rate"] == pytest.approx(cur["error"].mean())
    assert m["latency"]["value_ms"] == pytest.approx(cur["latency_ms"].quantile(0.95))
    quoted = {f.subject: f.details["psi"] for f in judgement.evaluation.diagnosis.findings
              if f.cause == "data" and "psi" in f.details}
    for name, psi in quoted.items():
        assert m["drift"][name] == pytest.approx(psi, abs=1e-6)
    if fault == "drift":
        assert "amount" in quoted and m["drift"]["amount"] > 1.0
    else:
        assert max(m["drift"].values()) < 0.05


@pytest.mark.parametrize("fault", sorted(ENGINE_EXPECTED))
def test_diagnostics_engine_behind_a_monitor(monitored: Runtime, fault: str) -> None:
    outcome = monitored.parts[MonitorService].run(f"engine-{fault}", now=END)
    cause, kind, name = ENGINE_EXPECTED[fault]
    assert outcome.status == ("ok" if fault == "healthy" else "breach"), outcome.to_dict()
    assert outcome.diagnosis is not None
    assert (outcome.diagnosis["cause"], outcome.diagnosis["culprit"]["kind"],
            outcome.diagnosis["culprit"]["name"]) == (cause, kind, name)
    with transaction(monitored.sessions) as session:
        incidents = list_incidents(session)
        assert len(incidents) == (0 if fault == "healthy" else 1)
        if incidents:
            assert incidents[0].diagnosis == outcome.diagnosis


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_file_sources_stream_and_catch_faults(tmp_path: Path, settings: Settings, fmt: str) -> None:
    """A path pattern over daily files; each file is streamed in batches, never loaded whole."""
    for fault in ("healthy", "missing"):
        folder = tmp_path / fault
        folder.mkdir()
        frame = make_log(fault)
        frame["timestamp"] = frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if fmt == "csv" \
            else frame["timestamp"]
        half = len(frame) // 2
        for i, part in enumerate((frame.iloc[:half], frame.iloc[half:])):
            path = folder / f"part-{i}.{fmt}"
            part.to_parquet(path) if fmt == "parquet" else part.to_csv(path, index=False)
    docs = []
    for fault in ("healthy", "missing"):
        doc = monitor_doc(f"files-{fault}", "unused", "unused")
        doc["source"] = {"path": str(tmp_path / fault / f"*.{fmt}")}
        docs.append(doc)
    rt = create_runtime(settings.with_(monitors=write_config(tmp_path / "files.yaml", docs)))
    try:
        healthy = rt.parts[MonitorService].run("files-healthy", now=END)
        broken = rt.parts[MonitorService].run("files-missing", now=END)
    finally:
        rt.close()
    assert healthy.status == "ok", healthy.to_dict()
    assert broken.status == "breach" and broken.diagnosis is not None
    assert broken.diagnosis["culprit"] == {"kind": "feature", "name": "age"}
    assert broken.metrics["rows"] > 3000 and healthy.metrics["drift"]["amount"] < 0.05
