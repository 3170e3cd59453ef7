"""Unknown target, registry down, missing version, two approvals at once: clear failures on the
timeline, an escalation, and nothing half-changed."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rb_logs import history, write_log
from rb_support import (
    audit_count,
    count,
    events_of,
    incident_status,
    make_runtime,
    mitigations_of,
    open_incident,
    record_deploy,
)

from bot.db import transaction
from bot.models import ChangeEvent
from runbooks.engine import RunbookEngine
from runbooks.mitigations import MitigationConflict, MitigationError
from runbooks.models import RunbookRun
from runbooks.registry.base import ModelRegistry
from runbooks.registry.mlflow import MlflowRegistry
from runbooks.service import approve_mitigation, propose_mitigation, revert_mitigation

CUSTOM = """
name: custom-rollback
match: {{alertname: CustomAlert}}
escalate_to: [ml-lead]
steps:
  - diagnose: {{log: "{{{{ service.prediction_log }}}}"}}
  - mitigate:
      action: rollback
      target: "{{{{ service.model.registry }}}}"
      approval: {approval}
      params: {params}
  - notify: {{message: "after the mitigation"}}
"""


def _custom_runtime(rb_settings, tmp_path: Path, *, approval: str = "auto", params: str = "{}", **changes):
    folder = tmp_path / "runbooks"
    folder.mkdir(exist_ok=True)
    (folder / "custom.yaml").write_text(CUSTOM.format(approval=approval, params=params))
    return make_runtime(rb_settings.with_(runbooks=str(folder), **changes))


def _start(rt, tmp_path: Path, model: str) -> int:
    rows, onset = history("bad_deploy", time.time())
    log = write_log(tmp_path / "log.csv", rows)
    record_deploy(rt, model, datetime.fromtimestamp(onset, UTC))
    iid = open_incident(rt, "CustomAlert", model=model, log_path=str(log))
    rt.parts[RunbookEngine].run_for_incident(iid)
    return iid


def _run(rt, iid: int) -> RunbookRun:
    with transaction(rt.sessions) as s:
        return s.query(RunbookRun).filter_by(incident_id=iid).one()


def _assert_failed_cleanly(rt, iid: int, expected: str) -> None:
    [failed] = events_of(rt, iid, "mitigation_failed")
    assert expected in failed.message, failed.message
    escalations = events_of(rt, iid, "escalation")
    assert escalations and expected in escalations[0].data["message"]
    assert escalations[0].data["who"] == ["ml-lead"]
    assert "Nothing was changed" in escalations[0].data["message"]
    assert events_of(rt, iid, "mitigation_executed") == []
    assert count(rt, ChangeEvent, origin="mitigation") == 0
    run = _run(rt, iid)
    assert run.status == "failed"
    assert events_of(rt, iid, "notify") == []  # the steps after the failure did not run
    assert incident_status(rt, iid) == "triggered"


def test_unknown_target_fails_clearly_and_escalates(rb_settings, mlflow_store, tmp_path):
    rt = _custom_runtime(rb_settings, tmp_path)
    try:
        iid = _start(rt, tmp_path, "no-such-model")
        _assert_failed_cleanly(rt, iid, "no registered model 'no-such-model'")
        [m] = mitigations_of(rt, iid)
        assert m.status == "failed" and "no-such-model" in (m.error or "")
    finally:
        rt.close()


def test_missing_version_fails_and_the_alias_stays(rb_settings, mlflow_store, tmp_path):
    rt = _custom_runtime(rb_settings, tmp_path, params="{to_version: '99'}")
    try:
        model = mlflow_store.new_model()
        iid = _start(rt, tmp_path, model)
        _assert_failed_cleanly(rt, iid, f"model {model!r} has no version '99'")
        assert mlflow_store.serving(model) == "2"
    finally:
        rt.close()


def test_registry_down_fails_fast_and_escalates(rb_settings, mlflow_store, tmp_path, monkeypatch):

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    rt = _custom_runtime(rb_settings, tmp_path, mlflow_registry_uri=f"http://127.0.0.1:{port}")
    try:
        iid = _start(rt, tmp_path, "fraud")
        _assert_failed_cleanly(rt, iid, "unavailable")
    finally:
        rt.close()


def test_registry_down_between_approval_and_execution_changes_nothing(rb_settings, mlflow_store, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    rt = _custom_runtime(rb_settings, tmp_path, approval="required")
    try:
        model = mlflow_store.new_model()
        iid = _start(rt, tmp_path, model)
        [m] = mitigations_of(rt, iid)
        assert m.status == "proposed"
        rt.parts[ModelRegistry] = MlflowRegistry("http://127.0.0.1:9", serving_alias="champion")
        approve_mitigation(rt, m.id, "U-alice")
        [m] = mitigations_of(rt, iid)
        assert m.status == "failed" and "unavailable" in (m.error or "")
        assert mlflow_store.serving(model) == "2"
        assert audit_count(rt, "mitigation.execute", outcome="failed") == 1
        assert events_of(rt, iid, "escalation")
        assert _run(rt, iid).status == "failed"
    finally:
        rt.close()


def test_stale_plan_is_refused_when_someone_moved_the_alias_meanwhile(rb_settings, mlflow_store, tmp_path):
    rt = _custom_runtime(rb_settings, tmp_path, approval="required")
    try:
        model = mlflow_store.new_model()
        iid = _start(rt, tmp_path, model)
        [m] = mitigations_of(rt, iid)
        mlflow_store.client().set_registered_model_alias(model, "champion", "3")  # a person acted first
        approve_mitigation(rt, m.id, "U-alice")
        [m] = mitigations_of(rt, iid)
        assert m.status == "failed" and "now serves version 3, not version 2 as planned" in (m.error or "")
        assert mlflow_store.serving(model) == "3"
    finally:
        rt.close()


def test_two_approvals_at_once_execute_once(rb_settings, mlflow_store, tmp_path):
    rt = _custom_runtime(rb_settings, tmp_path, approval="required")
    try:
        model = mlflow_store.new_model()
        iid = _start(rt, tmp_path, model)
        [m] = mitigations_of(rt, iid)
        barrier = threading.Barrier(4)
        outcomes: list[str] = []

        def approve(user: str) -> None:
            barrier.wait()
            try:
                approve_mitigation(rt, m.id, user)
                outcomes.append("executed")
            except MitigationConflict as exc:
                outcomes.append(f"conflict: {exc}")

        threads = [threading.Thread(target=approve, args=(f"U-{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(o.split(":")[0] for o in outcomes) == ["conflict", "conflict", "conflict", "executed"]
        assert all("already" in o for o in outcomes if o.startswith("conflict"))
        assert len(events_of(rt, iid, "mitigation_approved")) == 1
        assert len(events_of(rt, iid, "mitigation_executed")) == 1
        assert audit_count(rt, "mitigation.execute") == 1
        assert count(rt, ChangeEvent, origin="mitigation") == 1
        assert mlflow_store.serving(model) == "1"
        assert len(events_of(rt, iid, "notify")) == 1  # the run went on exactly once
    finally:
        rt.close()


def test_manual_proposal_revert_twice_and_refusals(rt, mlflow_store, tmp_path):
    model = mlflow_store.new_model()
    iid = open_incident(rt, "SomethingElse", model=model)  # no runbook matches: a person drives
    assert rt.parts[RunbookEngine].run_for_incident(iid) is None
    mid = propose_mitigation(rt, iid, "naive_model", "U-alice")
    assert propose_mitigation(rt, iid, "naive_model", "U-bob") == mid  # a double click: same proposal
    with pytest.raises(MitigationError, match="only an executed mitigation"):
        revert_mitigation(rt, mid, "U-alice")
    approve_mitigation(rt, mid, "U-bob")
    assert mlflow_store.serving(model) == "3"
    assert incident_status(rt, iid) == "mitigating"
    revert_mitigation(rt, mid, "U-alice")
    with pytest.raises(MitigationConflict, match="already reverted by U-alice"):
        revert_mitigation(rt, mid, "U-bob")
    assert mlflow_store.serving(model) == "2"
    with pytest.raises(MitigationError, match="unknown action 'rolback'"):
        propose_mitigation(rt, iid, "rolback", "U-alice")


def test_revert_refuses_when_the_alias_moved_since(rt, mlflow_store, tmp_path):
    model = mlflow_store.new_model()
    iid = open_incident(rt, "SomethingElse", model=model)
    mid = propose_mitigation(rt, iid, "rollback", "U-alice")
    approve_mitigation(rt, mid, "U-alice")
    assert mlflow_store.serving(model) == "1"
    mlflow_store.client().set_registered_model_alias(model, "champion", "3")
    with pytest.raises(MitigationError, match="someone changed it since"):
        revert_mitigation(rt, mid, "U-bob")
    assert mlflow_store.serving(model) == "3"
    [m] = mitigations_of(rt, iid)
    assert m.status == "executed"  # still revertible once the alias is back
    assert events_of(rt, iid, "mitigation_failed")[0].data["during"] == "revert"
