"""Group commit for alert intake: one thread routes the deliveries of many requests in one transaction.

A request parses and validates its delivery on the event loop, hands the alerts to the writer
and waits; the writer takes every delivery queued while it committed the previous batch, routes
them in order in one transaction (`bot.intake.ingest_batch`), commits, and only then answers
each request. An acknowledged alert is therefore committed (nothing is lost on SIGKILL after
the 2xx), and each delivery is still stored whole or not at all: when a batch fails, it is
rolled back and its deliveries are routed again one transaction each, so one bad or contended
delivery fails alone. A storm then pays one transaction, one commit (one WAL flush on
PostgreSQL) and one flush of the chat rows per batch instead of per request, and no thread
pool hop or writer-lock queue per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.db import transaction
from bot.foreground import Foreground
from bot.intake import IngestResult, NormalizedAlert, RecentFingerprints, count_resends, ingest, ingest_batch
from bot.runtime import Runtime

log = logging.getLogger(__name__)

INGEST_RETRIES = 5
# Unreachable, dropped mid-request, or every pooled connection busy: answered 503, the sender retries.
STORE_DOWN = (OperationalError, InterfaceError, PoolTimeout)
# Deliveries per transaction at most: a batch holds SQLite's writer (and PostgreSQL's locks) until it commits.
MAX_BATCH = 64
# Writer threads on PostgreSQL: `Settings.intake_writers` (default one; SQLite has one writer anyway).
# More writers overlap round trips, each committing its own batches, the advisory locks ordering them
# as they order replicas; one writer makes larger batches, and on this 2-core machine its lower CPU
# per alert gave the lower tail too (docs/intake.md).
# A writer that wakes to a short queue waits `Settings.intake_linger_ms` for more deliveries to
# route with them (until LINGER_BATCH are queued): at a steady few hundred alerts/s batches would
# otherwise be of one or two, each paying a whole transaction.
LINGER_BATCH = 8


@dataclass
class _Delivery:
    alerts: list[NormalizedAlert]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[IngestResult]
    result: IngestResult | None = None
    error: BaseException | None = None


@dataclass
class IntakeWriter:
    """The one thread of this process that routes alert deliveries (a runtime part: stopped with it)."""

    runtime: Runtime
    max_batch: int = MAX_BATCH
    # Told the deliveries of each transaction committed (the app's batch-size histogram).
    on_commit: Callable[[int], None] | None = None
    _queue: deque[_Delivery] = field(default_factory=deque)
    _ready: threading.Condition = field(default_factory=threading.Condition)
    _threads: list[threading.Thread] = field(default_factory=list)
    _stopping: bool = False

    def __post_init__(self) -> None:
        # Fingerprints routed here lately: their re-sends are counted before anything is routed.
        self.recent = self.runtime.parts.setdefault(RecentFingerprints, RecentFingerprints())
        # Deliveries held here (queued or being routed) keep the process's background work waiting.
        self.foreground = self.runtime.parts.setdefault(Foreground, Foreground())

    async def submit(self, alerts: list[NormalizedAlert]) -> IngestResult:
        """Route one delivery; returns once it is committed (raises what routing raised)."""
        loop = asyncio.get_running_loop()
        delivery = _Delivery(alerts, loop, loop.create_future())
        with self._ready:
            if self._stopping:
                raise RuntimeError("intake writer stopped")
            if not self._threads:
                writers = self.writers()
                self._threads = [threading.Thread(target=self._run, name=f"intake-writer-{i}", daemon=True)
                                 for i in range(writers)]
                for thread in self._threads:
                    thread.start()
            self._queue.append(delivery)
            self.foreground.enter()
            if len(self._queue) in (1, LINGER_BATCH):  # wake a writer; wake the lingering one early
                self._ready.notify()
        return await delivery.future

    def writers(self) -> int:
        """Writer threads: one on SQLite (one writer at a time), else the setting (at least one)."""
        if self.runtime.engine.dialect.name != "postgresql":
            return 1
        return max(1, self.runtime.settings.intake_writers)

    def stop(self) -> None:
        """Route what is queued, then end the thread."""
        with self._ready:
            self._stopping = True
            self._ready.notify_all()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._stopping:
                    self._ready.wait()
                deadline = time.monotonic() + self.runtime.settings.intake_linger_ms / 1000
                while 0 < len(self._queue) < LINGER_BATCH and not self._stopping:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._ready.wait(left)
                if not self._queue:
                    if self._stopping:
                        return
                    continue
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), self.max_batch))]
            try:
                self._route(batch)
            except BaseException as exc:  # never leave a request waiting
                for d in batch:
                    if d.result is None and d.error is None:
                        d.error = exc
            finally:
                self.foreground.leave(len(batch))
                self._answer(batch)

    def _route(self, batch: list[_Delivery]) -> None:
        if len(batch) > 1:
            try:
                with transaction(self.runtime.sessions) as session:
                    results = ingest_batch(session, [d.alerts for d in batch],
                                           group_window_seconds=self.runtime.settings.group_window_seconds,
                                           catalog=self.runtime.catalog, seen=self.recent.__contains__)
            except Exception as exc:
                # One delivery's fault or a contended key: each delivery alone, in its own transaction.
                log.info("intake batch of %d rolled back (%s): routing one by one", len(batch), type(exc).__name__)
            else:
                for d, result in zip(batch, results, strict=True):
                    d.result = result
                    self.recent.add(d.alerts)
                self._committed(len(batch))
                return
        for i, d in enumerate(batch):
            try:
                d.result = self._route_one(d.alerts)
                self.recent.add(d.alerts)
                self._committed(1)
            except STORE_DOWN as exc:
                # The store is unreachable: every delivery left gets the same 503 now, rather than
                # each waiting in turn for a connection that will not come (Alertmanager retries).
                for rest in batch[i:]:
                    rest.error = exc
                return
            except Exception as exc:
                d.error = exc

    def _committed(self, deliveries: int) -> None:
        if self.on_commit is not None:
            self.on_commit(deliveries)

    def _route_one(self, alerts: list[NormalizedAlert]) -> IngestResult:
        # Re-sends only: counted in one Core transaction, without an ORM session.
        tried = self.recent.all_seen(alerts)
        counted = count_resends(self.runtime.engine, alerts) if tried else None
        if counted is not None:
            return counted
        attempt = 0
        while True:
            try:
                with transaction(self.runtime.sessions) as session:
                    return ingest(session, alerts, group_window_seconds=self.runtime.settings.group_window_seconds,
                                  catalog=self.runtime.catalog, count_resends=not tried)
            except IntegrityError:
                # Another replica created the same key first: route again, now seeing its incident.
                attempt += 1
                if attempt == INGEST_RETRIES:
                    raise
                time.sleep(0.01 * attempt)

    @staticmethod
    def _answer(batch: list[_Delivery]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Delivery]] = {}
        for d in batch:
            by_loop.setdefault(d.loop, []).append(d)
        for loop, deliveries in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody is waiting
                loop.call_soon_threadsafe(_settle, deliveries)


def _settle(deliveries: list[_Delivery]) -> None:
    for d in deliveries:
        if d.future.done():  # the request was cancelled (client gone)
            continue
        if d.error is not None:
            d.future.set_exception(d.error)
        else:
            assert d.result is not None
            d.future.set_result(d.result)


def intake_writer(runtime: Runtime) -> IntakeWriter:
    """The runtime's writer, installed on first use."""
    found = runtime.parts.get(IntakeWriter)
    if found is None:
        found = runtime.parts.setdefault(IntakeWriter, IntakeWriter(runtime))
    return found

