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
from scale_support import TOKEN, base_env, wait_until

from bot.config import Settings
from bot.db import make_engine, upgrade, utcnow
from bot.leader import Leadership
from bot.models import Mitigation, TimelineEvent
from bot.monitors.models import MonitorRun
from bot.scheduler import Scheduler
from bot.wiring import create_runtime
from runbooks.models import RunbookRun

RUNBOOK = """
name: failover
match: {{alertname: FailoverAlert}}
steps:
  - mitigate: {{action: rollback, target: "{model}", approval: auto}}
  - verify:
      log: "{log}"
      metric: accuracy
      after: 8s
      retries: 3
      expect: {{better: higher, measurements: 10}}
  - notify: {{message: "verified: {{{{ verification.result }}}}"}}
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
