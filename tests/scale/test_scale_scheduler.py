"""One elected scheduler among replicas: only the leader runs jobs; when it dies another takes over.

Two real `mlresponder serve` processes on one PostgreSQL, with a monitor ticking every 2 s. The
leader is killed with SIGKILL: the other replica takes the lead within 15 s and runs the next
ticks, and no tick runs twice (no replica ever attempts a tick the other ran).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from mon_helpers import monitor_doc, write_config
from mon_synth import make_log
from rb_logs import after_mitigation, history, write_log
from rb_support import catalog_entry, write_catalog
from scale_support import TOKEN, alertmanager_body, base_env, wait_until

from bot.config import Settings
from bot.db import make_engine, upgrade, utcnow
from bot.leader import Leadership
from bot.models import ChangeEvent, Mitigation, TimelineEvent
from bot.monitors.models import MonitorRun
from bot.scheduler import Scheduler
from bot.wiring import create_runtime
from runbooks.models import RunbookRun

RUNBOOK = """
name: failover
match: {alertname: PredictionLatencyHigh}
steps:
  - mitigate: {action: rollback, target: "{{ service.model.registry }}", approval: auto}
  - verify:
      log: "{{ service.prediction_log }}"
      metric: accuracy
      after: 3s
      retries: 3
      expect: {better: higher, measurements: 10}
  - notify: {message: "verified: {{ verification.result }}"}
"""
TICK = re.compile(r"monitor live-drift tick (\S+): (\w+)")


def _monitor_config(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    engine = sa.create_engine(url)
    start = datetime.now(UTC) - timedelta(minutes=90)
    make_log("drift", start=start.replace(microsecond=0), rows_per_minute=20).to_sql("live", engine, index=False)
    engine.dispose()
    doc = monitor_doc("live-drift", url, "live", every="2s", checks={"drift": {}})
    return write_config(tmp_path / "monitors.yaml", [doc], {"sweep_every": "1h"})


def _ticks(log: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in TICK.finditer(log)}


@pytest.mark.integration
def test_killing_the_leader_hands_the_monitor_ticks_to_the_other_replica(
    tmp_path: Path, postgres_url: str, replicas: Any
) -> None:
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    env = base_env(postgres_url, tmp_path, MLRESPONDER_MONITORS=_monitor_config(tmp_path))
    a, b = replicas(env, "a"), replicas(env, "b")
    a.wait_ready(), b.wait_ready()
    wait_until(lambda: {a.leader(), b.leader()} == {True, False}, 30, "one leader")
    leader, follower = (a, b) if a.leader() else (b, a)
    assert "leads" in leader.log() and "leads" not in follower.log()

    wait_until(lambda: len(_ticks(leader.log())) >= 2, 60, "two ticks on the leader")

    leader.kill()
    killed = time.monotonic()
    killed_at = utcnow()
    wait_until(lambda: follower.leader(), 30, "the follower to take the lead")
    took_lead = time.monotonic() - killed
    assert took_lead < 15.0, f"took {took_lead:.1f}s"
    assert re.search(r"scheduler: replica \S+ leads", follower.log())

    def tick_after_kill() -> MonitorRun | None:
        with engine.connect() as conn:
            row = conn.execute(sa.select(MonitorRun.__table__).where(
                MonitorRun.started_at > killed_at, MonitorRun.status.in_(("ok", "breach")))
                .order_by(MonitorRun.tick).limit(1)).first()
        return MonitorRun(**dict(row._mapping)) if row else None

    first_tick = wait_until(tick_after_kill, 60, "a monitor tick after the kill")
    assert (first_tick.started_at - killed_at).total_seconds() < 15.0
    # No tick ran twice: each replica attempted only ticks the other did not, and the store agrees.
    time.sleep(3)
    follower.kill()
    before, after = _ticks(leader.log()), _ticks(follower.log())
    assert before and after and not set(before) & set(after), (before, after)
    assert all(status in ("ok", "breach") for status in [*before.values(), *after.values()]), (before, after)
    assert min(after) > max(before)
    with engine.connect() as conn:
        ticks = [r.tick for r in conn.execute(sa.select(MonitorRun.tick).where(MonitorRun.status != "missed"))]
    assert len(ticks) == len(set(ticks)) >= len(before) + len(after)
    engine.dispose()


def _job_scheduled(engine: sa.Engine, prefix: str) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(sa.text("SELECT count(*) FROM apscheduler_jobs WHERE id LIKE :p"),
                                 {"p": prefix + "%"}).scalar())


def _mitigation_status(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(sa.select(Mitigation.status)).scalar()


def _run_status(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(sa.select(RunbookRun.status)).scalar()


def _events(engine: sa.Engine, kind: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(
            sa.select(TimelineEvent.__table__).where(TimelineEvent.kind == kind))]


def _blocked_on_the_log(engine: sa.Engine) -> bool:
    """A session (the leader's verification job) waits for the prediction log the test keeps locked."""
    with engine.connect() as conn:
        return bool(conn.execute(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%preds%'"
        )).scalar())


def _prediction_log(engine: sa.Engine, tmp_path: Path) -> float:
    """History with a bad deploy an hour ago, and recovered measurements after the coming rollback,
    as a table in the PostgreSQL database; returns the deploy's time."""
    import pandas as pd

    now = time.time()
    rows, onset = history("bad_deploy", now)
    path = write_log(tmp_path / "preds.csv", rows + after_mitigation("bad_deploy", now + 60, recovered=True))
    pd.read_csv(path).to_sql("preds", engine, index=False)
    return onset


@pytest.mark.integration
def test_killing_the_leader_mid_verification_hands_the_job_to_the_other_replica(
    tmp_path: Path, postgres_url: str, replicas: Any, mlflow_store: Any
) -> None:
    """The verification job is running on the leader (its read blocked) when the leader is killed:
    the other replica takes the lead, finds the job lost with it and runs it, once, within 15 s."""
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    model = mlflow_store.new_model()
    onset = _prediction_log(engine, tmp_path)
    with engine.begin() as conn:  # the deploy the rollback undoes
        conn.execute(sa.insert(ChangeEvent.__table__).values(
            timestamp=datetime.fromtimestamp(onset, UTC), kind="model_deploy", service=model, description="deploy",
            from_version="1", to_version="2", origin="api", data={}))
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "failover.yaml").write_text(RUNBOOK)
    catalog = write_catalog(tmp_path / "catalog.yaml", catalog_entry(
        "svc-verify", model, f"{postgres_url}?table=preds", auto_approve=("rollback",)))
    env = base_env(postgres_url, tmp_path, MLRESPONDER_RUNBOOKS=str(folder), MLRESPONDER_CATALOG=catalog,
                   MLRESPONDER_MLFLOW_REGISTRY_URI=mlflow_store.uri)
    a, b = replicas(env, "a"), replicas(env, "b")
    a.wait_ready(), b.wait_ready()
    wait_until(lambda: {a.leader(), b.leader()} == {True, False}, 30, "one leader")
    leader, follower = (a, b) if a.leader() else (b, a)

    hold = engine.connect()  # the prediction log stays locked: a verification that reads it waits
    hold.execute(sa.text("LOCK TABLE preds IN ACCESS EXCLUSIVE MODE"))
    try:
        body = alertmanager_body("verify-1", "svc-verify")
        body["alerts"][0]["startsAt"] = datetime.fromtimestamp(onset, UTC).isoformat().replace("+00:00", "Z")
        assert follower.post("/alerts/alertmanager", body).status_code == 201
        wait_until(lambda: _mitigation_status(engine) == "executed", 90, "the rollback")
        assert mlflow_store.serving(model) == "1"
        # The leader starts the verification job (it leaves the store) and blocks reading the log.
        wait_until(lambda: _run_status(engine) == "waiting_verification" and not _job_scheduled(
            engine, "runbooks-verify-") and _blocked_on_the_log(engine), 60, "the leader's verification to run")

        leader.kill()
        killed_at = utcnow()
        wait_until(lambda: follower.leader(), 30, "the follower to take the lead")
    finally:
        hold.rollback()  # the log can be read again
        hold.close()
    wait_until(lambda: _events(engine, "verification"), 60, "the verification on the new leader")
    wait_until(lambda: _run_status(engine) == "completed", 60, "the run to finish")
    [verification] = _events(engine, "verification")
    assert verification["data"]["result"] == "pass", verification
    assert (verification["occurred_at"] - killed_at).total_seconds() < 15.0
    assert [e["data"]["text"] for e in _events(engine, "notify")] == ["verified: pass"]
    assert _mitigation_status(engine) == "verified"
    assert "resuming run(s)" in follower.log()
    follower.kill()
    assert len(_events(engine, "verification")) == 1  # judged once, by the new leader
    engine.dispose()


@pytest.mark.integration
def test_the_lock_passes_to_the_next_replica_when_the_leader_session_ends(postgres_url: str) -> None:
    calls: list[str] = []
    first = Leadership(postgres_url, on_elected=lambda: calls.append("a+"), on_deposed=lambda: calls.append("a-"))
    second = Leadership(postgres_url, on_elected=lambda: calls.append("b+"), on_deposed=lambda: calls.append("b-"))
    try:
        first.step()
        second.step()
        assert (first.leader, second.leader) == (True, False)
        second.step()
        assert not second.leader
        first._close()  # the leader's session ends (its process died, its host vanished)

        def attempt() -> bool:  # the server drops the lock as the session's backend exits
            second.step()
            return second.leader

        wait_until(attempt, 10, "the second replica to take the lock")
        first.step()  # the old leader notices and stops running jobs
        assert not first.leader
        first.step()  # and cannot take the lock back while the new leader holds it
        assert (first.leader, second.leader) == (False, True)
        assert calls == ["a+", "b+", "a-"]
    finally:
        first.stop()
        second.stop()


def test_on_sqlite_the_one_process_always_leads(tmp_path: Path) -> None:
    from bot.api import create_app

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'one.db'}", scheduler_enabled=True,
                        postmortem_dir=str(tmp_path / "pm"), api_token=TOKEN)
    runtime = create_runtime(settings)
    try:
        runtime.start()
        assert runtime.parts[Scheduler].leader
        with TestClient(create_app(runtime), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            assert "mlresponder_scheduler_leader 1.0" in client.get("/metrics").text
    finally:
        runtime.close()
