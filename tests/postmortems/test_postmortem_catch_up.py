"""Resolutions made by another process (a terminal's `incidents resolve`, a replica that died
before drafting) are found in the event log by the scheduler leader's catch-up: each is drafted
once, whichever process gets there first."""

from __future__ import annotations

from pathlib import Path

import pytest
from pm_recorded import model_diagnosis, record_incident, story
from sqlalchemy import func, select

from bot.config import Settings
from bot.db import transaction
from bot.incidents import get_incident, transition
from bot.leader import session_lock
from bot.models import TimelineEvent
from bot.runtime import Runtime
from bot.wiring import create_runtime
from postmortems.worker import LOCK_CLASS, PostmortemWorker


def _move(rt: Runtime, incident_id: int, status: str) -> None:
    """A lifecycle change committed by a process without a postmortem worker (a CLI command)."""
    with transaction(rt.sessions) as session:
        transition(session, get_incident(session, incident_id), status, actor="cli:dana")


def _drafts(rt: Runtime, incident_id: int) -> int:
    with transaction(rt.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(TimelineEvent).where(
            TimelineEvent.incident_id == incident_id, TimelineEvent.kind == "postmortem_drafted")) or 0)


def test_a_resolution_made_elsewhere_is_drafted_once_and_each_later_one_too(store_runtime: Runtime) -> None:
    s = story()
    incident_id = record_incident(store_runtime, s, model_diagnosis(s), resolve=False)
    _move(store_runtime, incident_id, "resolved")  # nobody in this process hears it
    worker = PostmortemWorker(store_runtime)
    try:
        assert worker.catch_up() == [incident_id]
        assert worker.wait(timeout=120)
        assert worker.catch_up() == []  # drafted: the next passes find nothing
        assert _drafts(store_runtime, incident_id) == 1
        with transaction(store_runtime.sessions) as session:
            path = get_incident(session, incident_id).postmortem_path
        assert path and Path(path).exists()

        _move(store_runtime, incident_id, "reopened")
        assert worker.catch_up() == []  # reopened: nothing to draft
        _move(store_runtime, incident_id, "resolved")
        assert worker.catch_up() == [incident_id]  # a new resolution: a new draft
        assert worker.wait(timeout=120)
        assert worker.catch_up() == []
        assert _drafts(store_runtime, incident_id) == 2
    finally:
        worker.stop()


@pytest.mark.integration
def test_across_replicas_a_resolution_is_drafted_once(postgres_url: str, tmp_path: Path) -> None:
    """Replica A resolves (its bus queues the draft) while the leader B catches up; a third session
    holds the incident's draft lock (a replica drafting it): neither drafts; once it lets go, the
    first to look drafts and the other finds it done."""
    settings = Settings(database_url=postgres_url, scheduler_enabled=False,
                        postmortem_dir=str(tmp_path / "postmortems"))
    a = create_runtime(settings, install_parts=False)
    b = create_runtime(settings, install_parts=False, migrate=False)
    worker_a, worker_b = PostmortemWorker(a), PostmortemWorker(b)
    a.bus.subscribe(worker_a.on_events)
    try:
        s = story()
        incident_id = record_incident(a, s, model_diagnosis(s), resolve=False)
        with session_lock(postgres_url, LOCK_CLASS, incident_id, "test-drafting-replica") as held:
            assert held
            _move(a, incident_id, "resolved")  # A's own bus queues its draft
            assert worker_b.catch_up() == [incident_id]
            assert worker_a.wait(timeout=60) and worker_b.wait(timeout=60)
            assert _drafts(a, incident_id) == 0  # both saw the lock held and left it
        assert worker_b.catch_up() == [incident_id]
        assert worker_b.wait(timeout=120)
        worker_a.submit(incident_id)  # A's draft of the same resolution comes late
        assert worker_a.wait(timeout=60)
        assert worker_b.catch_up() == [] and worker_a.catch_up() == []
        assert _drafts(a, incident_id) == 1
    finally:
        worker_a.stop(), worker_b.stop()
        a.close(), b.close()
