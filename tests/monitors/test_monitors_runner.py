"""Run bookkeeping: an unreadable source is an incident, breaches dedup and clear, metrics and CLI show it."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from mon_helpers import monitor_doc, write_config
from mon_synth import END, make_log
from prometheus_client import CollectorRegistry, generate_latest

from bot.cli import main
from bot.config import Settings
from bot.db import transaction
from bot.incidents import incident_to_dict, list_incidents
from bot.monitors.runner import MonitorService, history
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from bot.wiring import create_runtime


@pytest.fixture
def source(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'src.db'}"
    engine = sa.create_engine(url)
    make_log("healthy").to_sql("healthy", engine, index=False)
    make_log("drift").to_sql("drifted", engine, index=False)
    engine.dispose()
    return url


def _runtime(settings: Settings, tmp_path: Path, docs: list[dict]) -> Runtime:
    return create_runtime(settings.with_(monitors=write_config(tmp_path / "m.yaml", docs)))


@pytest.mark.parametrize(
    ("doc_change", "says"),
    [
        ({"source": {"url": "sqlite:///{tmp}/src.db", "table": "no_such_table"}}, "no such table: no_such_table"),
        ({"source": {"url": "postgresql://monitor:s3cret@127.0.0.1:1/x", "table": "predictions"}},
         "cannot read table predictions at postgresql+psycopg://monitor:***@127.0.0.1:1/x"),
        ({"source": {"path": "{tmp}/nothing/*.parquet"}}, "no files match"),
        ({"source": {"url": "sqlite:///{tmp}/src.db", "query": "SELECT timestamp, prediction FROM healthy"}},
         "column 'model_version' is missing"),
        ({"source": {"url": "sqlite:///{tmp}/src.db", "table": "healthy"}, "window": "1h", "min_rows": 1},
         "returned 0 rows for the window"),
        ({"source": {"url": "sqlite:///{tmp}/src.db", "table": "healthy"}, "window": "1h", "min_rows": 1,
          "task": None, "reference": {"source": {"url": "${MLR_TEST_UNSET_VAR}", "table": "x"}}},
         "environment variable MLR_TEST_UNSET_VAR is not set"),
    ],
)
def test_unreadable_source_opens_an_incident_that_says_so(
    settings: Settings, tmp_path: Path, source: str, doc_change: dict, says: str
) -> None:
    doc = monitor_doc("broken-pipe", source, "healthy")
    for key, value in doc_change.items():
        doc[key] = value if key != "source" else {k: str(v).replace("{tmp}", str(tmp_path)) for k, v in value.items()}
    if "reference" in doc_change:
        doc["reference"] = doc_change["reference"]
    rt = _runtime(settings, tmp_path, [doc])
    try:
        # "returned 0 rows": a window far after the data; otherwise the data's own window
        at = END.replace(year=2027) if "0 rows" in says else END
        outcome = rt.parts[MonitorService].run("broken-pipe", now=at)
        assert outcome.status == "error" and says in (outcome.error or ""), outcome.error
        assert "s3cret" not in (outcome.error or "")
        with transaction(rt.sessions) as session:
            [incident] = list_incidents(session)
            data = incident_to_dict(session, incident)
        assert data["title"] == "Monitor broken-pipe cannot read its source"
        assert data["labels"]["culprit"] == "source" and data["source"] == "monitor"
        assert says in data["alerts"][0]["annotations"]["description"]
        assert any(e["kind"] == "monitor_error" and says in e["message"] for e in data["timeline"])
        assert "s3cret" not in str(data)
    finally:
        rt.close()


def test_persisting_breach_dedups_then_resolves_when_it_clears(settings: Settings, tmp_path: Path,
                                                               source: str) -> None:
    docs = [monitor_doc("drift-watch", source, "drifted")]
    rt = _runtime(settings, tmp_path, docs)
    service = rt.parts[MonitorService]
    try:
        first = service.run("drift-watch", now=END)
        second = service.run("drift-watch", now=END)
        assert first.status == second.status == "breach"
        assert first.incidents == second.incidents == ["INC-1"]
        with transaction(rt.sessions) as session:
            [incident] = list_incidents(session)
            data = incident_to_dict(session, incident)
            assert data["alerts"][0]["deliveries"] == 2
            assert [e["kind"] for e in data["timeline"]].count("diagnosis") == 1
        # the source becomes unreadable: that is an alert of its own, and not a recovery
        rt.close()
        docs[0]["source"]["table"] = "gone"
        rt = _runtime(settings, tmp_path, docs)
        blind = rt.parts[MonitorService].run("drift-watch", now=END)
        assert blind.status == "error" and blind.incidents == ["INC-1"]
        # the same monitor now reads a healthy table: both alerts resolve, the incident says so
        rt.close()
        docs[0]["source"]["table"] = "healthy"
        rt = _runtime(settings, tmp_path, docs)
        third = rt.parts[MonitorService].run("drift-watch", now=END)
        assert third.status == "ok" and third.incidents == ["INC-1"]
        with transaction(rt.sessions) as session:
            data = incident_to_dict(session, list_incidents(session)[0])
            assert data["alerts_resolved"] is True and data["status"] == "triggered"
            assert [a["status"] for a in data["alerts"]] == ["resolved", "resolved"]
            kinds = [e["kind"] for e in data["timeline"]]
            assert kinds.count("alert_resolved") == 2 and kinds.index("monitor_error") < kinds.index("alert_resolved")
            runs = history(session, "drift-watch")
            assert [r.status for r in runs] == ["ok", "error", "breach", "breach"]
            assert runs[0].firing == [] and len(runs[1].firing) == 2 and len(runs[2].firing) == 1
    finally:
        rt.close()


def test_metrics_registry_exposes_gauges(settings: Settings, tmp_path: Path, source: str) -> None:
    rt = _runtime(settings, tmp_path, [monitor_doc("drift-watch", source, "drifted"),
                                       monitor_doc("calm", source, "healthy")])
    try:
        rt.parts[MonitorService].run("drift-watch", now=END)
        rt.parts[MonitorService].run("calm", now=END)
        text = generate_latest(rt.parts[CollectorRegistry]).decode()
    finally:
        rt.close()
    drift = [line for line in text.splitlines() if line.startswith("mlresponder_monitor_drift_score{")]
    amount = next(line for line in drift if 'monitor="drift-watch"' in line and 'feature="amount"' in line)
    assert float(amount.rsplit(" ", 1)[1]) > 1.0
    calm = next(line for line in drift if 'monitor="calm"' in line and 'feature="amount"' in line)
    assert float(calm.rsplit(" ", 1)[1]) < 0.1
    assert 'mlresponder_monitor_quality{metric="accuracy",model_version="v1",monitor="calm",service="fraud-scorer"}' \
        in text
    assert 'mlresponder_monitor_last_success_timestamp_seconds{monitor="calm"}' in text
    assert 'mlresponder_monitor_breached{monitor="drift-watch",status="breach"} 1.0' in text


def test_cli_list_run_history(settings: Settings, tmp_path: Path, source: str,
                              monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "m.yaml", [monitor_doc("drift-watch", source, "drifted")])
    monkeypatch.setenv("MLRESPONDER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MLRESPONDER_MONITORS", config)
    monkeypatch.setenv("MLRESPONDER_SCHEDULER", "false")
    assert main(["monitor", "run", "drift-watch", "--at", END.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "drift-watch: breach" in out and "INC-1" in out and "data/unit_change amount" in out
    assert main(["monitor", "run", "drift-watch", "--dry-run"]) == 1  # now: no rows in the window
    assert "returned 0 rows" in capsys.readouterr().out
    assert main(["monitor", "list"]) == 0
    assert "drift-watch" in (listing := capsys.readouterr().out) and "breach" in listing
    assert main(["monitor", "history", "drift-watch"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and "breach" in lines[0]  # the dry run left no record
    assert main(["monitor", "history", "nope"]) == 2
    assert "no monitor named 'nope'" in capsys.readouterr().err


def test_slot_claims_missed_slots_and_lease_takeover(settings: Settings, tmp_path: Path, source: str) -> None:
    from datetime import timedelta

    from bot.db import utcnow
    from bot.monitors.models import MonitorRun

    rt = _runtime(settings, tmp_path, [monitor_doc("calm", source, "healthy", every="10m")])
    service = rt.parts[MonitorService]
    step = timedelta(minutes=10)
    try:
        first = service.run("calm", now=END, tick=END, trigger="schedule")
        again = service.run("calm", now=END, tick=END, trigger="schedule")
        assert (first.status, again.status) == ("ok", "skipped")  # a replica that lost the race skips
        # three slots later (the scheduler was down): the gap is recorded, never silent
        later = service.run("calm", now=END, tick=END + 3 * step, trigger="schedule")
        assert later.status == "ok"
        # a run that died holding its slot: taken over once its lease has expired, not before
        with transaction(rt.sessions) as session:
            session.add(MonitorRun(monitor="calm", tick=END + 4 * step, trigger="schedule", status="running",
                                   replica="dead:1", started_at=utcnow() - timedelta(minutes=5), metrics={},
                                   firing=[], incidents=[]))
        assert service.run("calm", now=END, tick=END + 4 * step, trigger="schedule").status == "skipped"
        with transaction(rt.sessions) as session:
            row = session.query(MonitorRun).filter_by(tick=END + 4 * step).one()
            row.started_at = utcnow() - timedelta(hours=1)
        taken = service.run("calm", now=END, tick=END + 4 * step, trigger="schedule")
        assert taken.status == "ok"
        with transaction(rt.sessions) as session:
            runs = sorted(history(session, "calm"), key=lambda r: r.tick)
            assert [(r.tick - END, r.status, r.trigger) for r in runs] == [
                (0 * step, "ok", "schedule"), (1 * step, "missed", "schedule"), (2 * step, "missed", "schedule"),
                (3 * step, "ok", "schedule"), (4 * step, "ok", "catch_up")]
            assert "coalesced into the run at" in (runs[1].error or "")
    finally:
        rt.close()


def test_api_metrics_endpoint_includes_monitor_gauges(settings: Settings, tmp_path: Path, source: str) -> None:
    from fastapi.testclient import TestClient

    from bot.api import create_app

    rt = _runtime(settings, tmp_path, [monitor_doc("drift-watch", source, "drifted")])
    try:
        rt.parts[MonitorService].run("drift-watch", now=END)
        response = TestClient(create_app(rt), client=("127.0.0.1", 50000)).get("/metrics")
    finally:
        rt.close()
    assert response.status_code == 200
    assert 'mlresponder_monitor_drift_score{feature="amount",monitor="drift-watch"}' in response.text
    assert "mlresponder_alerts_received_total" in response.text or "mlresponder_http_request" in response.text


def test_reference_can_be_a_training_set_table(settings: Settings, tmp_path: Path, source: str) -> None:
    """A training set has features (and maybe labels) but no timestamps or predictions."""
    engine = sa.create_engine(source)
    train = make_log("healthy").drop(columns=["timestamp", "prediction", "model_version", "latency_ms", "error"])
    train.to_sql("training_set", engine, index=False)
    engine.dispose()
    docs = []
    for table in ("healthy", "drifted"):
        doc = monitor_doc(f"vs-train-{table}", source, table, checks={"drift": {}, "missing": {}, "quality": {}})
        doc["reference"] = {"source": {"url": source, "table": "training_set"}}
        docs.append(doc)
    rt = _runtime(settings, tmp_path, docs)
    try:
        calm = rt.parts[MonitorService].run("vs-train-healthy", now=END)
        drifted = rt.parts[MonitorService].run("vs-train-drifted", now=END)
    finally:
        rt.close()
    assert calm.status == "ok", calm.to_dict()
    assert drifted.status == "breach" and drifted.diagnosis is not None
    assert drifted.diagnosis["culprit"] == {"kind": "feature", "name": "amount"}


def test_jobs_follow_the_configuration_across_restarts(settings: Settings, tmp_path: Path, source: str) -> None:
    """Unchanged schedules keep their stored job (and its due time); changed ones are replaced; gone ones go."""
    cron = {**monitor_doc("by-cron", source, "healthy"), "schedule": {"cron": "*/10 * * * *"}}
    interval = monitor_doc("by-interval", source, "healthy", every="5m")
    live = settings.with_(scheduler_enabled=True)

    policy = {"severities": {"sev1": {"reminder_every": "1h"}}}

    def jobs(docs: list[dict], escalation: dict | None = policy) -> dict[str, object]:
        rt = create_runtime(live.with_(monitors=write_config(tmp_path / "m.yaml", docs, escalation)))
        try:
            aps = rt.parts[Scheduler].aps
            return {job.id: (str(job.trigger), job.next_run_time) for job in aps.get_jobs()}
        finally:
            rt.close()

    first = jobs([cron, interval])
    assert set(first) == {"monitor:by-cron", "monitor:by-interval", "escalation:sweep"}
    assert "cron[" in str(first["monitor:by-cron"]) and "interval[0:05:00]" in str(first["monitor:by-interval"])
    assert jobs([cron, interval]) == first  # a restart leaves them exactly as stored
    changed = jobs([{**cron, "schedule": {"cron": "0 * * * *"}}])
    assert set(changed) == {"monitor:by-cron", "escalation:sweep"}
    assert changed["monitor:by-cron"] != first["monitor:by-cron"]
    disabled = jobs([{**cron, "enabled": False}])
    assert set(disabled) == {"escalation:sweep"}
    assert jobs([], escalation=None) == {}  # no escalation policy: no sweep either


def test_cli_reports_invalid_configuration_with_file_and_line(settings: Settings, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("monitors:\n  - name: x\n    service: s\n    schedule: {every: soon}\n")
    monkeypatch.setenv("MLRESPONDER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MLRESPONDER_MONITORS", str(bad))
    assert main(["monitor", "list"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:4: monitors[0].schedule.every: expected a duration" in err
    assert f"{bad}:2: monitors[0].source: Field required" in err
    assert "Traceback" not in err


@pytest.mark.integration
def test_concurrent_claims_of_one_slot_on_postgres_run_it_once(
    settings: Settings, tmp_path: Path, source: str, postgres_url: str
) -> None:
    """Replicas racing for the same tick at the same instant: the database lets exactly one run it."""
    import threading

    rt = _runtime(settings.with_(database_url=postgres_url), tmp_path,
                  [monitor_doc("calm", source, "healthy", every="10m")])
    service = rt.parts[MonitorService]
    barrier = threading.Barrier(6)
    statuses: list[str] = []

    def replica() -> None:
        barrier.wait()
        statuses.append(service.run("calm", now=END, tick=END, trigger="schedule").status)

    threads = [threading.Thread(target=replica) for _ in range(6)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert sorted(statuses) == ["ok"] + ["skipped"] * 5, statuses
        with transaction(rt.sessions) as session:
            assert [r.status for r in history(session, "calm")] == ["ok"]
    finally:
        rt.close()
