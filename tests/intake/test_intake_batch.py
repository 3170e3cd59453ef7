"""Group commit: deliveries routed together in one transaction end as they would one by one.

`bot.intake.ingest_batch` routes a batch without a flush per alert and counts re-sends before
routing the rest; neither may change what the store holds, the answers, the order of the
timeline or the chat rows the events queue. Real stores: SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from intake_support import am_alert, am_payload
from sqlalchemy import event, select

from bot.api.intake_writer import IntakeWriter
from bot.chat.models import OutboxMessage
from bot.config import Settings
from bot.db import transaction
from bot.events import EventNotice
from bot.intake import _lock_ids, ingest, ingest_batch, parse_alertmanager
from bot.models import Alert, Incident, TimelineEvent
from bot.runtime import Runtime
from bot.wiring import create_runtime


@pytest.fixture
def make_runtime(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Any]:
    """Runtimes on fresh stores of the test's backend (the first on ``database_url``)."""
    made: list[Runtime] = []

    def make() -> Runtime:
        url = database_url
        if made:
            url = (f"sqlite:///{tmp_path / f'store{len(made)}.db'}" if database_url.startswith("sqlite")
                   else request.getfixturevalue("postgres_server").new_database())
        runtime = create_runtime(Settings(database_url=url, scheduler_enabled=False,
                                          postmortem_dir=str(tmp_path / "postmortems")))
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


def deliveries() -> list[list[Any]]:
    """A new alert, its re-send, a second alert of the group, the first resolving and firing again."""
    a = am_alert("fp-batch-a", service="batch")
    b = am_alert("fp-batch-b", service="batch")
    bodies = [am_payload(a), am_payload(a), am_payload(b), am_payload(dict(a, status="resolved")), am_payload(a),
              am_payload(b)]
    return [parse_alertmanager(body) for body in bodies]


def state(runtime: Runtime) -> dict[str, Any]:
    with transaction(runtime.sessions) as s:
        alerts = [(r.fingerprint, r.status, r.deliveries, r.incident_id)
                  for r in s.scalars(select(Alert).order_by(Alert.id))]
        events = [(e.incident_id, e.kind, e.message)
                  for e in s.scalars(select(TimelineEvent).order_by(TimelineEvent.id))]
        outbox = [(o.key, o.op, o.event_id is not None)
                  for o in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
    return {"alerts": alerts, "events": events, "outbox": outbox}


def heard(runtime: Runtime) -> list[EventNotice]:
    notices: list[EventNotice] = []
    runtime.bus.subscribe(notices.extend)
    return notices


def test_a_batch_ends_as_its_deliveries_routed_one_by_one(make_runtime: Any) -> None:
    one_by_one = make_runtime()
    notices_one = heard(one_by_one)
    answers_one = []
    for alerts in deliveries() + deliveries():  # the second round finds them stored: re-sends counted
        with transaction(one_by_one.sessions) as s:
            answers_one.append(ingest(s, alerts, group_window_seconds=900))
    expected = state(one_by_one)
    batched = make_runtime()
    notices_batch = heard(batched)
    answers_batch = []
    for _ in range(2):
        with transaction(batched.sessions) as s:
            # Every fingerprint counts as seen: the re-sends of the batch are counted first.
            answers_batch += ingest_batch(s, deliveries(), group_window_seconds=900, seen=lambda _: True)
    assert [a.to_dict() for a in answers_batch] == [a.to_dict() for a in answers_one]
    assert [a.to_dict()["opened"] for a in answers_batch] == [1] + [0] * 11
    got = state(batched)
    assert got["alerts"] == expected["alerts"]
    assert [(e[1], e[2]) for e in got["events"]] == [(e[1], e[2]) for e in expected["events"]]
    assert got["outbox"] == expected["outbox"] and all(has_event for _, _, has_event in got["outbox"])
    # The listeners hear the same events, each with the id of its stored row, once committed.
    def said(notices: list[EventNotice]) -> list[tuple[str, Any]]:
        return [(n.kind, n.data.get("fingerprint")) for n in notices]  # (`ends_at` is the time it was routed)

    assert said(notices_batch) == said(notices_one)
    with transaction(batched.sessions) as s:
        stored = {e.id: e.kind for e in s.scalars(select(TimelineEvent))}
    assert all(stored[n.event_id] == n.kind for n in notices_batch)
    assert [a[1:3] for a in got["alerts"]] == [("firing", 8), ("firing", 4)]  # a: fired, re-sent, resolved, fired again


def test_a_batch_of_another_replicas_resends_reads_the_store_once(make_runtime: Any) -> None:
    """Re-sends this process has not routed (another replica did) are routed in full: a batch of
    them ends as one by one, and reads the keys and the alert rows of all its deliveries in one
    query each, not one per delivery (each a round trip to the store during a storm)."""
    one_by_one = make_runtime()
    answers_one = []
    for alerts in deliveries() + deliveries():
        with transaction(one_by_one.sessions) as s:
            answers_one.append(ingest(s, alerts, group_window_seconds=900).to_dict())
    expected = state(one_by_one)
    batched = make_runtime()
    with transaction(batched.sessions) as s:
        ingest_batch(s, deliveries(), group_window_seconds=900, seen=lambda _: False)
    reads: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and ("FROM dedup_keys" in statement
                                                                 or "FROM alerts" in statement):
            reads.append(statement)

    event.listen(batched.engine, "before_cursor_execute", note)
    try:
        with transaction(batched.sessions) as s:
            answers = ingest_batch(s, deliveries(), group_window_seconds=900, seen=lambda _: False)
    finally:
        event.remove(batched.engine, "before_cursor_execute", note)
    assert [a.to_dict() for a in answers] == answers_one[6:]
    got = state(batched)
    assert got["alerts"] == expected["alerts"]
    assert [(e[1], e[2]) for e in got["events"]] == [(e[1], e[2]) for e in expected["events"]]
    # Six deliveries: the keys once (on PostgreSQL one more read finds which fp keys are stored, see
    # the next test), the latest alert rows once (the resolve of `a` checks whether any alert of the
    # incident still fires: one more).
    assert len([r for r in reads if "dedup_keys.incident_id" in r.split("FROM")[0]]) == 1, reads
    assert len([r for r in reads if "FROM dedup_keys" in r]) <= 2, reads
    assert len([r for r in reads if "FROM alerts" in r]) <= 2, reads


def test_resends_another_replica_routed_are_counted_under_their_fp_keys_only(postgres_url: str,
                                                                             tmp_path: Path) -> None:
    """Two replicas on one PostgreSQL: the second has routed none of the alerts (its recent-fingerprint
    hint is empty), yet a batch of their re-sends is counted as re-sends, locking their fp keys only,
    not their services' and groups' keys (which every batch of those services would wait for)."""
    settings = Settings(database_url=postgres_url, scheduler_enabled=False,
                        postmortem_dir=str(tmp_path / "postmortems"))
    first, second = create_runtime(settings), create_runtime(settings)
    try:
        routed = deliveries()[:3]  # a fires, a again, b fires: both alerts firing in one incident
        with transaction(first.sessions) as s:
            ingest_batch(s, routed, group_window_seconds=900)
        before = state(first)
        locks: list[list[int]] = []

        def note(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
            if "advisory" in statement:
                locks.append(list(params["ids"]))

        event.listen(second.engine, "before_cursor_execute", note)
        try:
            with transaction(second.sessions) as s:
                answers = ingest_batch(s, routed, group_window_seconds=900, seen=lambda _: False)
        finally:
            event.remove(second.engine, "before_cursor_execute", note)
        assert [a.to_dict()["duplicates"] for a in answers] == [1, 1, 1]
        assert locks == [_lock_ids(["fp:fp-batch-a", "fp:fp-batch-b"])]
        after = state(second)
        assert after["events"] == before["events"] and after["outbox"] == before["outbox"]
        assert [(fp, deliveries) for fp, _, deliveries, _ in after["alerts"]] == [("fp-batch-a", 4), ("fp-batch-b", 2)]
    finally:
        first.close()
        second.close()


def test_a_rolled_back_batch_leaves_nothing_and_publishes_nothing(make_runtime: Any) -> None:
    runtime = make_runtime()
    notices = heard(runtime)
    with pytest.raises(RuntimeError), transaction(runtime.sessions) as s:
        ingest_batch(s, deliveries(), group_window_seconds=900)
        raise RuntimeError("the commit never comes")
    assert state(runtime) == {"alerts": [], "events": [], "outbox": []} and notices == []


def test_the_writer_answers_each_delivery_after_its_commit(make_runtime: Any) -> None:
    """Deliveries submitted together are answered each with its own result, all stored; a
    delivery that cannot be routed fails alone (its batch is routed again one by one)."""
    runtime = make_runtime()
    writer = IntakeWriter(runtime)
    good = deliveries()
    # An alert the store refuses once past the parser (a naive timestamp): only its delivery fails.
    bad = [replace(good[0][0], fingerprint="fp-batch-bad", service="bad", group_key="bad",
                   starts_at=datetime(2026, 11, 27, 3, 2))]

    async def submit_all() -> list[Any]:
        return await asyncio.gather(*(writer.submit(d) for d in [*good, bad, good[5]]), return_exceptions=True)

    try:
        answers = asyncio.run(submit_all())
    finally:
        writer.stop()
    assert isinstance(answers[len(good)], Exception)
    # (PostgreSQL may have spent INC-1 on a batch that was rolled back: sequences are not transactional.)
    ref = answers[0].incidents
    assert [dict(a.to_dict(), incidents=["INC-1"] if a.incidents == ref else a.incidents)
            for a in answers[:len(good)]] == [
        {"incidents": ["INC-1"], "opened": 1, "joined": 0, "duplicates": 0, "resolved": 0, "ignored": 0},
        {"incidents": ["INC-1"], "opened": 0, "joined": 0, "duplicates": 1, "resolved": 0, "ignored": 0},
        {"incidents": ["INC-1"], "opened": 0, "joined": 1, "duplicates": 0, "resolved": 0, "ignored": 0},
        {"incidents": ["INC-1"], "opened": 0, "joined": 0, "duplicates": 0, "resolved": 1, "ignored": 0},
        {"incidents": ["INC-1"], "opened": 0, "joined": 0, "duplicates": 1, "resolved": 0, "ignored": 0},
        {"incidents": ["INC-1"], "opened": 0, "joined": 0, "duplicates": 1, "resolved": 0, "ignored": 0},
    ]
    assert answers[-1].to_dict()["duplicates"] == 1
    got = state(runtime)
    assert [a[:3] for a in got["alerts"]] == [("fp-batch-a", "firing", 4), ("fp-batch-b", "firing", 3)]
    assert "fp-batch-bad" not in str(got)



def test_the_sqlite_writer_slot_goes_to_the_longest_waiter() -> None:
    """A thread that releases SQLite's writer slot and asks again at once queues behind the threads
    already waiting (a plain lock let a runbook's transactions starve intake's writer)."""
    import threading
    import time

    from bot.db import _FifoLock

    lock = _FifoLock()
    assert lock.acquire(timeout=1)
    order: list[str] = []

    def waiter() -> None:
        assert lock.acquire(timeout=10)
        order.append("waiter")
        lock.release()

    thread = threading.Thread(target=waiter)
    thread.start()
    while not lock._waiters:
        time.sleep(0.001)
    lock.release()
    assert lock.acquire(timeout=10)  # the releasing thread at once asks again: second in line
    order.append("releaser")
    thread.join()
    assert order == ["waiter", "releaser"]

    timed_out: list[bool] = []
    other = threading.Thread(target=lambda: timed_out.append(lock.acquire(timeout=0.05)))
    other.start()
    other.join()
    assert timed_out == [False] and not lock._waiters  # a wait that gave up leaves no trace
    lock.release()
    assert lock.acquire(timeout=1)
    lock.release()


def test_the_writer_holds_the_foreground_until_it_answers(make_runtime: Any, monkeypatch: Any) -> None:
    """While deliveries wait or are routed, the process's background work (the chat outbox) is
    told to wait (`bot.foreground`); once every one is answered, it is not."""
    import bot.api.intake_writer as writer_module
    from bot.foreground import Foreground

    runtime = make_runtime()
    writer = IntakeWriter(runtime)
    foreground = runtime.parts[Foreground]
    held_while_routing: list[int] = []
    real_batch, real_one = writer_module.ingest_batch, writer_module.ingest

    def batch(*args: Any, **kwargs: Any) -> Any:
        held_while_routing.append(foreground.held)
        return real_batch(*args, **kwargs)

    def one(*args: Any, **kwargs: Any) -> Any:
        held_while_routing.append(foreground.held)
        return real_one(*args, **kwargs)

    monkeypatch.setattr(writer_module, "ingest_batch", batch)
    monkeypatch.setattr(writer_module, "ingest", one)

    async def submit_all() -> list[Any]:
        return await asyncio.gather(*(writer.submit(d) for d in deliveries()))

    try:
        answers = asyncio.run(submit_all())
    finally:
        writer.stop()
    assert len(answers) == 6 and held_while_routing and all(held >= 1 for held in held_while_routing)
    assert foreground.held == 0 and foreground.wait_idle(0)


def test_the_writer_threads_and_linger_come_from_the_settings(make_runtime: Any) -> None:
    """`MLRESPONDER_INTAKE_WRITERS` and `MLRESPONDER_INTAKE_LINGER_MS` set the group commit; one
    writer (no linger) still answers many concurrent deliveries, each after its commit, and
    routes them as one by one: one incident per service, every alert kept."""
    assert (Settings().intake_writers, Settings().intake_linger_ms) == (1, 4)  # the defaults
    assert Settings.from_env({"MLRESPONDER_INTAKE_WRITERS": "3"}).intake_writers == 3
    settings = Settings.from_env({"MLRESPONDER_INTAKE_WRITERS": "1", "MLRESPONDER_INTAKE_LINGER_MS": "0"})
    assert (settings.intake_writers, settings.intake_linger_ms) == (1, 0)
    runtime = make_runtime()
    runtime.settings = replace(runtime.settings, intake_writers=settings.intake_writers,
                               intake_linger_ms=settings.intake_linger_ms)
    writer = IntakeWriter(runtime)
    firing = [parse_alertmanager(am_payload(am_alert(f"fp-one-writer-{i}", service=f"one-writer-{i % 4}"),
                                            group_key=f"one-writer-{i % 4}"))
              for i in range(40)]

    async def submit_all() -> list[Any]:
        first = await asyncio.gather(*(writer.submit(d) for d in firing))
        return first + list(await asyncio.gather(*(writer.submit(d) for d in firing[:10])))

    try:
        answers = asyncio.run(submit_all())
    finally:
        writer.stop()
    assert len(writer._threads) == 1
    assert sum(a.opened for a in answers) == 4 and sum(a.joined for a in answers) == 36
    assert sum(a.duplicates for a in answers[40:]) == 10
    got = state(runtime)
    assert len(got["alerts"]) == 40 and len({a[3] for a in got["alerts"]}) == 4
    assert sorted(a[2] for a in got["alerts"]) == [1] * 30 + [2] * 10


def test_more_writers_serve_postgresql_only(make_runtime: Any) -> None:
    """SQLite has one writer whatever the setting (its transactions take the one write slot)."""
    runtime = make_runtime()
    runtime.settings = replace(runtime.settings, intake_writers=3)
    expected = 3 if runtime.engine.dialect.name == "postgresql" else 1
    assert IntakeWriter(runtime).writers() == expected


def test_each_intake_transaction_is_counted_with_its_deliveries(make_runtime: Any) -> None:
    """/metrics tells how many deliveries each intake transaction committed (the group commit's
    batch size, which sets the CPU an alert costs): every delivery is counted once."""
    from bot.api.intake_writer import intake_writer
    from bot.api.main import create_app

    runtime = make_runtime()
    registry = create_app(runtime).state.metrics.registry
    writer = intake_writer(runtime)

    async def submit_all() -> list[Any]:
        return await asyncio.gather(*(writer.submit(d) for d in deliveries()))

    try:
        asyncio.run(submit_all())
    finally:
        writer.stop()
    transactions = registry.get_sample_value("mlresponder_intake_batch_deliveries_count")
    assert registry.get_sample_value("mlresponder_intake_batch_deliveries_sum") == 6
    assert transactions is not None and 1 <= transactions <= 6


def test_an_alert_joining_an_open_incident_leaves_the_incident_row_alone(make_runtime: Any) -> None:
    """A joined alert writes its alert, key, event and chat rows, not the incident's: a storm's
    transactions no longer update (and row-lock) the same incident row one after the other. An
    alert that moves the incident's start still does, with ``updated_at``."""
    runtime = make_runtime()
    with transaction(runtime.sessions) as s:
        first = ingest_batch(s, [deliveries()[0]], group_window_seconds=900)
    ref = first[0].incidents[0]
    with transaction(runtime.sessions) as s:
        before = s.execute(select(Incident.updated_at, Incident.started_at)).one()
    updates: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE INCIDENTS"):
            updates.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", seen)
    try:
        joining = [parse_alertmanager(am_payload(am_alert(f"fp-join-{i}", service="batch")))
                   for i in range(3)]
        with transaction(runtime.sessions) as s:
            joined = ingest_batch(s, joining, group_window_seconds=900)
        assert [r.to_dict()["joined"] for r in joined] == [1, 1, 1] and {r.incidents[0] for r in joined} == {ref}
        assert updates == []
        earlier = parse_alertmanager(am_payload(am_alert("fp-join-earlier", service="batch",
                                                         starts_at="2026-11-27T02:50:00Z")))
        with transaction(runtime.sessions) as s:
            ingest_batch(s, [earlier], group_window_seconds=900)
        assert len(updates) == 1
    finally:
        event.remove(runtime.engine, "before_cursor_execute", seen)
    with transaction(runtime.sessions) as s:
        after = s.execute(select(Incident.updated_at, Incident.started_at)).one()
        kinds = [e.kind for e in s.scalars(select(TimelineEvent).order_by(TimelineEvent.id))]
    assert after.started_at < before.started_at and after.updated_at > before.updated_at
    assert kinds.count("alert_joined") == 4
