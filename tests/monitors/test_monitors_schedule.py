"""Scheduling across processes: a restart neither loses nor repeats a run; replicas run each tick once.

Real subprocesses with their own APScheduler and the persistent job store. No wall-time
assertions: the tests wait for runs to appear, then check the run history and the alert's
delivery count (a tick run twice would deliver its breach twice).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from mon_helpers import monitor_doc, write_config
from mon_synth import make_log

from bot.db import make_engine, upgrade
from bot.models import Alert
from bot.monitors.models import MonitorRun

HERE = Path(__file__).parent
REPO = HERE.parent.parent


def _source(tmp_path: Path) -> str:
    """Drifted traffic around now: every tick's window breaches, so every run delivers the alert once."""
    url = f"sqlite:///{tmp_path / 'live.db'}"
    engine = sa.create_engine(url)
    # the fault starts 59 minutes ago, so each tick's 1 h window is (almost) all faulty: a unit change
    start = datetime.now(UTC) - timedelta(minutes=119)
    make_log("drift", start=start.replace(microsecond=0), rows_per_minute=20).to_sql("live", engine, index=False)
    engine.dispose()
    return url


def _config(tmp_path: Path, source: str, every: str) -> str:
    doc = monitor_doc("live-drift", source, "live", every=every, checks={"drift": {}})
    return write_config(tmp_path / "monitors.yaml", [doc], {"sweep_every": "1h"})


class Replicas:
    def __init__(self, database_url: str, config: str) -> None:
        self.database_url, self.config = database_url, config
        self.procs: list[subprocess.Popen[bytes]] = []
        self._out: dict[int, str] = {}

    def spawn(self, go_file: Path | None = None) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{REPO}"}
        extra = [str(go_file)] if go_file is not None else []
        proc = subprocess.Popen([sys.executable, str(HERE / "mon_replica.py"), self.database_url, self.config, *extra],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def output(self, proc: subprocess.Popen[bytes]) -> str:
        """What ``proc`` printed (read once it has stopped)."""
        if proc.pid not in self._out:
            self._out[proc.pid] = proc.stdout.read().decode() if proc.stdout else ""
        return self._out[proc.pid]

    def attempts(self) -> list[dict[str, str]]:
        """Per replica: the status of each slot it tried ("breach", "skipped", ...)."""
        out = []
        for proc in self.procs:
            seen = {}
            for line in self.output(proc).splitlines():
                if line.startswith("monitor ") and " tick " in line:
                    head, _, status = line.rpartition(": ")
                    seen[head.rsplit(" tick ", 1)[1]] = status.strip()
            out.append(seen)
        return out

    def next_run(self, proc: subprocess.Popen[bytes], job_id: str) -> datetime:
        """When ``job_id`` was due next in the job store as ``proc`` built its runtime, before its
        scheduler started (a restart that moved a due run on to a later slot would have lost it)."""
        head = f"job {job_id} next run at "
        return next(datetime.fromisoformat(line[len(head):]) for line in self.output(proc).splitlines()
                    if line.startswith(head))

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.kill(proc)


@pytest.fixture
def replicas_factory() -> Iterator[Callable[[str, str], Replicas]]:
    made: list[Replicas] = []

    def make(database_url: str, config: str) -> Replicas:
        made.append(Replicas(database_url, config))
        return made[-1]

    yield make
    for r in made:
        r.close()


def _runs(engine: sa.Engine) -> list[MonitorRun]:
    with engine.connect() as conn:
        return [MonitorRun(**dict(r._mapping)) for r in conn.execute(
            sa.select(MonitorRun.__table__).order_by(MonitorRun.tick))]


def _wait(predicate: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for scheduled runs")


def _finished(engine: sa.Engine, n: int) -> list[MonitorRun] | None:
    runs = [r for r in _runs(engine) if r.status in ("ok", "breach", "error")]
    return runs if len(runs) >= n else None


def _deliveries(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(Alert.deliveries), 0))).scalar() or 0)


def _running(engine: sa.Engine) -> set[datetime]:
    return {r.tick for r in _runs(engine) if r.status == "running"}


def _next_due(engine: sa.Engine, job_id: str) -> datetime:
    """When the job store will run ``job_id`` next (what a restarted scheduler starts from)."""
    with engine.connect() as conn:
        at = conn.execute(sa.text("SELECT next_run_time FROM apscheduler_jobs WHERE id = :id"), {"id": job_id})
        return datetime.fromtimestamp(float(at.scalar_one()), tz=UTC)


def _assert_each_slot_once(
    runs: list[MonitorRun], step: float, interrupted: AbstractSet[datetime] = frozenset(),
    missed: Mapping[datetime, str] | None = None,
) -> None:
    """Every slot on record once and in order: run (breach); cut by a kill and recorded as such;
    (``missed``: slot -> the run it was coalesced into) due while no scheduler ran; or missed
    because the run before it was still running when it came due (runs are never stacked: on a
    busy machine a replica's first run, which imports the diagnostics, can outlast a 5 s slot)."""
    ticks = [r.tick for r in runs]
    history = "\n".join(f"  {r.tick:%H:%M:%S} {r.status} started {r.started_at:%H:%M:%S.%f} finished "
                        f"{r.finished_at and f'{r.finished_at:%H:%M:%S.%f}'} {r.replica} {r.error or ''}" for r in runs)
    assert len(ticks) == len(set(ticks)), history
    gaps = [(b - a).total_seconds() for a, b in zip(ticks, ticks[1:], strict=False)]
    assert gaps and all(g == step for g in gaps), history
    for i, r in enumerate(runs):
        if r.tick in interrupted:
            assert r.status == "missed" and (r.error or "").startswith("interrupted"), history
        elif missed and r.tick in missed:
            assert r.status == "missed" and (r.error or "").endswith(f"coalesced into the run at {missed[r.tick]}"), \
                history
        elif r.status == "missed":
            overran = any(p.status == "breach" and p.finished_at is not None and p.finished_at >= r.tick
                          for p in runs[:i])
            assert overran and "previous run overran" in (r.error or ""), history
        else:
            assert r.status == "breach", history


def test_restart_mid_schedule_neither_loses_nor_repeats_a_run(
    tmp_path: Path, replicas_factory: Callable[[str, str], Replicas]
) -> None:
    """The run that came due while no process was up runs once on restart, as soon as the scheduler
    starts (the job store kept it: its job is not rescheduled to the next slot), and every slot is
    on record once.

    Which slot that catch-up run is recorded under depends on when the restarted scheduler got to
    it: within the slot that came due, it is that slot, run late; on a machine so busy that the
    next slot had begun before the replica was up, it is the current slot, and the one that came
    due is on record as missed, coalesced into it. The test reads which from the run history and
    the job store, never from the clock.
    """
    database_url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(database_url)
    engine = make_engine(database_url)
    step = 5.0
    replicas = replicas_factory(database_url, _config(tmp_path, _source(tmp_path), "5s"))
    first = replicas.spawn()
    # crash between runs, then stay down until the next slot has come due; on a busy machine the
    # kill can still land while a run is under way: that tick must then be on record as interrupted
    _wait(lambda: _finished(engine, 2) and not _running(engine))
    replicas.kill(first)
    at_kill = _runs(engine)
    last_tick = at_kill[-1].tick
    cut = _running(engine)
    # What the store runs next: the slot after the last claimed one, or, if the kill landed after the
    # scheduler had handed that slot to a thread but before the run claimed it, a later one (the
    # slot in between went with the process and must be on record as missed, not silently lost).
    due = _next_due(engine, "monitor:live-drift")
    assert due >= last_tick + timedelta(seconds=step)
    go = tmp_path / "go"
    second = replicas.spawn(go)  # imports now, starts when told
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() + 0.3))
    go.touch()
    _wait(lambda: _finished(engine, len(at_kill) - len(cut) + 3) and not (cut & _running(engine)))
    replicas.close()
    # the restarted replica found the run that came due while it was down still due, and ran it
    assert replicas.next_run(second, "monitor:live-drift") == due
    done = [r for r in _runs(engine) if r.status != "running"]
    runs = [r for r in done if r.tick <= max(r.tick for r in done if r.status == "breach")]
    caught_up = min((r for r in runs if r.status == "breach" and r.tick > last_tick), key=lambda r: r.tick)
    assert caught_up.replica.endswith(f":{second.pid}")
    missed = {r.tick: caught_up.tick.isoformat() for r in runs if last_tick < r.tick < caught_up.tick}
    _assert_each_slot_once(runs, step, interrupted=cut, missed=missed)
    if caught_up.tick == due:
        # the slot that came due while no process was up ran late, once, after the restart
        assert caught_up.started_at - caught_up.tick > timedelta(seconds=0.25)
    else:
        assert caught_up.tick > due and due in missed
    assert _deliveries(engine) == sum(r.status == "breach" for r in runs)
    engine.dispose()


@pytest.mark.integration
def test_two_replicas_on_postgres_run_each_tick_once(
    tmp_path: Path, postgres_url: str, replicas_factory: Callable[[str, str], Replicas]
) -> None:
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    replicas = replicas_factory(postgres_url, _config(tmp_path, _source(tmp_path), "2s"))
    replicas.spawn()
    replicas.spawn()
    _wait(lambda: _finished(engine, 7), timeout=90)
    replicas.close()
    runs = [r for r in _runs(engine) if r.status != "running"]
    _assert_each_slot_once(runs, 2.0)
    assert _deliveries(engine) == len(runs)
    # Where both schedulers fired for the same slot, the database let exactly one of them run it.
    # Whether they collide at all depends on timing (they share APScheduler's job store, and the one
    # that wakes first usually moves the job on), so the race itself is forced in the slot-race test.
    first, second = replicas.attempts()
    contested = set(first) & set(second)
    for tick in contested:
        assert sorted([first[tick], second[tick]]) == ["breach", "skipped"], (tick, first[tick], second[tick])
    engine.dispose()


def test_a_run_longer_than_its_interval_is_not_stacked(tmp_path: Path) -> None:
    from bot.config import Settings
    from bot.wiring import create_runtime

    source = _source(tmp_path)
    # every query of this source burns CPU first, so one run lasts several 1 s intervals
    slow = ("SELECT * FROM live WHERE (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
            "WHERE x < 400000) SELECT count(*) FROM c) > 0")
    doc = monitor_doc("slow", source, "live", every="1s", checks={"drift": {}})
    doc["source"] = {"url": source, "query": slow}
    config = write_config(tmp_path / "slow.yaml", [doc], {"sweep_every": "1h"})
    database_url = f"sqlite:///{tmp_path / 'store.db'}"
    runtime = create_runtime(Settings(database_url=database_url, monitors=config, scheduler_enabled=True))
    engine = make_engine(database_url)
    try:
        runtime.start()
        _wait(lambda: _finished(engine, 3), timeout=120)
    finally:
        runtime.close()
    runs = [r for r in _runs(engine) if r.status in ("breach", "ok", "error")]
    spans = sorted((r.started_at, r.finished_at) for r in runs if r.finished_at is not None)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False)), spans
    assert all(r.status == "breach" for r in runs)
    # every slot from the first run to the last is on record exactly once: run, or missed (overrun)
    every = [r for r in _runs(engine) if r.status != "running" and runs[0].tick <= r.tick <= runs[-1].tick]
    ticks = [r.tick for r in every]
    assert ticks == [runs[0].tick + timedelta(seconds=i) for i in range(len(ticks))]
    assert {r.status for r in every} <= {"breach", "missed"}
    engine.dispose()


def test_a_tick_cut_by_its_replicas_death_is_recorded_as_interrupted(tmp_path: Path) -> None:
    """A scheduled tick another replica left running (it led, then died mid-run) is settled by the
    next scheduled run: recorded as interrupted, never left running; manual runs and this
    replica's own runs are not touched."""
    from bot.config import Settings
    from bot.db import transaction
    from bot.monitors.runner import MonitorService, tick_for
    from bot.wiring import create_runtime

    config = _config(tmp_path, _source(tmp_path), "1m")
    runtime = create_runtime(Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}", monitors=config))
    try:
        service = runtime.parts[MonitorService]
        spec = service.spec("live-drift")
        now = tick_for(spec.schedule, datetime.now(UTC))
        cut, manual = now - timedelta(minutes=2), now - timedelta(minutes=3)
        with transaction(runtime.sessions) as s:
            for tick, trigger, replica in ((cut, "schedule", "gone-host:41"), (manual, "manual", "gone-host:42")):
                s.add(MonitorRun(monitor=spec.name, tick=tick, trigger=trigger, status="running", replica=replica,
                                 started_at=tick, metrics={}, firing=[], incidents=[]))
        outcome = service.run(spec.name, now=now, tick=now, trigger="schedule")
        assert outcome.status == "breach"
        with transaction(runtime.sessions) as s:
            rows = {r.tick: r for r in s.scalars(sa.select(MonitorRun))}
            assert rows[cut].status == "missed" and rows[cut].finished_at is not None
            assert (rows[cut].error or "").startswith("interrupted: the replica running this tick stopped")
            assert rows[manual].status == "running"  # a person's run on another replica: not ours to judge
            assert rows[now].status == "breach"
            assert rows[now - timedelta(minutes=1)].status == "missed"  # the slot nobody ran, as before
    finally:
        runtime.close()
