"""Verification when the labels of the rows served since the mitigation have not arrived.

A runbook run (real MLflow registry, real scheduler jobs) rolls a bad version back; the log
written "after" the mitigation has predictions but no labels. With probability scores the
verdict is judged on the confidence-based estimate of accuracy (and says so); with class names
and no probabilities, on the accuracy a label model of the labelled baseline expects.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rb_logs import score_after_mitigation, score_history, unlabelled_after_mitigation, write_log
from rb_support import events_of, incident_status, mitigations_of, open_incident, record_deploy

from bot.runtime import Runtime
from runbooks import jobs
from runbooks.engine import RunbookEngine
from runbooks.service import approve_mitigation
from tests.runbooks.test_runbooks_e2e import _scenario, _verify_job


def _score_scenario(rt: Runtime, store: Any, tmp_path: Path) -> tuple[int, Path, int]:
    model = store.new_model()
    rows, onset = score_history(time.time())
    log = write_log(tmp_path / "scores.csv", rows)
    record_deploy(rt, model, datetime.fromtimestamp(onset, UTC))
    iid = open_incident(rt, "ModelAccuracyDrop", model=model, log_path=str(log))
    run_id = rt.parts[RunbookEngine].run_for_incident(iid)
    assert run_id is not None
    [m] = mitigations_of(rt, iid)
    assert m.action == "rollback"
    approve_mitigation(rt, m.id, "U-alice")
    return iid, log, m.id


def test_rollback_is_verified_on_estimated_accuracy_when_labels_have_not_arrived(rt, mlflow_store, tmp_path):
    iid, log, mid = _score_scenario(rt, mlflow_store, tmp_path)
    write_log(log, score_after_mitigation(time.time() + 60, recovered=True), append=True)
    assert jobs.verify_mitigation(**_verify_job(rt, mid), runtime=rt) == "pass"
    [check] = events_of(rt, iid, "verification")
    assert check.data["estimated"] is True and check.data["n_after"] >= 10
    assert "estimated from the predicted probabilities" in check.message
    assert incident_status(rt, iid) == "mitigated"


def test_estimated_accuracy_that_stays_low_fails_verification(rt, mlflow_store, tmp_path):
    iid, log, mid = _score_scenario(rt, mlflow_store, tmp_path)
    write_log(log, score_after_mitigation(time.time() + 60, recovered=False), append=True)
    assert jobs.verify_mitigation(**_verify_job(rt, mid), runtime=rt) == "fail"
    [check] = events_of(rt, iid, "verification")
    assert check.data["estimated"] is True
    assert check.data["after_median"] < check.data["baseline_median"] - 0.1
    assert mitigations_of(rt, iid)[0].status == "failed_verification"


def test_class_names_without_labels_are_verified_on_the_label_models_estimate(rt, mlflow_store, tmp_path):
    """No probability to trust, but the labelled baseline says which label the inputs likely have:
    the rolled-back version's answers are right about 95% of the time again, so verification passes."""
    iid, _model, log, _run = _scenario(rt, mlflow_store, tmp_path, "bad_deploy", "ModelAccuracyDrop")
    [m] = mitigations_of(rt, iid)
    approve_mitigation(rt, m.id, "U-alice")
    write_log(log, unlabelled_after_mitigation(time.time() + 60), append=True)
    assert jobs.verify_mitigation(**_verify_job(rt, m.id), runtime=rt) == "pass"
    [check] = events_of(rt, iid, "verification")
    assert check.data["estimated"] is True
    assert "estimated from the inputs by a label model" in check.message
    assert incident_status(rt, iid) == "mitigated"


def test_class_names_whose_estimated_accuracy_stays_low_fail_verification(rt, mlflow_store, tmp_path):
    iid, _model, log, _run = _scenario(rt, mlflow_store, tmp_path, "bad_deploy", "ModelAccuracyDrop")
    [m] = mitigations_of(rt, iid)
    approve_mitigation(rt, m.id, "U-alice")
    write_log(log, unlabelled_after_mitigation(time.time() + 60, accuracy=0.6), append=True)
    assert jobs.verify_mitigation(**_verify_job(rt, m.id), runtime=rt) == "fail"
    [check] = events_of(rt, iid, "verification")
    assert check.data["estimated"] is True
    assert check.data["after_median"] < check.data["baseline_median"] - 0.2
    assert mitigations_of(rt, iid)[0].status == "failed_verification"
