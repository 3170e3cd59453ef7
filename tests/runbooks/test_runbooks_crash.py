"""A process killed between executing a mitigation and verifying it: the restarted service
resumes the run from the persisted state and the scheduler's job store, and never executes the
mitigation again. Also: a process that died mid-execution is reconciled, not retried."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from rb_logs import after_mitigation, history, write_log
from rb_support import (
    audit_count,
    catalog_entry,
    count,
    events_of,
    incident_status,
    mitigations_of,
    open_incident,
    write_catalog,
)

from bot.config import Settings
from bot.db import make_engine, make_session_factory, transaction
from bot.models import ChangeEvent, Mitigation
from bot.scheduler import Scheduler
from runbooks.engine import RunbookEngine
from runbooks.executor import resume_active
from runbooks.models import RunbookRun

CHILD = Path(__file__).with_name("rb_crash_child.py")
RUNBOOK = """
name: crash-test
match: {alertname: CrashAlert}
steps:
  - diagnose: {log: "{{ service.prediction_log }}"}
  - mitigate: {action: rollback, target: "{{ service.model.registry }}", approval: auto}
  - verify:
      log: "{{ service.prediction_log }}"
      metric: accuracy
      after: 6s
      retries: 3
      expect: {better: higher, measurements: 10}
  - notify: {message: "verified: {{ verification.result }}"}
"""


def _child(phase: str, cfg: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(CHILD), phase, json.dumps(cfg)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=str(Path(__file__).parents[2]))


def test_killed_after_execution_resumes_and_never_executes_twice(tmp_path: Path, mlflow_store) -> None:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "crash.yaml").write_text(RUNBOOK)
    model = mlflow_store.new_model()
    rows, onset = history("bad_deploy", time.time())
    log = write_log(tmp_path / "log.csv", rows)
    db = f"sqlite:///{tmp_path / 'store.db'}"
    catalog = write_catalog(tmp_path / "catalog.yaml", catalog_entry("fraud-api", model, str(log)))
    cfg = {"db": db, "mlflow": mlflow_store.uri, "runbooks": str(folder), "model": model, "log": str(log),
           "catalog": catalog}
    from bot.db import upgrade

    upgrade(db)
    sessions = make_session_factory(make_engine(db))
    with transaction(sessions) as s:  # the deploy that the rollback undoes
        s.add(ChangeEvent(timestamp=datetime.fromtimestamp(onset, UTC), kind="model_deploy", service=model,
                          description="deploy", from_version="1", to_version="2", origin="api"))

    first = _child("first", cfg)
    try:
        deadline = time.time() + 120
        status = None
        while time.time() < deadline:
            with transaction(sessions) as s:
                m = s.query(Mitigation).first()
                status = m.status if m else None
            if status == "executed":
                break
            assert first.poll() is None, first.stderr.read() if first.stderr else ""
            time.sleep(0.05)
        assert status == "executed"
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == -signal.SIGKILL
    assert mlflow_store.serving(model) == "1"
    with transaction(sessions) as s:
        run = s.query(RunbookRun).one()
        assert run.status in ("running", "waiting_verification")
        m = s.query(Mitigation).one()
        assert m.status == "executed"

    # Measurements arrive after the mitigation; then the service comes back.
    write_log(log, after_mitigation("bad_deploy", time.time() + 60, recovered=True), append=True)
    second = _child("second", cfg)
    out, err = second.communicate(timeout=150)
    assert second.returncode == 0, out + err
    assert "run completed" in out

    rt = SimpleNamespace(sessions=sessions)  # the helpers only need the session factory
    with transaction(sessions) as s:
        iid = s.query(RunbookRun).one().incident_id
    assert len(events_of(rt, iid, "mitigation_executed")) == 1
    assert len(events_of(rt, iid, "mitigation_approved")) == 1
    assert audit_count(rt, "mitigation.execute") == 1
    assert count(rt, ChangeEvent, origin="mitigation") == 1
    assert [m.status for m in mitigations_of(rt, iid)] == ["verified"]
    assert incident_status(rt, iid) == "mitigated"
    assert [e.data["text"] for e in events_of(rt, iid, "notify")] == ["verified: pass"]
    assert mlflow_store.serving(model) == "1"


def _executing(rt, mlflow_store, tmp_path: Path, monkeypatch, *, flip: bool) -> tuple[int, str]:
    """A run whose process died mid-execution: mitigation 'executing', alias flipped or not."""
    model = mlflow_store.new_model()
    rows, onset = history("bad_deploy", time.time())
    log = write_log(tmp_path / "log.csv", rows)
    with transaction(rt.sessions) as s:
        s.add(ChangeEvent(timestamp=datetime.fromtimestamp(onset, UTC), kind="model_deploy", service=model,
                          description="deploy", from_version="1", to_version="2", origin="api"))
    iid = open_incident(rt, "CrashAlert", model=model, log_path=str(log))
    import runbooks.mitigations

    def dies(runtime, mitigation_id, **kw):  # the process "dies" after claiming, mid-call
        with transaction(runtime.sessions) as s:
            s.get_one(Mitigation, mitigation_id).status = "executing"
        if flip:
            mlflow_store.client().set_registered_model_alias(model, "champion", "1")
        raise SystemExit("killed")

    with monkeypatch.context() as patch:
        patch.setattr(runbooks.mitigations, "execute", dies)
        with contextlib.suppress(SystemExit):
            rt.parts[RunbookEngine].run_for_incident(iid)
    with transaction(rt.sessions) as s:  # the dead process's lease: expire it
        run = s.query(RunbookRun).one()
        run.lease_owner = None
        run.status = "running"
    return iid, model


def _runtime_with(tmp_path: Path, mlflow_store):
    from rb_support import make_runtime

    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "crash.yaml").write_text(RUNBOOK)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", scheduler_enabled=True,
                        mlflow_registry_uri=mlflow_store.uri, runbooks=str(folder))
    return make_runtime(settings)


def test_died_mid_execution_with_the_change_in_place_is_recorded_not_repeated(tmp_path: Path, mlflow_store,
                                                                              monkeypatch):
    rt = _runtime_with(tmp_path, mlflow_store)
    try:
        iid, model = _executing(rt, mlflow_store, tmp_path, monkeypatch, flip=True)
        resume_active(rt)
        [m] = mitigations_of(rt, iid)
        assert m.status == "executed"
        [executed] = events_of(rt, iid, "mitigation_executed")
        assert "found in place after a restart; not executed again" in executed.message
        assert executed.data["before"]["version"] == "2" and executed.data["after"]["version"] == "1"
        assert mlflow_store.serving(model) == "1"
        assert rt.parts[Scheduler].aps.get_job(f"runbooks-verify-{m.id}") is not None
    finally:
        rt.close()


def test_died_mid_execution_without_the_change_fails_and_escalates_not_retried(tmp_path: Path, mlflow_store,
                                                                               monkeypatch):
    rt = _runtime_with(tmp_path, mlflow_store)
    try:
        iid, model = _executing(rt, mlflow_store, tmp_path, monkeypatch, flip=False)
        resume_active(rt)
        [m] = mitigations_of(rt, iid)
        assert m.status == "failed" and "not retried" in (m.error or "")
        assert mlflow_store.serving(model) == "2"
        assert events_of(rt, iid, "escalation")
        assert events_of(rt, iid, "mitigation_executed") == []
    finally:
        rt.close()


def test_a_verification_lost_with_its_leader_is_rearmed_once_and_never_judged_twice(tmp_path: Path, mlflow_store):
    """APScheduler drops a one-off job from its store as it starts it: a leader killed mid-check
    takes the job with it. The next leader's resumption re-arms it (same due time and attempt);
    a check already judged is neither re-armed nor judged again."""
    from runbooks.engine import resume_orphans
    from runbooks.jobs import _running_job, verify_mitigation

    rt = _runtime_with(tmp_path, mlflow_store)
    try:
        model = mlflow_store.new_model()
        rows, onset = history("bad_deploy", time.time())
        log = write_log(tmp_path / "log.csv", rows)
        with transaction(rt.sessions) as s:
            s.add(ChangeEvent(timestamp=datetime.fromtimestamp(onset, UTC), kind="model_deploy", service=model,
                              description="deploy", from_version="1", to_version="2", origin="api"))
        iid = open_incident(rt, "CrashAlert", model=model, log_path=str(log))
        rt.parts[RunbookEngine].run_for_incident(iid)
        [m] = mitigations_of(rt, iid)
        aps = rt.parts[Scheduler].aps
        job_id = f"runbooks-verify-{m.id}"
        stored = aps.get_job(job_id)
        assert m.status == "executed" and stored is not None
        kwargs, due = dict(stored.kwargs), stored.next_run_time

        assert resume_orphans(rt) == []  # the job is stored: nothing to do
        aps.remove_job(job_id)  # the leader started it (APScheduler drops it from the store) ...
        with _running_job(job_id):  # ... and while it runs here, it is not lost
            assert resume_orphans(rt) == []
        assert aps.get_job(job_id) is None
        with transaction(rt.sessions) as s:
            run_id = s.query(RunbookRun).one().id
        assert resume_orphans(rt) == [run_id]  # the leader died mid-check: the next one re-arms it
        assert rt.parts[RunbookEngine].drain()
        rearmed = aps.get_job(job_id)
        assert rearmed is not None and rearmed.kwargs == kwargs and rearmed.next_run_time == due

        write_log(log, after_mitigation("bad_deploy", time.time() + 60, recovered=True), append=True)
        assert verify_mitigation(**kwargs, runtime=rt) == "pass"
        assert rt.parts[RunbookEngine].drain()
        # The same check again (the job the old leader had completed): dropped, and nothing re-armed.
        assert verify_mitigation(**kwargs, runtime=rt) is None
        aps.remove_job(job_id)
        assert resume_orphans(rt) == []
        assert aps.get_job(job_id) is None
        assert len(events_of(rt, iid, "verification")) == 1
        assert [e.data["text"] for e in events_of(rt, iid, "notify")] == ["verified: pass"]
        with transaction(rt.sessions) as s:
            assert s.query(RunbookRun).one().status == "completed"
    finally:
        rt.close()


def _reverting(rt, mlflow_store, tmp_path: Path, monkeypatch, *, undone: bool) -> tuple[int, str, int]:
    """An executed rollback whose revert's process died mid-call: 'reverting', alias moved back or not."""
    from runbooks.actions.registry_actions import _AliasMove
    from runbooks.mitigations import revert

    model = mlflow_store.new_model()
    rows, onset = history("bad_deploy", time.time())
    log = write_log(tmp_path / "log.csv", rows)
    with transaction(rt.sessions) as s:
        s.add(ChangeEvent(timestamp=datetime.fromtimestamp(onset, UTC), kind="model_deploy", service=model,
                          description="deploy", from_version="1", to_version="2", origin="api"))
    iid = open_incident(rt, "CrashAlert", model=model, log_path=str(log))
    rt.parts[RunbookEngine].run_for_incident(iid)
    [m] = mitigations_of(rt, iid)
    assert m.status == "executed" and mlflow_store.serving(model) == "1"
    real_revert = _AliasMove.revert

    def dies(self, ctx, before, after):  # the reverting process "dies" mid-call
        if undone:
            real_revert(self, ctx, before, after)
        raise SystemExit("killed")

    with monkeypatch.context() as patch:
        patch.setattr(_AliasMove, "revert", dies)
        with contextlib.suppress(SystemExit):
            revert(rt, m.id, "alice")
    [m] = mitigations_of(rt, iid)
    assert m.status == "reverting" and m.revert_from == "executed"
    return iid, model, m.id


def test_died_mid_revert_with_the_revert_in_place_is_recorded_once_not_repeated(tmp_path: Path, mlflow_store,
                                                                                 monkeypatch):
    rt = _runtime_with(tmp_path, mlflow_store)
    try:
        iid, model, mitigation_id = _reverting(rt, mlflow_store, tmp_path, monkeypatch, undone=True)
        resume_active(rt)
        resume_active(rt)  # a second pass finds nothing left to settle
        [m] = mitigations_of(rt, iid)
        assert (m.status, m.reverted_by) == ("reverted", "alice")
        [reverted] = events_of(rt, iid, "mitigation_reverted")
        assert "found undone after the process reverting it stopped; not called again" in reverted.message
        assert reverted.data["after"]["version"] == "2"
        assert mlflow_store.serving(model) == "2"
        assert audit_count(rt, "mitigation.revert") == 1
        assert count(rt, ChangeEvent, origin="mitigation") == 2  # the rollback and its revert
        assert events_of(rt, iid, "mitigation_failed") == [] and events_of(rt, iid, "mitigation_stale") == []
    finally:
        rt.close()


def test_died_mid_revert_without_the_revert_goes_back_escalates_and_can_be_reverted_again(
        tmp_path: Path, mlflow_store, monkeypatch):
    from runbooks.mitigations import revert

    rt = _runtime_with(tmp_path, mlflow_store)
    try:
        iid, model, mitigation_id = _reverting(rt, mlflow_store, tmp_path, monkeypatch, undone=False)
        resume_active(rt)
        resume_active(rt)
        [m] = mitigations_of(rt, iid)
        assert (m.status, m.reverted_by) == ("executed", None)
        [failed] = events_of(rt, iid, "mitigation_failed")
        assert failed.data["during"] == "revert" and "still in place (revert it again)" in failed.data["error"]
        [escalation] = [e for e in events_of(rt, iid, "escalation") if e.data.get("offer_revert")]
        assert f"revert of mitigation {mitigation_id}" in escalation.message
        assert mlflow_store.serving(model) == "1"
        assert audit_count(rt, "mitigation.revert", outcome="failed") == 1
        assert events_of(rt, iid, "mitigation_reverted") == []

        revert(rt, mitigation_id, "bob")  # a person reverts it again: it works, under a new attempt
        [m] = mitigations_of(rt, iid)
        assert (m.status, m.reverted_by, m.attempt) == ("reverted", "bob", 3)
        assert mlflow_store.serving(model) == "2"
    finally:
        rt.close()
