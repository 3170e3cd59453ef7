"""Each built-in runbook end to end against a real MLflow registry (SQLite backend, no server).

The engine is driven as the service drives it, except for time: verification jobs are
persisted in the (paused) scheduler and the test runs them when it has written the
measurements "after" the mitigation.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rb_logs import after_mitigation, history, write_log
from rb_support import (
    OWNERS,
    FakePrometheus,
    audit_count,
    catalog_entry,
    count,
    events_of,
    incident_status,
    kinds,
    mitigations_of,
    open_incident,
    record_deploy,
    shift_execution,
    write_catalog,
)

from bot.db import transaction
from bot.models import ChangeEvent
from bot.runtime import Runtime
from bot.scheduler import Scheduler
from runbooks import jobs
from runbooks.engine import RunbookEngine
from runbooks.models import RunbookRun
from runbooks.service import approve_mitigation, reject_mitigation, revert_mitigation


def _run_status(rt: Runtime, run_id: int) -> str:
    with transaction(rt.sessions) as s:
        run = s.get(RunbookRun, run_id)
        assert run is not None
        return run.status


def _verify_job(rt: Runtime, mitigation_id: int) -> dict[str, Any]:
    job = rt.parts[Scheduler].aps.get_job(f"runbooks-verify-{mitigation_id}")
    assert job is not None, "the verification must be a persisted scheduler job"
    assert job.func_ref == "runbooks.jobs:verify_mitigation"
    return dict(job.kwargs)


def _scenario(rt: Runtime, store: Any, tmp_path: Path, kind: str, alertname: str, *,
              deploy: bool = True, **catalog_keys: Any) -> tuple[int, str, Path, int]:
    model = store.new_model()
    now = time.time()
    rows, onset = history(kind, now)
    log = write_log(tmp_path / f"{kind}.csv", rows)
    if deploy:
        record_deploy(rt, model, datetime.fromtimestamp(onset, UTC))
    metrics = {"latency_p95_ms": f'histogram_quantile(0.99, rate(request_seconds_bucket{{model="{model}"}}[5m]))'}
    iid = open_incident(rt, alertname, model=model, log_path=str(log), metrics=metrics, **catalog_keys)
    run_id = rt.parts[RunbookEngine].run_for_incident(iid)
    assert run_id is not None, f"{alertname} matched no runbook"
    return iid, model, log, run_id


def test_model_quality_drop_needs_approval_then_rolls_back_verifies_and_reverts(rt, mlflow_store, tmp_path):
    iid, model, log, run_id = _scenario(rt, mlflow_store, tmp_path, "bad_deploy", "ModelAccuracyDrop")
    with transaction(rt.sessions) as s:
        assert s.get_one(RunbookRun, run_id).runbook == "model-quality-drop"
    seen = kinds(rt, iid)
    assert seen[:4] == ["incident_opened", "runbook_started", "diagnosis", "notify"]
    assert "cause model" in events_of(rt, iid, "notify")[0].message
    [m] = mitigations_of(rt, iid)
    assert (m.action, m.status, m.approval) == ("rollback", "proposed", "required")
    assert (m.plan["from_version"], m.plan["to_version"]) == ("2", "1")
    proposed = events_of(rt, iid, "mitigation_proposed")[0].data
    assert proposed["mitigation_id"] == m.id and proposed["plan"]["to_version"] == "1"
    # Nothing changes before a person approves.
    assert mlflow_store.serving(model) == "2"
    assert _run_status(rt, run_id) == "waiting_approval"

    approve_mitigation(rt, m.id, "U-alice")
    assert mlflow_store.serving(model) == "1"
    assert incident_status(rt, iid) == "mitigating"
    assert _run_status(rt, run_id) == "waiting_verification"
    executed = events_of(rt, iid, "mitigation_executed")[0].data
    assert executed["before"]["version"] == "2" and executed["after"]["version"] == "1"
    assert audit_count(rt, "mitigation.execute") == 1
    with transaction(rt.sessions) as s:
        [change] = s.query(ChangeEvent).filter_by(origin="mitigation").all()
        assert (change.kind, change.from_version, change.to_version, change.mitigation_id) == \
            ("model_deploy", "2", "1", m.id)

    write_log(log, after_mitigation("bad_deploy", time.time() + 60, recovered=True), append=True)
    assert jobs.verify_mitigation(**_verify_job(rt, m.id), runtime=rt) == "pass"
    [verification] = events_of(rt, iid, "verification")
    assert verification.data["result"] == "pass" and verification.data["n_after"] >= 10
    assert incident_status(rt, iid) == "mitigated"
    assert _run_status(rt, run_id) == "completed"
    assert not events_of(rt, iid, "escalation")

    revert_mitigation(rt, m.id, "U-bob")
    assert mlflow_store.serving(model) == "2"
    assert mitigations_of(rt, iid)[0].status == "reverted"
    assert events_of(rt, iid, "mitigation_reverted")[0].actor == "U-bob"
    assert count(rt, ChangeEvent, origin="mitigation") == 2
    assert audit_count(rt, "mitigation.revert") == 1


def test_bad_deploy_rolls_back_at_once_without_approval(rt, mlflow_store, tmp_path):
    iid, model, log, run_id = _scenario(rt, mlflow_store, tmp_path, "bad_deploy", "ModelDeployRegression")
    [m] = mitigations_of(rt, iid)
    assert (m.action, m.approval, m.status) == ("rollback", "auto", "executed")
    assert m.approved_by == "runbook:bad-deploy"
    assert mlflow_store.serving(model) == "1"
    approved = events_of(rt, iid, "mitigation_approved")[0]
    assert approved.data["auto"] is True
    notify = events_of(rt, iid, "notify")[0].message
    assert "rolled back automatically" in notify and f"mitigation revert {m.id}" in notify
    write_log(log, after_mitigation("bad_deploy", time.time() + 60, recovered=True), append=True)
    assert jobs.verify_mitigation(**_verify_job(rt, m.id), runtime=rt) == "pass"
    assert incident_status(rt, iid) == "mitigated"
    assert _run_status(rt, run_id) == "completed"
    # the "not the deploy" escalation is skipped: a mitigation ran
    assert not events_of(rt, iid, "escalation")


def test_data_drift_serves_the_naive_fallback_and_hands_the_pipeline_over(rt, mlflow_store, tmp_path):
    iid, model, log, run_id = _scenario(rt, mlflow_store, tmp_path, "drift", "FeatureDriftDetected", deploy=False)
    [m] = mitigations_of(rt, iid)
    assert m.action == "naive_model" and m.plan["to_version"] == "3"
    assert "alias 'fallback'" in m.plan["reason"]
    approve_mitigation(rt, m.id, "U-alice")
    assert mlflow_store.serving(model) == "3"
    write_log(log, after_mitigation("drift", time.time() + 60, recovered=True, version="3"), append=True)
    assert jobs.verify_mitigation(**_verify_job(rt, m.id), runtime=rt) == "pass"
    [escalation] = events_of(rt, iid, "escalation")
    assert escalation.data["who"] == [OWNERS] and "x1" in escalation.data["message"]
    assert f"the naive fallback serves meanwhile. Please fix the pipeline, then revert mitigation {m.id}." in \
        escalation.data["message"]
    assert _run_status(rt, run_id) == "completed"
    revert_mitigation(rt, m.id, "U-bob")
    assert mlflow_store.serving(model) == "2"


def test_latency_regression_after_a_deploy_rolls_back_and_verifies_on_prometheus(rb_settings, mlflow_store,
                                                                                 tmp_path):
    from rb_support import make_runtime

    state: dict[str, float] = {}

    def p99(t: float) -> float:  # fast before the incident, slow during, fast again after the rollback
        if t < state["incident"] or t >= state.get("fixed", float("inf")):
            return 0.08 + 0.001 * (int(t) % 7)
        return 0.8 + 0.001 * (int(t) % 7)

    prom = FakePrometheus(p99)
    rt = make_runtime(rb_settings.with_(prometheus_url=prom.url))
    try:
        state["incident"] = time.time() - 3600
        iid, model, _log, run_id = _scenario(rt, mlflow_store, tmp_path, "latency_model", "PredictionLatencyHigh")
        [m] = mitigations_of(rt, iid)
        assert m.action == "rollback"
        approve_mitigation(rt, m.id, "U-alice")
        assert mlflow_store.serving(model) == "1"
        shift_execution(rt, m.id, minutes=10)  # ten minutes pass
        state["fixed"] = time.time() - 10 * 60
        assert jobs.verify_mitigation(**_verify_job(rt, m.id), runtime=rt) == "pass"
        assert any('model="' + model + '"' in q["query"] for q in prom.queries)
        assert incident_status(rt, iid) == "mitigated"
        assert _run_status(rt, run_id) == "completed"
    finally:
        rt.close()
        prom.close()


def test_latency_regression_of_the_service_escalates_without_touching_the_model(rt, mlflow_store, tmp_path):
    iid, model, _log, run_id = _scenario(rt, mlflow_store, tmp_path, "latency_service", "PredictionLatencyHigh",
                                         deploy=False)
    assert mitigations_of(rt, iid) == []
    [escalation] = events_of(rt, iid, "escalation")
    assert escalation.data["who"] == [OWNERS]
    assert mlflow_store.serving(model) == "2"
    assert _run_status(rt, run_id) == "completed"


def test_error_spike_rollback_fails_verification_escalates_and_offers_revert(rt, mlflow_store, tmp_path):
    iid, model, log, run_id = _scenario(rt, mlflow_store, tmp_path, "errors", "ModelErrorRateHigh")
    [m] = mitigations_of(rt, iid)
    approve_mitigation(rt, m.id, "U-alice")
    assert mlflow_store.serving(model) == "1"
    write_log(log, after_mitigation("errors", time.time() + 60, recovered=False), append=True)
    assert jobs.verify_mitigation(**_verify_job(rt, m.id), runtime=rt) == "fail"
    [verification] = events_of(rt, iid, "verification")
    assert verification.data["result"] == "fail" and verification.data["effect"] > 0.2
    [escalation] = events_of(rt, iid, "escalation")
    assert escalation.data["offer_revert"] is True and escalation.data["mitigation_id"] == m.id
    assert f"mitigation revert {m.id}" in escalation.data["message"]
    assert escalation.data["who"] == [OWNERS]
    assert mitigations_of(rt, iid)[0].status == "failed_verification"
    assert _run_status(rt, run_id) == "escalated"
    assert incident_status(rt, iid) == "mitigating"
    revert_mitigation(rt, m.id, "U-alice")
    assert mlflow_store.serving(model) == "2"
    assert incident_status(rt, iid) == "acknowledged"


def test_too_little_data_is_inconclusive_rechecked_then_escalated_never_passed(rt, mlflow_store, tmp_path):
    iid, model, _log, run_id = _scenario(rt, mlflow_store, tmp_path, "bad_deploy", "ModelAccuracyDrop")
    [m] = mitigations_of(rt, iid)
    approve_mitigation(rt, m.id, "U-alice")
    kwargs = _verify_job(rt, m.id)
    results = []
    for _ in range(3):  # retries: 2 in the built-in runbook, so three checks in all
        results.append(jobs.verify_mitigation(**kwargs, runtime=rt))
        if results[-1] != "inconclusive" or _run_status(rt, run_id) != "waiting_verification":
            break
        kwargs = _verify_job(rt, m.id)
        assert kwargs["attempt"] == len(results) + 1
    assert results == ["inconclusive"] * 3
    checks = events_of(rt, iid, "verification")
    assert [c.data["result"] for c in checks] == ["inconclusive"] * 3
    assert "too little data" in checks[0].message and "checking again" in checks[0].message
    [escalation] = events_of(rt, iid, "escalation")
    assert "inconclusive" in escalation.data["message"]
    assert incident_status(rt, iid) == "mitigating"  # never marked mitigated without evidence
    assert _run_status(rt, run_id) == "escalated"


def test_rejected_mitigation_changes_nothing_and_the_run_goes_on(rt, mlflow_store, tmp_path):
    iid, model, _log, run_id = _scenario(rt, mlflow_store, tmp_path, "bad_deploy", "ModelAccuracyDrop")
    [m] = mitigations_of(rt, iid)
    reject_mitigation(rt, m.id, "U-carol", reason="we roll forward")
    assert mlflow_store.serving(model) == "2"
    rejected = events_of(rt, iid, "mitigation_rejected")[0]
    assert rejected.actor == "U-carol" and rejected.data["reason"] == "we roll forward"
    assert _run_status(rt, run_id) == "completed"
    with pytest.raises(Exception, match="already rejected"):
        approve_mitigation(rt, m.id, "U-dave")
    assert mlflow_store.serving(model) == "2"


def test_run_diagnosis_on_demand_uses_the_runbooks_data_source(rt, mlflow_store, tmp_path):
    from runbooks.service import run_diagnosis

    iid, _model, _log, _run_id = _scenario(rt, mlflow_store, tmp_path, "bad_deploy", "ModelAccuracyDrop")
    diagnosis = run_diagnosis(rt, iid, "U-alice")
    assert diagnosis["cause"] == "model" and diagnosis["culprit"] == {"kind": "model_version", "name": "2"}
    again = events_of(rt, iid, "diagnosis")
    assert len(again) == 2 and again[-1].actor == "U-alice"


def test_wait_step_is_a_persisted_job_and_the_run_continues_after_it(rb_settings, tmp_path):
    from rb_support import make_runtime
    from rb_support import open_incident as open_

    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "w.yaml").write_text(
        "name: waits\nmatch: {alertname: W}\nsteps:\n"
        "  - notify: {message: before}\n  - wait: {duration: 2m}\n  - notify: {message: after}\n")
    rt = make_runtime(rb_settings.with_(runbooks=str(folder)))
    try:
        iid = open_(rt, "W", model="m")
        run_id = rt.parts[RunbookEngine].run_for_incident(iid)
        assert [e.message for e in events_of(rt, iid, "notify")] == ["before"]
        assert _run_status(rt, run_id) == "waiting"
        job = rt.parts[Scheduler].aps.get_job(f"runbooks-wait-{run_id}-1")
        assert job is not None and job.func_ref == "runbooks.jobs:resume_after_wait"
        jobs.resume_after_wait(**job.kwargs, runtime=rt)
        jobs.resume_after_wait(**job.kwargs, runtime=rt)  # a duplicate firing changes nothing
        assert [e.message for e in events_of(rt, iid, "notify")] == ["before", "after"]
        assert _run_status(rt, run_id) == "completed"
    finally:
        rt.close()


def test_cli_mitigation_revert_list_and_show(rt, rb_settings, mlflow_store, tmp_path, monkeypatch, capsys):
    from bot.cli import main
    from runbooks.service import propose_mitigation

    model = mlflow_store.new_model()
    iid = open_incident(rt, "SomethingElse", model=model)
    mid = propose_mitigation(rt, iid, "rollback", "U-alice")
    approve_mitigation(rt, mid, "U-alice")
    assert mlflow_store.serving(model) == "1"
    monkeypatch.setenv("MLRESPONDER_DATABASE_URL", rb_settings.database_url)
    monkeypatch.setenv("MLRESPONDER_MLFLOW_REGISTRY_URI", mlflow_store.uri)
    catalog = write_catalog(tmp_path / "catalog.yaml", catalog_entry("fraud-api", model))
    monkeypatch.setenv("MLRESPONDER_CATALOG", catalog)
    assert main(["mitigation", "plan", f"INC-{iid}", "naive_model"]) == 0
    assert f"dry run: move 'champion' of {model!r} from version 1 to version 3" in capsys.readouterr().out
    assert mlflow_store.serving(model) == "1"  # a dry run changes nothing
    assert main(["mitigation", "plan", f"INC-{iid}", "rollback", "--to-version", "42"]) == 1
    assert "has no version '42'" in capsys.readouterr().err
    assert main(["mitigation", "list"]) == 0
    assert "rollback" in capsys.readouterr().out
    assert main(["mitigation", "revert", str(mid), "--actor", "cli:test"]) == 0
    assert f"mitigation {mid} reverted: {model} serves version 2 again (was 1)" in capsys.readouterr().out
    assert mlflow_store.serving(model) == "2"
    assert main(["mitigation", "revert", str(mid)]) == 1
    assert "already reverted by cli:test" in capsys.readouterr().err
    assert main(["mitigation", "show", str(mid)]) == 0
    assert '"status": "reverted"' in capsys.readouterr().out


def test_resolving_the_incident_stops_the_run_and_refuses_late_approvals(rt, mlflow_store, tmp_path):
    from bot.incidents import get_incident, transition
    from runbooks.executor import advance
    from runbooks.mitigations import MitigationError

    iid, model, _log, run_id = _scenario(rt, mlflow_store, tmp_path, "bad_deploy", "ModelAccuracyDrop")
    [m] = mitigations_of(rt, iid)
    with transaction(rt.sessions) as s:
        transition(s, get_incident(s, iid), "resolved", actor="U-alice", note="rolled forward by hand")
    with pytest.raises(MitigationError, match="is resolved"):
        approve_mitigation(rt, m.id, "U-bob")
    assert mlflow_store.serving(model) == "2"
    with transaction(rt.sessions) as s:
        s.get_one(RunbookRun, run_id).status = "running"  # e.g. a resume after a restart
    advance(rt, run_id)
    assert _run_status(rt, run_id) == "cancelled"
