"""Resuming interrupted mitigations across replicas: a live replica's mitigation is never touched;
one whose replica died is settled exactly once, by the scheduler leader.

Real `mlresponder serve` processes on one PostgreSQL, and a serving platform (a local HTTP server)
that holds the mitigation's call open for as long as the test wants, so the mitigation stays
``executing`` on the replica that runs it.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rb_support import catalog_entry, write_catalog
from scale_support import alertmanager_body, base_env, wait_until

from bot.db import make_engine, upgrade
from bot.models import Mitigation, TimelineEvent
from runbooks.engine import RESUME_JOB
from runbooks.models import RunbookRun

SERVICE = "svc-slow"
RUNBOOK = """
name: slow-switch
match: {alertname: PredictionLatencyHigh}
steps:
  - mitigate:
      action: http
      target: "{{ service.model.registry }}"
      approval: auto
      params: {url: "%(url)s/switch", retries: 0, timeout: 300s}
  - notify: {message: "switched"}
"""


class HeldPlatform:
    """Answers each call to a held path only once released (the others at once); records every call."""

    def __init__(self, hold: tuple[str, ...] = ("/switch",)) -> None:
        self.calls: list[str] = []
        self.hold = hold
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.calls.append(self.path)
                if self.path in outer.hold:
                    outer.release.wait(600)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:  # the caller died meanwhile
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def platform() -> Any:
    held = HeldPlatform()
    yield held
    held.close()


def _env(postgres_url: str, tmp_path: Path, platform: HeldPlatform, runbook: str = RUNBOOK) -> dict[str, str]:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "slow.yaml").write_text(runbook % {"url": platform.url})
    catalog = write_catalog(tmp_path / "catalog.yaml", catalog_entry(SERVICE, "slow-model", auto_approve=("http",)))
    return base_env(postgres_url, tmp_path, MLRESPONDER_RUNBOOKS=str(folder), MLRESPONDER_CATALOG=catalog,
                    MLRESPONDER_EGRESS_ALLOW="127.0.0.1")


class Store:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)

    def mitigations(self) -> list[tuple[int, str]]:
        with self.engine.connect() as conn:
            return [(r.id, r.status) for r in conn.execute(sa.select(Mitigation.id, Mitigation.status))]

    def events(self, kind: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r.data or {}) for r in conn.execute(
                sa.select(TimelineEvent.data).where(TimelineEvent.kind == kind))]

    def timeline(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        with self.engine.connect() as conn:
            return [(r.message, dict(r.data or {})) for r in conn.execute(
                sa.select(TimelineEvent.message, TimelineEvent.data).where(TimelineEvent.kind == kind))]

    def run_status(self) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(RunbookRun.status)).scalar()

    def resume_due(self) -> float:
        """When the leader's resumption job runs next (it moves on each time the job is started)."""
        with self.engine.connect() as conn:
            value = conn.execute(sa.text("SELECT next_run_time FROM apscheduler_jobs WHERE id = :id"),
                                 {"id": RESUME_JOB}).scalar()
        return float(value or 0.0)

    def wait_for_sweeps(self, n: int, what: str) -> None:
        """Until the leader has started its resumption job ``n`` more times."""
        seen = [self.resume_due()]

        def moved() -> bool:
            due = self.resume_due()
            if due > seen[-1]:
                seen.append(due)
            return len(seen) > n

        wait_until(moved, 60, what)


@pytest.mark.integration
def test_a_live_replicas_mitigation_is_left_alone_and_a_dead_ones_settled_once(
    tmp_path: Path, postgres_url: str, replicas: Any, platform: HeldPlatform
) -> None:
    upgrade(postgres_url)
    store = Store(postgres_url)
    env = _env(postgres_url, tmp_path, platform)
    a, b = replicas(env, "a"), replicas(env, "b")
    a.wait_ready(), b.wait_ready()
    wait_until(lambda: {a.leader(), b.leader()} == {True, False}, 30, "one leader")
    leader, executor = (a, b) if a.leader() else (b, a)

    # The follower opens the incident, so its runbook runs there and it executes the mitigation.
    assert executor.post("/alerts/alertmanager", alertmanager_body("slow-1", SERVICE)).status_code == 201
    wait_until(lambda: platform.calls, 90, "the mitigation's call to reach the platform")
    [(mitigation_id, status)] = store.mitigations()
    assert status == "executing"

    # The leader resumes periodically while the other replica executes: it must leave it alone.
    store.wait_for_sweeps(2, "two resumption passes of the leader")
    assert store.mitigations() == [(mitigation_id, "executing")]

    # A replica starting meanwhile (the old leader's replacement) leaves it alone too.
    leader.kill()
    newcomer = replicas(env, "c").wait_ready()
    wait_until(lambda: executor.leader(), 30, "the executing replica to take the lead")
    assert newcomer.leader() is False
    store.wait_for_sweeps(2, "two resumption passes while the mitigation executes")
    assert store.mitigations() == [(mitigation_id, "executing")]
    assert store.events("mitigation_failed") == [] and store.events("mitigation_executed") == []
    assert "settling it" not in newcomer.log() + executor.log()

    # The executing replica dies mid-call: the survivor leads and settles the mitigation, once.
    executor.kill()
    wait_until(lambda: newcomer.leader(), 30, "the survivor to take the lead")
    wait_until(lambda: store.mitigations() == [(mitigation_id, "failed")], 60, "the survivor to settle it")
    store.wait_for_sweeps(3, "three more resumption passes")
    failed = store.events("mitigation_failed")
    assert [(e["mitigation_id"], e["during"]) for e in failed] == [(mitigation_id, "restart")]
    assert "outcome cannot be observed" in failed[0]["error"]
    assert store.events("mitigation_executed") == []
    assert platform.calls == ["/switch"]  # never called again
    assert newcomer.log().count(f"mitigation {mitigation_id} was left executing") == 1
    # The run the dead replica was advancing is picked up and stops at the failed mitigation.
    wait_until(lambda: store.run_status() == "failed", 60, "the interrupted run to be continued")
    store.engine.dispose()


def _leader_and_other(a: Any, b: Any) -> tuple[Any, Any]:
    wait_until(lambda: {a.leader(), b.leader()} == {True, False}, 30, "one leader")
    return (a, b) if a.leader() else (b, a)


@pytest.mark.integration
def test_a_late_success_cannot_overwrite_the_failure_settled_after_its_lock_was_lost(
    tmp_path: Path, postgres_url: str, replicas: Any, platform: HeldPlatform
) -> None:
    """Fencing: the executing replica's lock session is cut while the replica keeps running; the
    leader settles the mitigation as failed; the executor's success arriving afterwards is refused
    and shown on the timeline, never applied."""
    upgrade(postgres_url)
    store = Store(postgres_url)
    env = _env(postgres_url, tmp_path, platform)
    a, b = replicas(env, "a"), replicas(env, "b")
    a.wait_ready(), b.wait_ready()
    leader, executor = _leader_and_other(a, b)
    assert executor.post("/alerts/alertmanager", alertmanager_body("fence-1", SERVICE)).status_code == 201
    wait_until(lambda: platform.calls, 90, "the mitigation's call to reach the platform")
    [(mitigation_id, status)] = store.mitigations()
    assert status == "executing"

    # The executor's lock session dies (as with a network cut), the executor itself lives on.
    with store.engine.connect() as conn:
        cut = conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE application_name = 'mlresponder-mitigation'")).scalars().all()
    assert cut == [True]
    wait_until(lambda: store.mitigations() == [(mitigation_id, "failed")], 60, "the leader to settle it")
    assert executor.proc.poll() is None

    platform.release.set()  # the call returns: the executor reports its (late) success
    wait_until(lambda: store.events("mitigation_stale"), 60, "the late outcome to be refused")
    [(message, stale)] = store.timeline("mitigation_stale")
    assert (stale["mitigation_id"], stale["claim"], stale["outcome"], stale["status"]) == (
        mitigation_id, "executing", "success", "failed")
    assert "refused" in message and "the record stands" in message
    store.wait_for_sweeps(2, "two more resumption passes")
    assert store.mitigations() == [(mitigation_id, "failed")]
    assert store.events("mitigation_executed") == []
    assert [e["during"] for e in store.events("mitigation_failed")] == ["restart"]
    assert platform.calls == ["/switch"]
    assert f"late outcome of mitigation {mitigation_id}" in executor.log()
    store.engine.dispose()


REVERTIBLE = """
name: switch-and-back
match: {alertname: PredictionLatencyHigh}
steps:
  - mitigate:
      action: http
      target: "{{ service.model.registry }}"
      approval: auto
      params:
        url: "%(url)s/switch"
        retries: 0
        revert: {url: "%(url)s/revert", retries: 0, timeout: 300s}
  - notify: {message: "switched"}
"""


@pytest.mark.integration
def test_a_revert_whose_process_died_is_settled_once_by_the_leader(
    tmp_path: Path, postgres_url: str, replicas: Any
) -> None:
    """`mlresponder mitigation revert` killed mid-call leaves the mitigation `reverting`: left alone
    while the command lives, settled once by the scheduler leader after it dies, never called again."""
    platform = HeldPlatform(hold=("/revert",))
    try:
        upgrade(postgres_url)
        store = Store(postgres_url)
        env = _env(postgres_url, tmp_path, platform, REVERTIBLE)
        a, b = replicas(env, "a"), replicas(env, "b")
        a.wait_ready(), b.wait_ready()
        leader, other = _leader_and_other(a, b)
        assert other.post("/alerts/alertmanager", alertmanager_body("rev-1", SERVICE)).status_code == 201
        wait_until(lambda: store.run_status() == "completed", 90, "the runbook to execute the mitigation")
        [(mitigation_id, status)] = store.mitigations()
        assert status == "executed"

        cli_log = (tmp_path / "cli.log").open("wb")
        cli = subprocess.Popen([sys.executable, "-m", "bot.cli", "mitigation", "revert", str(mitigation_id),
                                "--actor", "carol"], env=env, cwd=tmp_path, stdout=cli_log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: "/revert" in platform.calls, 90, "the revert's call to reach the platform")
            assert store.mitigations() == [(mitigation_id, "reverting")]
            store.wait_for_sweeps(2, "two resumption passes while the command reverts")
            assert store.mitigations() == [(mitigation_id, "reverting")]  # a live process's revert: left alone
        finally:
            cli.kill()
            cli.wait(30)
            cli_log.close()
        wait_until(lambda: store.mitigations() == [(mitigation_id, "executed")], 60, "the leader to settle it")
        store.wait_for_sweeps(3, "three more resumption passes")
        [failed] = store.events("mitigation_failed")
        assert failed["during"] == "revert" and "outcome cannot be observed" in failed["error"]
        assert [e for e in store.events("escalation") if e.get("offer_revert")]
        assert store.events("mitigation_reverted") == [] and store.events("mitigation_stale") == []
        assert platform.calls == ["/switch", "/revert"]  # the revert is never called again
        assert leader.log().count(f"mitigation {mitigation_id} was left reverting") == 1
        store.engine.dispose()
    finally:
        platform.close()


@pytest.mark.integration
def test_a_busy_replicas_run_keeps_its_lease_and_a_dead_hosts_run_is_taken_over_within_15s(
    tmp_path: Path, postgres_url: str, replicas: Any, platform: HeldPlatform
) -> None:
    """Replicas on two hosts: the run a replica advances keeps its short lease by heartbeat for as
    long as a step takes (no takeover of a live, busy replica), and when that replica dies the
    leader continues the run within 15 s (the lease lapses; no process id can tell it is dead)."""
    from runbooks.executor import LEASE_SECONDS

    upgrade(postgres_url)
    store = Store(postgres_url)
    env = _env(postgres_url, tmp_path, platform)
    a, b = replicas(env, "a", host="host-a"), replicas(env, "b", host="host-b")
    a.wait_ready(), b.wait_ready()
    leader, executor = _leader_and_other(a, b)
    executor_host = "host-a" if executor is a else "host-b"
    assert executor.post("/alerts/alertmanager", alertmanager_body("lease-1", SERVICE)).status_code == 201
    wait_until(lambda: platform.calls, 90, "the mitigation's call to reach the platform")

    def lease() -> tuple[str | None, Any, Any]:
        with store.engine.connect() as conn:
            row = conn.execute(sa.select(RunbookRun.lease_owner, RunbookRun.lease_until, sa.func.now())).one()
        return row[0], row[1], row[2]

    owner, first_until, _ = lease()
    assert owner is not None and owner.startswith(f"{executor_host}:")
    # The step lasts several leases: the heartbeat keeps it, and the leader's passes leave the run alone.
    store.wait_for_sweeps(int(3 * LEASE_SECONDS / 5) + 1, "resumption passes over three lease lengths")
    owner_now, until, db_now = lease()
    assert owner_now == owner and until > db_now and until > first_until
    assert store.run_status() == "running" and "resuming run" not in leader.log()
    assert store.mitigations()[0][1] == "executing"

    executor.kill()
    killed_at = datetime.now(UTC)
    wait_until(lambda: store.run_status() == "failed", 60, "the leader to continue the dead replica's run")
    with store.engine.connect() as conn:
        continued = conn.execute(sa.select(RunbookRun.finished_at)).scalar()
    took = (continued - killed_at).total_seconds()
    assert took < 15.0, f"took {took:.1f}s"
    assert leader.log().count("runbooks: resuming run(s)") == 1
    assert platform.calls == ["/switch"]
    # APScheduler's per-run lines are quiet on the leader (its 5 s resumption job ran a dozen times).
    assert "executed successfully" not in leader.log() and "Running job" not in leader.log()
    store.engine.dispose()
